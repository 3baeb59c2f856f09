import Engine
print("sbcl-run: not yet wired")
