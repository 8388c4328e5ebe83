"""Shared fixtures: a tiny but REAL model pipeline (synth -> train -> convert), built once per run.

Everything runs through the real console entry points, so these fixtures also exercise the CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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


@pytest.fixture(scope="session")
def tiny_bundles(tiny_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of the tiny model."""
    root = tmp_path_factory.mktemp("bundles")
    int8, flt = root / "tiny-int8", root / "tiny-float"
    assert run_convert_cli("convert", tiny_model, int8, "--representative", tiny_data,
                           "--calibration-images", "80", "--float", flt) == 0
    return int8, flt


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
    root = tmp_path_factory.mktemp("bundles")
    int8, flt = root / "tiny-attention-int8", root / "tiny-attention-float"
    assert run_convert_cli("convert", tiny_attention_model, int8, "--representative", tiny_data,
                           "--calibration-images", "80", "--float", flt) == 0
    return int8, flt


@pytest.fixture
def python_exe() -> str:
    return sys.executable
