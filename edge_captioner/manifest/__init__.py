"""The bundle format: manifest.json as typed dataclasses, and the format's names and choices.

    choices.py     every name and list of choices (files, keys, tensors, resize modes, runtimes)
    document.py    Manifest: from_json (validation, one-line BadInput) and to_json (as written)
    graphs.py      the image and tensor sections
    perception.py  the real-world encoder's section
    sections.py    evidence, pretrained provenance, self-check
The decoder section (the wiring) is described and parsed by edge_captioner/wiring.py.
"""

from .choices import (
    BUNDLE_FILES,
    COLOUR_ORDERS,
    FORMAT_VERSION,
    MANIFEST_FILE,
    RESIZE_MODES,
    RUNTIME_CHOICES,
    RUNTIMES,
)
from .document import Manifest
from .graphs import GraphTensors, ImageSpec, Tensors, TensorSpec
from .perception import ClassifierSpec, DetectorSpec, GraphSpec, PerceptionSpec, parse_perception
from .sections import EvidenceSpec, Provenance, SelfCheck, parse_evidence, parse_self_check

__all__ = [
    "BUNDLE_FILES", "COLOUR_ORDERS", "FORMAT_VERSION", "MANIFEST_FILE", "RESIZE_MODES",
    "RUNTIME_CHOICES", "RUNTIMES", "ClassifierSpec", "DetectorSpec", "EvidenceSpec", "GraphSpec",
    "GraphTensors", "ImageSpec", "Manifest", "PerceptionSpec", "Provenance", "SelfCheck",
    "TensorSpec", "Tensors", "parse_evidence", "parse_perception", "parse_self_check",
]
