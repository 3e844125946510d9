#!/usr/bin/env bash
# Generator v2 recipe search on the lent GPU: several recipes x two training seeds, side by side in
# one call, then train.evaluate on each snapshot. Prepared and run here on tiny settings first:
#   MINUTES=0.05 LIMIT=256 EVAL_N=200 SNAPSHOTS="1 2" bash scripts/recipe_search.sh
# On the device (copy the celeba64 pack into the ignored .data/, not a link, and carry .data):
#   MINUTES=4 SNAPSHOTS="60 120 180 240" bash scripts/recipe_search.sh
# Writes runs/search/<recipe>-s<seed>/ (fp16 snapshots, metrics, config, eval) and, under $OUT if set,
# summary.tsv (run, snapshot, Frechet distance, real-data floor) and every log in one archive; copy the
# snapshots worth keeping to $OUT in the same call (16 MiB each, 8 files).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-4}
LIMIT=${LIMIT:-}
EVAL_N=${EVAL_N:-10000}
SNAPSHOTS=${SNAPSHOTS:-60 120 180 240}
DATA=${DATA:-.data}
DEVICE=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
declare -A RECIPES=(
  [style-r1-1]="--arch style --ngf 192 --r1 1 --beta1 0 --lr 2e-3 --augment color,translation --ema 0.999"
  [style-r1-10]="--arch style --ngf 192 --r1 10 --beta1 0 --lr 2e-3 --augment color,translation --ema 0.999"
  [dcgan]="--arch dcgan --augment translation"
)
mkdir -p runs/search
extra=()
[ -n "$LIMIT" ] && extra+=(--limit "$LIMIT" --batch 16 --ngf 16 --ndf 8 --log-every 2)
for name in "${!RECIPES[@]}"; do
  for seed in 0 1; do
    run=runs/search/$name-s$seed
    rm -rf "$run"
    # shellcheck disable=SC2086
    python -m train.gan --data "$DATA" --out "$run" --minutes "$MINUTES" --seed "$seed" --device "$DEVICE" \
      --snapshot-seconds $SNAPSHOTS ${RECIPES[$name]} "${extra[@]}" > "$run.log" 2>&1 &
  done
done
wait
for run in runs/search/*/; do  # side by side too: the lent GPU's minutes are the scarce thing
  python -m train.evaluate "$run"*.safetensors --data "$DATA" --n "$EVAL_N" --device "$DEVICE" \
    --out "$run/eval.jsonl" > "${run%/}.eval.log" 2>&1 &
done
wait
python - <<'PY'
import json, pathlib
rows = []
for run in sorted(pathlib.Path("runs/search").iterdir()):
    if run.is_dir() and (run / "eval.jsonl").exists():
        for line in (run / "eval.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows.append((run.name, pathlib.Path(r["model"]).name, r["frechet_distance"], r["real_floor"]))
for row in rows:
    print(*row, sep="\t")
pathlib.Path("runs/search/summary.tsv").write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
PY
if [ -n "${OUT:-}" ]; then
  tar czf "$OUT/search_logs.tgz" runs/search/summary.tsv runs/search/*/metrics.jsonl runs/search/*/eval.jsonl \
    runs/search/*/config.json runs/search/*.log
  cp runs/search/summary.tsv "$OUT/"
fi
