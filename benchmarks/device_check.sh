#!/usr/bin/env bash
# One prepared run on a lent GPU machine (torch preinstalled there, no Hydra needed):
# precision of the GPU trainer preset, then the full benchmark with its README.
# Writes into $OUT (the device tool's output folder).
export PYTHONPATH=. PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
timeout 40 python3 -m benchmarks.precision | tee "$OUT/precision.md"
timeout 230 python3 -m benchmarks --json "$OUT/bench_gpu.json" --readme "$OUT/README.md"
