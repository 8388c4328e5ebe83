"""Shared fixtures: a tiny but REAL model pipeline (synth -> train -> convert), built once per run.

Everything runs through the real console entry points, so these fixtures also exercise the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# What the Edge TPU compiler and int8 kernels take well in the encoder (test_pipeline, test_attention)
ENCODER_OPS = {"CONV_2D", "FULLY_CONNECTED", "RESHAPE", "TANH", "ADD", "MUL", "QUANTIZE",
               "DEQUANTIZE", "LOGISTIC"}

TINY_TRAIN = [
    "--epochs", "15", "--batch-size", "32", "--width", "0.25", "--units", "48",
    "--embedding-dim", "24", "--feature-dim", "64", "--image-size", "64", "--seed", "3",
    "--lr", "5e-3",
]


def run_convert_cli(*args: str) -> int:
    from conversion.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "train"
    assert run_convert_cli("synth", out, "--count", "600", "--seed", "11", "--size", "64",
                           "--workers", "2") == 0
    return out


@pytest.fixture(scope="session")
def tiny_test_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "test"
    assert run_convert_cli("synth", out, "--count", "60", "--seed", "12", "--size", "64",
                           "--workers", "1") == 0
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tiny"
    assert run_convert_cli("train", tiny_data, out, *TINY_TRAIN) == 0
    return out


def convert_tiny(model: Path, data: Path, root: Path, stem: str) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of a tiny model, calibrated on 80 of its training images."""
    int8, flt = root / f"{stem}-int8", root / f"{stem}-float"
    assert run_convert_cli("convert", model, int8, "--representative", data,
                           "--calibration-images", "80", "--float", flt) == 0
    return int8, flt


def check_integer_only(int8: Path, decoder_ops: set[str], encoder_ops: set[str] = ENCODER_OPS
                       ) -> dict:
    """The int8 bundle's manifest, after checking that neither graph holds a float op, that the
    manifest's op lists are the graphs' own, and that the ops stay in the Edge TPU-friendly sets."""
    from conversion.tflite_check import graph_report

    manifest = json.loads((int8 / "manifest.json").read_text())
    assert manifest["quantization"] == {"encoder": "int8", "decoder": "int16x8"}
    for graph in ("encoder", "decoder"):
        report = graph_report(int8 / f"{graph}.tflite")
        assert report["float_ops"] == [], graph
        assert manifest["ops"][graph] == report["ops"]
    assert set(manifest["ops"]["decoder"]) <= decoder_ops
    assert set(manifest["ops"]["encoder"]) <= encoder_ops
    return manifest


def caption_without_tensorflow(bundle: Path, image: Path, caption_args: str = "") -> str:
    """Caption `image` in a fresh interpreter through the device runtime; fail if tensorflow was
    imported or picked as the runtime. Returns what the child printed (the caption text...)."""
    code = (
        "import sys, cv2\n"
        "from edge_captioner.captioner import Captioner\n"
        f"c = Captioner({str(bundle)!r}, runtime='auto')\n"
        f"r = c.caption(cv2.imread({str(image)!r}){caption_args})\n"
        "print(r.text, len(r.attention) if r.attention is not None else '')\n"
        "assert c.model.runtime.name != 'tensorflow', c.model.runtime.name\n"
        "bad = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]\n"
        "assert not bad, bad[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    return done.stdout


@pytest.fixture(scope="session")
def tiny_bundles(tiny_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny model."""
    return convert_tiny(tiny_model, tiny_data, tmp_path_factory.mktemp("bundles"), "tiny")


@pytest.fixture(scope="session")
def tiny_attention_model(tiny_data, tmp_path_factory) -> Path:
    """The tiny model with the attention decoder: the same data, settings and budget."""
    out = tmp_path_factory.mktemp("model") / "tiny-attention"
    assert run_convert_cli("train", tiny_data, out, *TINY_TRAIN, "--decoder", "attention",
                           "--attention-dim", "32") == 0
    return out


@pytest.fixture(scope="session")
def tiny_attention_bundles(tiny_attention_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny attention model."""
    return convert_tiny(tiny_attention_model, tiny_data, tmp_path_factory.mktemp("bundles"),
                        "tiny-attention")


@pytest.fixture
def python_exe() -> str:
    return sys.executable


def encoder_dir_from(bundle_dir: Path, out: Path) -> Path:
    """An `encoder` output directory holding a bundle's real-world encoder (its perception
    graphs, labels, licences and encoder.json), without building one from the packages."""
    import shutil

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
