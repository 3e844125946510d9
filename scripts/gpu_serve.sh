#!/usr/bin/env bash
# Issue 12's GPU figures in one call on the lent machine: the CUDA-graph tests, bench/serve_speed.py
# (generator and end-to-end faces/s, fp32/bf16, graphs/eager, batch 1/64/1024, bf16 and graph fidelity)
# and bench/bot_load.py (the real bot on the GPU against the fake Discord, then 1, 2, 4 and 8 bot
# processes with a shard each), for each backend in $BACKENDS. Prepared here first with
#   SECONDS_EACH=0.3 N=40 bash scripts/gpu_serve.sh
# The device has no discord.py, simplejpeg, pytest or Ray: download the cp312 wheels of the first three
# into the ignored .whl/ (see /work/.library/device/README.md), build .whl/ray-site-cp312.tar.xz with
# scripts/ray_site.sh, and carry .whl. Each result is printed and, if $OUT is set, saved there (Ray's
# and the rest of the chatter in stderr.txt).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_serve}
SECONDS_EACH=${SECONDS_EACH:-2}
N=${N:-200}
BACKENDS=${BACKENDS:-local ray}
TESTS=${TESTS:-1}  # 0: skip the CUDA-graph tests
mkdir -p "$OUT"
if ! python -c "import discord, pytest, simplejpeg" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
  export PYTHONPATH=/tmp/site
fi
if [[ " $BACKENDS " == *" ray "* ]] && ! python -c "import ray.serve" 2>/dev/null; then
  mkdir -p /tmp/site && xz -dc .whl/ray-site-cp312.tar.xz | tar -C /tmp/site -xf - || exit
  export PYTHONPATH=/tmp/site RAY_USAGE_STATS_ENABLED=0
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1
if [[ "$TESTS" == 1 ]]; then
  python -m pytest -q -p no:cacheprovider tests/test_faces.py tests/test_style.py -k "cuda or bf16" 2>&1 | tee "$OUT/pytest.txt"
fi
# shellcheck disable=SC2086
python bench/serve_speed.py --backends $BACKENDS --seconds "$SECONDS_EACH" 2>>"$OUT/stderr.txt" | tee "$OUT/serve_speed.txt"
for backend in $BACKENDS; do
  {
    python bench/bot_load.py --backend "$backend" --replicas 1 --n "$N" --no-unbatched --repeat 3
    # shards across processes, each drawing on the one GPU (local) or sharing its one replica (ray); one
    # torch thread each for its CPU-side upscale
    for p in 1 2 4 8; do
      OMP_NUM_THREADS=1 python bench/bot_load.py --backend "$backend" --replicas 1 --n "$((5 * N))" --batch-cap 64 \
        --no-unbatched --processes $p
    done
  } 2>>"$OUT/stderr.txt" | tee "$OUT/bot_load_$backend.txt"
done
