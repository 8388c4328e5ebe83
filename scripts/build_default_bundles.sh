#!/usr/bin/env bash
# Rebuild the default bundles shipped in edge_captioner/data/bundles/ (default-en, default-zh):
# the real-world encoder from pinned registry packages (NanoDet-m-416 + EfficientNet-Lite0, full
# int8; docs/encoders.md), and for each language the grounded decoder trained on findings simulated
# from synthetic scenes (no images rendered; conversion/grounded/train.py), converted to int8 with the
# encoder attached, evaluated on the labelled package photos and on simulated findings, installed.
# The decoders' training options are recipes/default-en.yaml and recipes/default-zh.yaml.
#
#   bash scripts/build_default_bundles.sh [WORKDIR]      (default WORKDIR: runs/)
#
# About 10 minutes on 2 CPU cores (encoder 1.5 min; each decoder 8 epochs of 60,000 examples,
# ~10 s an epoch; conversions under a minute). The packages are fetched with pip and npm into
# ~/.cache/edge-captioner/packages the first time (145 MB for the npm tarball).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-runs}"
convert=".venv/bin/edge-captioner-convert"
[ -x "$convert" ] || bash scripts/setup.sh convert,dev
convert="env KERAS_BACKEND=tensorflow $convert"
mkdir -p "$work"

$convert encoder "$work/encoder"
for lang in en zh; do
  $convert train-grounded "$work/grounded-$lang" --recipe "recipes/default-$lang.yaml"
  rm -rf "$work/bundle-$lang" "$work/bundle-$lang-float"
  $convert convert "$work/grounded-$lang" "$work/bundle-$lang" --name "default-$lang" \
    --decoder int8 --encoder "$work/encoder" --float "$work/bundle-$lang-float"
  $convert evaluate "$work/bundle-$lang" tests/data/package_photos.json --simulated 2000 \
    | tee "$work/evaluate-$lang.txt"
  rm -rf "edge_captioner/data/bundles/default-$lang"
  cp -r "$work/bundle-$lang" "edge_captioner/data/bundles/default-$lang"
done
echo "installed: edge_captioner/data/bundles/default-en, default-zh"
