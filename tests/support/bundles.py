"""Checks of bundles that the device and conversion suites share."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

# What the Edge TPU compiler and int8 kernels take well in the encoder (pipeline, attention)
ENCODER_OPS = {"CONV_2D", "FULLY_CONNECTED", "RESHAPE", "TANH", "ADD", "MUL", "QUANTIZE",
               "DEQUANTIZE", "LOGISTIC"}
# ... and in the float-LSTM decoder's int8 graph: no fused LSTM, GATHER, SHAPE & co.
DECODER_OPS = {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD", "SPLIT", "QUANTIZE",
               "DEQUANTIZE"}
# ... and in a pure-int8 decoder (the shipped bundles' kind)
INT8_DECODER_OPS = {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD", "SPLIT", "QUANTIZE",
                    "DEQUANTIZE", "LOG_SOFTMAX"}


def check_integer_only(int8: Path, decoder_ops: set[str], encoder_ops: set[str] = ENCODER_OPS
                       ) -> dict:
    """The int8 bundle's manifest, after checking that neither graph holds a float op, that the
    manifest's op lists are the graphs' own, and that the ops stay in the Edge TPU-friendly sets."""
    from conversion.export.checks import graph_report

    manifest = json.loads((int8 / "manifest.json").read_text())
    assert manifest["quantization"] == {"encoder": "int8", "decoder": "int16x8"}
    for graph in ("encoder", "decoder"):
        report = graph_report(int8 / f"{graph}.tflite")
        assert report["float_ops"] == [], graph
        assert manifest["ops"][graph] == report["ops"]
    assert set(manifest["ops"]["decoder"]) <= decoder_ops
    assert set(manifest["ops"]["encoder"]) <= encoder_ops
    return manifest


def caption_without_tensorflow(bundle: Path, image: Path, caption_args: str = "",
                               explain: bool = False) -> str:
    """Caption `image` in a fresh interpreter through the device runtime; fail if tensorflow was
    imported or picked as the runtime. Returns what the child printed (the caption text...)."""
    code = (
        "import sys, cv2\n"
        "from edge_captioner.model.captioner import Captioner\n"
        f"c = Captioner({str(bundle)!r}, runtime='auto')\n"
        f"frame = cv2.imread({str(image)!r})\n"
        f"r = c.caption(frame{caption_args})\n"
        f"a = c.attention(frame, r.tokens) if {explain} else None\n"
        "print(r.text, len(a) if a is not None else '')\n"
        "assert c.model.runtime.name != 'tensorflow', c.model.runtime.name\n"
        "bad = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]\n"
        "assert not bad, bad[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    return done.stdout


def encoder_dir_from(bundle_dir: Path, out: Path) -> Path:
    """An `encoder` output directory holding a bundle's real-world encoder (its perception
    graphs, labels, licences and encoder.json), without building one from the packages."""
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    files = {name: digest for name, digest in manifest["files"].items()
             if name not in ("encoder.tflite", "decoder.tflite", "vocab.txt")}
    for name in files:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle_dir / name, out / name)
    (out / "encoder.json").write_text(json.dumps(
        {"perception": manifest["perception"], "pretrained": manifest["pretrained"],
         "files": files}))
    return out


def bundle_form(bundle: Path) -> dict:
    """What a bundle's manifest says that does not depend on the trained weights' values."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    kept = {key: value for key, value in manifest.items()
            if key not in ("files", "created", "metrics", "training", "tensors")}
    kept["model"] = manifest["training"]["model"]
    kept["files"] = sorted(manifest["files"])
    kept["tensors"] = {graph: {side: {name: (t["shape"], t["dtype"]) for name, t in io.items()}
                               for side, io in tensors.items()}
                       for graph, tensors in manifest["tensors"].items()}
    kept["vocab"] = (bundle / "vocab.txt").read_text()
    return kept
