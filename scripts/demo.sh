#!/usr/bin/env bash
# The demo: set up, then show the synthetic home scenes the captioner learns from (until the
# daemon lands, this is the main job that runs on the built-in default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-demo-data}"
.venv/bin/edge-captioner-convert synth "$out" --count 48 --seed 1 --lang en,zh \
  --preview "$out/preview.png" --force
echo
echo "Sample captions (English, then Chinese):"
.venv/bin/python - "$out" <<'PY'
import json, sys
for lang in ("en", "zh"):
    doc = json.load(open(f"{sys.argv[1]}/captions_{lang}.json", encoding="utf-8"))
    for ann in [a for a in doc["annotations"] if a["canonical"]][:6]:
        print(f"  {ann['image_id']:06d}.jpg  {ann['caption']}")
PY
echo
echo "Contact sheet: $out/preview.png   Data set: $out/captions_en.json, $out/captions_zh.json"
