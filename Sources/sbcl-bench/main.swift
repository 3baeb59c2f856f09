import Engine
print("sbcl-bench: not yet wired")
