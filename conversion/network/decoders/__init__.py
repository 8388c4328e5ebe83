"""The caption decoders, by the name that `NetworkConfig.decoder`, config.json, the manifest's
"decoder.type" and `train --decoder` use.

Each is a `Decoder` (base.py) in its own module, holding everything of its type: its Keras layers,
the teacher-forced training graph, the one-step graphs exported for the device, their wiring, the
numpy twin of the step and the hook that `recover` reads a bundle's weights back through. The table
names the module rather than importing it, so that the CLI can offer the choices without importing
Keras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Decoder

# name -> (module, class)
DECODERS: dict[str, tuple[str, str]] = {
    "show_and_tell": ("conversion.network.decoders.show_and_tell", "ShowAndTellDecoder"),
    "attention": ("conversion.network.decoders.attention", "AttentionDecoder"),
}


def decoder_class(name: str) -> type[Decoder]:
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r} ({', '.join(DECODERS)})")
    module, cls = DECODERS[name]
    return getattr(importlib.import_module(module), cls)
