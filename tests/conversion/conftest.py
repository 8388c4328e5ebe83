"""The toolkit's fixtures: the tiny recipe trained once per run (TensorFlow), and converted: once
for all xdist workers (support/once.py), and read-only to the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from make_test_bundles import ATTENTION_TRAIN, TINY_TRAIN, convert_tiny, train
from support.once import once_per_run


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow", reason="training needs TensorFlow: pip install -e '.[convert]'")
    return once_per_run(tmp_path_factory, "tiny-model",
                        lambda out: train(tiny_data, out / "tiny", TINY_TRAIN)) / "tiny"


@pytest.fixture(scope="session")
def converted_tiny_bundles(tiny_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny model."""
    root = once_per_run(tmp_path_factory, "tiny-bundles",
                        lambda out: convert_tiny(tiny_model, tiny_data, out, "tiny"))
    return root / "tiny-int8", root / "tiny-float"


@pytest.fixture(scope="session")
def tiny_attention_model(tiny_data, tmp_path_factory) -> Path:
    """The tiny model with the attention decoder: the same data, settings and budget."""
    pytest.importorskip("tensorflow", reason="training needs TensorFlow: pip install -e '.[convert]'")
    return once_per_run(tmp_path_factory, "tiny-attention-model",
                        lambda out: train(tiny_data, out / "tiny-attention", ATTENTION_TRAIN)
                        ) / "tiny-attention"


@pytest.fixture(scope="session")
def converted_tiny_attention_bundles(tiny_attention_model, tiny_data, tmp_path_factory
                                     ) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny attention model."""
    root = once_per_run(tmp_path_factory, "tiny-attention-bundles",
                        lambda out: convert_tiny(tiny_attention_model, tiny_data, out,
                                                 "tiny-attention"))
    return root / "tiny-attention-int8", root / "tiny-attention-float"
