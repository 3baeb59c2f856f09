#!/usr/bin/env bash
# Records the stage hashes of every recipe (and variants) as JSON lines: the fixture of
# Tests/StagesTests/RecordedPlanTests.swift. Run it with the build of a commit whose hashes are
# the reference (scripts/record_plans.sh .build/release/sbcl-run > Tests/StagesTests/Fixtures/recorded_plans.jsonl).
B=${1:-.build/release/sbcl-run}
cases=(
 "recipes/smoke.yaml"
 "recipes/fashion_mnist_lt.yaml"
 "recipes/cifar10_lt.yaml"
 "recipes/cifar100_lt.yaml"
 "recipes/imagenet_lt.yaml"
 "recipes/imagenet_lt_smoke.yaml"
 "recipes/smoke.yaml stages.loss.variant=ccl"
 "recipes/smoke.yaml stages.loss.variant=supcon"
 "recipes/smoke.yaml stages.loss.variant=ce stages.loss.temperature=0.2"
 "recipes/smoke.yaml stages.classifier.method=cb"
 "recipes/smoke.yaml stages.classifier.method=ce stages.classifier.schedule=cosine"
 "recipes/smoke.yaml stages.clusters.method=balanced stages.clusters.temperature_mode=constant"
 "recipes/smoke.yaml stages.encoder.sync_batchnorm=true"
 "recipes/smoke.yaml stages.views.crop=random_crop stages.views.normalize=none"
 "recipes/smoke.yaml stages.lt.profile=step stages.lt.factor=0.1"
 "recipes/imagenet_lt_smoke.yaml stages.loss.variant=ccl"
 "recipes/imagenet_lt.yaml stages.encoder.batch_norm_groups=1"
)
for c in "${cases[@]}"; do
  set -- $c
  recipe=$1; shift
  for ranks in 1 2; do
    json=$($B plan "$recipe" "$@" --ranks $ranks --json 2>/dev/null) || { echo "FAILED: $c" >&2; continue; }
    python3 - "$c" "$ranks" "$json" <<'PY'
import json,sys
case, ranks, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
plan = json.loads(text)
print(json.dumps({"args": case.split(), "ranks": ranks,
                  "hashes": {s["name"]: s["hash"] for s in plan["stages"]}}, sort_keys=True))
PY
  done
done
# the embedded default recipe
json=$($B plan --json 2>/dev/null) && python3 -c '
import json,sys; plan=json.loads(sys.stdin.read()); print(json.dumps({"args": [], "ranks": 1, "hashes": {s["name"]: s["hash"] for s in plan["stages"]}}, sort_keys=True))' <<<"$json"
