#!/usr/bin/env bash
# One prepared run on a lent GPU machine for the cpu track's code paths (issue: cpu track, third
# edition): the CUDA tests, a trainer=gpu smoke run of every model that each new task's sweep
# races, and the track's training step per model on the GPU (benchmarks/track_step.py --device cuda).
# The machine has torch and Lightning but not Hydra, pydantic or datasets: carry them as wheels
# in .whl (benchmarks/README.md, "The track's step on a GPU"). Writes into $OUT (the device tool's folder).
set -u
export PYTHONUNBUFFERED=1 HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/track_gpu.txt"
python3 -c "import torch, lightning, hydra; print('torch', torch.__version__, 'lightning', lightning.__version__, 'hydra', hydra.__version__)" | tee -a "$OUT/track_gpu.txt"

echo "== CUDA tests" | tee -a "$OUT/track_gpu.txt"
# (~2 min with a cold compile cache; only the summary line and failures are kept)
timeout 200 python3 -m pytest -q -p no:cacheprovider -W ignore tests/test_scan.py::test_cuda_matches_reference \
  tests/test_configs.py::test_every_other_group_option_composes_and_builds tests/test_gpu.py 2>&1 \
  | grep -E "passed|failed|error|^FAILED|^ERROR" | tee -a "$OUT/track_gpu.txt"
echo "pytest exit ${PIPESTATUS[0]} (124: timed out)" | tee -a "$OUT/track_gpu.txt"

echo "== smoke: every model, trainer=gpu debug=fast, on the new tasks" | tee -a "$OUT/track_gpu.txt"
for task in mqar word_problem; do
  models=$(python3 -c "from benchmarks.track_step import track_models; print(','.join(track_models('$task')))")
  timeout 110 python3 train.py -m task=$task trainer=gpu debug=fast hydra/launcher=basic results_dir=/tmp/smoke \
    model=$models > "/tmp/smoke_$task.log" 2>&1
  echo "$task: exit $?" | tee -a "$OUT/track_gpu.txt"
  cp "/tmp/smoke_$task.log" "$OUT/"
done
python3 - <<'EOF' | tee -a "$OUT/track_gpu.txt"
import json, pathlib
for f in sorted(pathlib.Path("/tmp/smoke").rglob("*.json")):
    r = json.loads(f.read_text())
    if "run_id" in r:
        print(r["task"]["name"], r["model"]["name"], r["status"], r.get("outcome"), r["cost"]["device"], r["steps"])
EOF

echo "== track step on the GPU" | tee -a "$OUT/track_gpu.txt"
for point in "copy ++task.delay=64" "mqar ++task.n_pairs=8" "word_problem ++task.group=S3 ++task.seq_len=64"; do
  set -- $point
  timeout 60 python3 -m benchmarks.track_step --device cuda --steps 10 --sweep "$@" 2>&1 | grep -v Warning | tail -12 | tee -a "$OUT/track_gpu.txt"
done
