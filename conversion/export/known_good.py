"""The runtime's own test graph (edge_captioner/data/known_good.tflite): a tiny int8
FULLY_CONNECTED + RELU, 1.5 KB. When a bundle's graph fails its trial load, the device loads this
one too: if it fails as well, the runtime or the CPU is broken, not the bundle (interpreters.py).

    .venv/bin/python -m conversion.export.known_good edge_captioner/data/known_good.tflite
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def build() -> bytes:
    import keras

    from .convert import convert_graph

    keras.utils.set_random_seed(0)
    x = keras.Input((8,), batch_size=1, name="x")
    model = keras.Model(x, {"y": keras.layers.Dense(4, activation="relu", name="y")(x)})
    samples = {"x": np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)}
    with tempfile.TemporaryDirectory() as tmp:
        return convert_graph(model, Path(tmp), "known_good", "int8", samples)


if __name__ == "__main__":
    Path(sys.argv[1]).write_bytes(build())
