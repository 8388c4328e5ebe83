"""The backbones: what turns the encoder's input into the image feature f (and, for a decoder that
attends, the spatial map), by the name that `NetworkConfig.backbone`, config.json and
`train --backbone` use.

Each is a `Backbone` (base.py) in its own module; the table names the module rather than importing
it, so that the CLI can offer the choices without importing Keras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Backbone

# name -> (module, class)
BACKBONES: dict[str, tuple[str, str]] = {
    "small": ("conversion.network.backbones.cnn", "SmallCnn"),
    "mobilenet_v2": ("conversion.network.backbones.cnn", "MobileNetV2"),
    "mobilenet_v3": ("conversion.network.backbones.cnn", "MobileNetV3Small"),
    "evidence": ("conversion.network.backbones.evidence", "EvidenceMlp"),
}
# the ones that read images (`train --backbone`); "evidence" is train-grounded's
IMAGE_BACKBONES = ("small", "mobilenet_v2", "mobilenet_v3")


def backbone_class(name: str) -> type[Backbone]:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r} ({', '.join(BACKBONES)})")
    module, cls = BACKBONES[name]
    return getattr(importlib.import_module(module), cls)
