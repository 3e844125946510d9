#!/usr/bin/env bash
# Generator v2 recipe search on the lent GPU, in one call: a short probe of each chosen recipe alone
# (img/s, and losses that must stay near 1), then both training seeds of each side by side, then
# train.evaluate (Frechet distance, precision, recall) on every snapshot. Prepared and run here on
# tiny settings first:
#   MINUTES=0.05 PROBE=0.02 LIMIT=256 EVAL_N=200 SNAPSHOTS="1 2" bash scripts/recipe_search.sh
# On the device (copy the celeba64 pack into the ignored .data/, not a link, and carry .data; its
# python is /opt/torch/.venv/bin, put it first on PATH):
#   bash scripts/recipe_search.sh 2>&1 | tee $OUT/run.log  (RECIPES="style-r1 dcgan" for others)
# The GPU time-slices separate processes (docs/training/README.md): runs side by side share what one
# run would get, so choose few recipes and give them the minutes.
# Writes runs/search/<recipe>-s<seed>/ (fp16 snapshots, metrics, config, samples), runs/search/probe/
# and, under $OUT if set: probe.tsv, summary.tsv (run, snapshot, Frechet distance, precision, recall
# and the real faces' own), the logs, metrics and last sample grids in one archive, and both seeds'
# best snapshots of the two best recipes (the device returns 8 files).
set -uo pipefail  # not -e: one run that fails must not cost the others their evaluation
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-5}  # with the probes, start-up and scoring: about 9 minutes on the device
PROBE=${PROBE:-0.5}  # minutes of each recipe's probe, alone on the device; 0 = none
LIMIT=${LIMIT:-}
EVAL_N=${EVAL_N:-10000}
SNAPSHOTS=${SNAPSHOTS:-60 120 180 240 300}
DATA=${DATA:-.data/celeba64}
DEVICE=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
# Start-up (decoding the pack, cuDNN's kernel search, graph capture) and the snapshot writes are off
# the training clock; these bound each phase's wall time, so a hung run still leaves the rest scored.
TRAIN_LIMIT=$(python -c "print(round($MINUTES * 60 + 120))")
PROBE_LIMIT=$(python -c "print(round($PROBE * 60 + 60))")
EVAL_LIMIT=${EVAL_LIMIT:-150}
# The style-based generator (equalised layers) with the residual discriminator at ndf 32 (a quarter of
# ndf 64's arithmetic) and R1 on an eighth of each batch. R1's weight: 1 (StyleGAN3's at 256 px) and
# 0.1 (towards StyleGAN2-ADA's rule, 0.0002 * 64^2 / batch, about 0.01 here); Adam's rate 2e-3
# (StyleGAN2's, for equalised weights). Translation alone: the augmentation that helped the DCGAN's
# short runs. The DCGAN recipe is the control: the shipped model's, at the same minutes.
STYLE="--arch style --ngf 192 --ndf 32 --beta1 0 --lr 2e-3 --augment translation --r1-share 0.125"
declare -A RECIPE_FLAGS=(
  [style-r1]="$STYLE --r1 1"
  [style-r0.1]="$STYLE --r1 0.1"
  [dcgan]="--arch dcgan --augment translation"
)
RECIPES=${RECIPES:-style-r1 style-r0.1}
for name in $RECIPES; do
  [ -n "${RECIPE_FLAGS[$name]:-}" ] || { echo "unknown recipe $name (known: ${!RECIPE_FLAGS[*]})"; exit 2; }
done
rm -rf runs/search
mkdir -p runs/search/probe
extra=()
[ -n "$LIMIT" ] && extra+=(--limit "$LIMIT" --batch 16 --ngf 16 --ndf 8 --log-every 2)
nvidia-smi > runs/search/nvidia-smi.log 2>&1

train() {  # name seed out minutes snapshots...: one training run, its output in out.log
  local name=$1 seed=$2 out=$3 minutes=$4 limit=$5
  shift 5
  # shellcheck disable=SC2086
  timeout "$limit" python -m train.gan --data "$DATA" --out "$out" --minutes "$minutes" --seed "$seed" \
    --device "$DEVICE" --snapshot-seconds "$@" --sample-every 60 ${RECIPE_FLAGS[$name]} "${extra[@]}" \
    > "$out.log" 2>&1
}

if [ "$PROBE" != 0 ]; then
  for name in $RECIPES; do
    train "$name" 0 "runs/search/probe/$name" "$PROBE" "$PROBE_LIMIT" 100000
    echo -e "$name\t$(tail -n 1 "runs/search/probe/$name/metrics.jsonl" 2>/dev/null)" | tee -a runs/search/probe.tsv
  done
  echo "probes done at $SECONDS s"
fi
for name in $RECIPES; do
  for seed in 0 1; do
    # shellcheck disable=SC2086
    train "$name" "$seed" "runs/search/$name-s$seed" "$MINUTES" "$TRAIN_LIMIT" $SNAPSHOTS &
  done
done
wait
echo "training done at $SECONDS s"
# One process scores every snapshot: the holdout's features and the real-data floor are computed once,
# and the models take turns on the GPU (eight evaluations side by side timed out on the H200).
timeout "$EVAL_LIMIT" python -m train.evaluate runs/search/*-s[01]/*.safetensors --data "$DATA" --n "$EVAL_N" \
  --device "$DEVICE" --out runs/search/eval.jsonl > runs/search/eval.log 2>&1
echo "evaluation done at $SECONDS s"
python - <<'PY'
import json, os, pathlib, shutil

root = pathlib.Path("runs/search")
keys = ("frechet_distance", "precision", "recall", "real_floor", "real_precision", "real_recall")
evals = (root / "eval.jsonl").read_text().splitlines() if (root / "eval.jsonl").exists() else []
def kimg_at_end(run: pathlib.Path) -> float | None:
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(metrics[-1])["kimg"] if metrics else None


kimg = {run: kimg_at_end(run) for run in root.glob("*-s[01]")}  # once per run, not per snapshot
rows = []
for r in map(json.loads, evals):
    model = pathlib.Path(r["model"])
    rows.append([model.parent.name, model.name, *(r[k] for k in keys), kimg[model.parent]])
header = ["run", "snapshot", *keys, "kimg_at_end"]
text = "".join("\t".join(map(str, r)) + "\n" for r in [header, *rows])
print(text, end="")
(root / "summary.tsv").write_text(text)
out = os.environ.get("OUT")
if out and rows:
    best = {}  # run -> its lowest-FD snapshot
    for r in rows:
        if r[0] not in best or r[2] < best[r[0]][2]:
            best[r[0]] = r
    recipes = {}
    for run, r in best.items():
        recipes.setdefault(run.rsplit("-s", 1)[0], []).append(r)
    ranked = sorted(recipes.values(), key=lambda rs: (len(rs) < 2, max(x[2] for x in rs)))  # worse seed decides
    for rs in ranked[:2]:
        for run, snapshot, *_ in rs:
            shutil.copy(root / run / snapshot, pathlib.Path(out) / f"{run}_{snapshot}")
PY
if [ -n "${OUT:-}" ]; then
  last_grids=()
  for run in runs/search/*-s[01]/ runs/search/probe/*/; do
    grid=$(ls "$run"samples/*.png 2>/dev/null | tail -n 1)
    [ -n "$grid" ] && last_grids+=("$grid")
  done
  tar czf "$OUT/search_logs.tgz" runs/search/*.tsv runs/search/*.log runs/search/eval.jsonl runs/search/probe/*.log \
    runs/search/*/metrics.jsonl runs/search/probe/*/metrics.jsonl runs/search/*/config.json "${last_grids[@]}" 2>/dev/null
  cp runs/search/summary.tsv "$OUT/"
  [ -e runs/search/probe.tsv ] && cp runs/search/probe.tsv "$OUT/"
fi
echo "all done at $SECONDS s"
