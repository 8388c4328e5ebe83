"""Shared fixtures: tiny but REAL models and bundles.

The device tests (runtime, daemon, CLI, bundle loading, faults, fuzzing) load tiny bundles
committed under tests/data/bundles (tiny_bundles, tiny_int8_decoder_bundles,
tiny_attention_bundles), which tests/make_test_bundles.py regenerates with the recipe below; no
device test trains. The conversion tests (training, converting, recovering, mirroring) train that
same recipe once per run (tiny_model, tiny_attention_model) and convert it
(converted_tiny_bundles, converted_tiny_attention_bundles), so they test today's conversion code.
Both kinds caption the same synthetic images (tiny_test_data: `synth`, no TensorFlow, under a
second). Everything runs through the real console entry points, so these fixtures also exercise
the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from make_test_bundles import (
    ATTENTION_TRAIN,
    TEST_SYNTH,
    TINY,
    TINY_ATTENTION,
    TINY_INT8_DECODER,
    TINY_TRAIN,
    TRAIN_SYNTH,
    committed,
    convert,
    synth,
    train,
)
from make_test_bundles import run_convert_cli as run_convert_cli  # the test modules' import

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# What the Edge TPU compiler and int8 kernels take well in the encoder (test_pipeline, test_attention)
ENCODER_OPS = {"CONV_2D", "FULLY_CONNECTED", "RESHAPE", "TANH", "ADD", "MUL", "QUANTIZE",
               "DEQUANTIZE", "LOGISTIC"}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "train"
    return synth(out, TRAIN_SYNTH, workers=2)


@pytest.fixture(scope="session")
def tiny_test_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "test"
    return synth(out, TEST_SYNTH)


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tiny"
    return train(tiny_data, out, TINY_TRAIN)


def convert_tiny(model: Path, data: Path, root: Path, stem: str) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of a tiny model, calibrated on 80 of its training images."""
    return convert(model, data, root / f"{stem}-int8", root / f"{stem}-float")


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


@pytest.fixture(scope="session")
def tiny_bundles() -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny model, as committed: never write into them."""
    return committed(TINY)


@pytest.fixture(scope="session")
def tiny_int8_decoder_bundles() -> tuple[Path, Path]:
    """The tiny model with the pure-int8 decoder (as the shipped bundles), and its float twin."""
    return committed(TINY_INT8_DECODER)


@pytest.fixture(scope="session")
def tiny_attention_bundles() -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny attention model, as committed."""
    return committed(TINY_ATTENTION)


@pytest.fixture(scope="session")
def converted_tiny_bundles(tiny_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny model."""
    return convert_tiny(tiny_model, tiny_data, tmp_path_factory.mktemp("bundles"), "tiny")


@pytest.fixture(scope="session")
def tiny_attention_model(tiny_data, tmp_path_factory) -> Path:
    """The tiny model with the attention decoder: the same data, settings and budget."""
    out = tmp_path_factory.mktemp("model") / "tiny-attention"
    return train(tiny_data, out, ATTENTION_TRAIN)


@pytest.fixture(scope="session")
def converted_tiny_attention_bundles(tiny_attention_model, tiny_data, tmp_path_factory
                                     ) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny attention model."""
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
