"""The toolkit's fixtures: the tiny recipe trained once per run (TensorFlow), and converted."""

from __future__ import annotations

from pathlib import Path

import pytest

from make_test_bundles import ATTENTION_TRAIN, TINY_TRAIN, convert_tiny, train


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow", reason="training needs TensorFlow: pip install -e '.[convert]'")
    out = tmp_path_factory.mktemp("model") / "tiny"
    return train(tiny_data, out, TINY_TRAIN)


@pytest.fixture(scope="session")
def converted_tiny_bundles(tiny_model, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny model."""
    return convert_tiny(tiny_model, tiny_data, tmp_path_factory.mktemp("bundles"), "tiny")


@pytest.fixture(scope="session")
def tiny_attention_model(tiny_data, tmp_path_factory) -> Path:
    """The tiny model with the attention decoder: the same data, settings and budget."""
    pytest.importorskip("tensorflow", reason="training needs TensorFlow: pip install -e '.[convert]'")
    out = tmp_path_factory.mktemp("model") / "tiny-attention"
    return train(tiny_data, out, ATTENTION_TRAIN)


@pytest.fixture(scope="session")
def converted_tiny_attention_bundles(tiny_attention_model, tiny_data, tmp_path_factory
                                     ) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of this run's tiny attention model."""
    return convert_tiny(tiny_attention_model, tiny_data, tmp_path_factory.mktemp("bundles"),
                        "tiny-attention")
