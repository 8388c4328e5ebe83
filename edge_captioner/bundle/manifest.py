"""manifest.json as one typed value: `Manifest.from_json` validates what a bundle's manifest says
(everything that can be checked without opening another file) and `to_json` writes it back the
way the converter writes it, keys in the same order.

The manifest is untrusted input: every refusal is BadInput, one line naming the manifest and the
key (exit 2). The bundle's files (hashes, vocabulary) are checked by bundle.load_bundle and the
graphs' tensors by model/runtime.Graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from .choices import BUNDLE_FILES, EVIDENCE_INPUT, FORMAT_VERSION, IMAGE_INPUT, KEYS
from .perception_section import parse_perception
from .perception_specs import PerceptionSpec
from .sections import (
    EvidenceSpec,
    FactsSpec,
    Provenance,
    SelfCheck,
    parse_evidence,
    parse_pretrained,
    parse_self_check,
)
from .tensors import ImageSpec, Tensors
from .wiring import SHOW_AND_TELL_WIRING, DecoderWiring, parse_wiring

_REQUIRED = {
    "format_version": int,
    "name": str,
    "language": str,
    "decoder_type": str,
    "image": dict,
    "special_tokens": dict,
    "max_length": int,
    "vocab_size": int,
    "tensors": dict,
    "files": dict,
}
MAX_LENGTH_RANGE = (2, 256)


@dataclass(frozen=True)
class Manifest:
    format_version: int
    name: str
    language: str
    decoder_type: str  # kept for readers of format 1 before the "decoder" section
    image: ImageSpec
    special_tokens: dict[str, int]
    max_length: int
    vocab_size: int
    tensors: Tensors
    files: dict[str, str]  # bundle file -> SHA-256 (hex); the manifest itself is not hashed
    decoder: DecoderWiring | None = None  # None: a format-1 bundle from before the section
    # informative records the runtime does not interpret: JSON values kept as they are
    quantization: dict[str, str] | None = None  # graph -> int8 | int16x8 | float32
    ops: dict[str, list[str]] | None = None  # graph -> the TFLite ops it holds
    metrics: dict | None = None  # what `evaluate` (and `encoder`) measured: name -> value
    training: dict | None = None  # the `train` configuration the graphs came from
    created: str | None = None  # ISO 8601, UTC
    test_time_mirror: bool | None = None
    evidence: EvidenceSpec | FactsSpec | None = None  # a grounded bundle's encoder input
    perception: PerceptionSpec | None = None  # the real-world encoder
    pretrained: tuple[Provenance, ...] | None = None
    self_check: SelfCheck | None = None
    extra: dict = field(default_factory=dict)  # keys this runtime does not know, as they came

    @property
    def wiring(self) -> DecoderWiring:
        """How the encoder and decoder connect (wiring.py); derived for old Show-and-Tell bundles."""
        if self.decoder is not None:
            return self.decoder
        return parse_wiring({"decoder_type": self.decoder_type, "decoder": SHOW_AND_TELL_WIRING},
                            Path("manifest.json"))

    @property
    def encoder_input(self) -> str:
        """The encoder's one input: the image, or for a grounded bundle the findings vector."""
        return EVIDENCE_INPUT if self.evidence is not None else IMAGE_INPUT

    def check_runnable(self, manifest_path: Path) -> None:
        """A grounded bundle runs only with the real-world encoder it reads: until `attach` has
        added it, its manifest is a valid document but not a bundle that loads."""
        if self.evidence is not None and (self.perception is None
                                          or self.perception.detector is None):
            raise BadInput(f"{manifest_path}: a grounded bundle ('evidence') needs the real-world "
                           "encoder it reads ('perception' with a detector)")

    @property
    def needed_files(self) -> list[str]:
        """Every file the bundle must hold, unchanged: the graphs and vocabulary, the perception
        graphs and labels, and whatever else is listed with a hash (licence texts)."""
        return list(dict.fromkeys([*BUNDLE_FILES, *(self.perception.files if self.perception
                                                    else ()), *self.files]))

    @classmethod
    def from_json(cls, manifest: object, manifest_path: Path) -> Manifest:
        """A parsed manifest.json, validated; BadInput naming `manifest_path` otherwise."""
        if not isinstance(manifest, dict):
            raise BadInput(f"{manifest_path}: expected a JSON object")
        for key, kind in _REQUIRED.items():
            if key not in manifest:
                raise BadInput(f"{manifest_path}: missing key '{key}'")
            if not isinstance(manifest[key], kind) or (kind is int
                                                       and isinstance(manifest[key], bool)):
                raise BadInput(f"{manifest_path}: '{key}' must be {kind.__name__}")
        if manifest["format_version"] != FORMAT_VERSION:
            raise BadInput(f"{manifest_path}: format_version {manifest['format_version']} is not "
                           f"supported (this runtime reads {FORMAT_VERSION})")
        image = ImageSpec.from_json(manifest["image"], manifest_path)
        evidence = parse_evidence(manifest, manifest_path)
        tensors = Tensors.from_json(manifest["tensors"], manifest_path)
        _check_encoder_input(manifest_path, tensors, image, evidence)
        wiring = parse_wiring(manifest, manifest_path)  # the decoder section, before any file work
        perception = parse_perception(manifest, manifest_path)
        files = manifest["files"]
        needed = [*BUNDLE_FILES, *(perception.files if perception else ()), *files]
        for name in dict.fromkeys(needed):
            _check_file_name(manifest_path, name)
            if not isinstance(files.get(name), str):
                raise BadInput(f"{manifest_path}: no SHA-256 for '{name}' under 'files'")
        low, high = MAX_LENGTH_RANGE
        if not low <= manifest["max_length"] <= high:
            raise BadInput(f"{manifest_path}: 'max_length' must be {low}..{high}")
        return cls(
            format_version=manifest["format_version"], name=manifest["name"],
            language=manifest["language"], decoder_type=manifest["decoder_type"], image=image,
            special_tokens=dict(manifest["special_tokens"]), max_length=manifest["max_length"],
            vocab_size=manifest["vocab_size"], tensors=tensors, files=dict(files),
            decoder=wiring if manifest.get("decoder") is not None else None,
            quantization=manifest.get("quantization"), ops=manifest.get("ops"),
            metrics=manifest.get("metrics"), training=manifest.get("training"),
            created=manifest.get("created"), test_time_mirror=manifest.get("test_time_mirror"),
            evidence=evidence, perception=perception,
            pretrained=parse_pretrained(manifest.get("pretrained"), manifest_path),
            self_check=parse_self_check(manifest, manifest_path),
            extra={k: v for k, v in manifest.items() if k not in KEYS})

    def to_json(self) -> dict:
        """The manifest as the converter writes it: the keys in KEYS order, absent ones left
        out, then the unknown keys as they came."""
        values = {
            "format_version": self.format_version, "name": self.name,
            "language": self.language, "decoder_type": self.decoder_type,
            "decoder": self.decoder.to_json() if self.decoder is not None else None,
            "image": self.image.to_json(), "special_tokens": dict(self.special_tokens),
            "max_length": self.max_length, "vocab_size": self.vocab_size,
            "quantization": self.quantization, "tensors": self.tensors.to_json(),
            "ops": self.ops, "files": dict(self.files), "metrics": self.metrics,
            "training": self.training, "created": self.created,
            "test_time_mirror": self.test_time_mirror,
            "evidence": self.evidence.to_json() if self.evidence is not None else None,
            "perception": self.perception.to_json() if self.perception is not None else None,
            "pretrained": ([p.to_json() for p in self.pretrained]
                           if self.pretrained is not None else None),
            "self_check": self.self_check.to_json() if self.self_check is not None else None,
        }
        return {**{key: values[key] for key in KEYS if values[key] is not None}, **self.extra}


def _check_file_name(manifest_path: Path, name: str) -> None:
    """A bundle's files stay inside the bundle: the manifest is untrusted input."""
    parts = Path(name).parts
    if (not name or Path(name).is_absolute() or ".." in parts or "\\" in name
            or any(c in name for c in "\0\n\r")):
        raise BadInput(f"{manifest_path}: file name {name!r} must be a relative path inside the "
                       "bundle")


def _check_encoder_input(manifest_path: Path, tensors: Tensors, image: ImageSpec,
                         evidence: EvidenceSpec | FactsSpec | None) -> None:
    """The encoder's one input is what the runtime makes: for an image encoder a square of
    'image.size' (so a size the graph does not take is refused at load, not at the first frame);
    for a grounded bundle the findings vector (evidence.py)."""
    inputs = tensors.encoder.inputs
    if evidence is not None:
        if list(inputs) != [EVIDENCE_INPUT] or \
                list(inputs[EVIDENCE_INPUT].shape) != [1, evidence.length]:
            raise BadInput(f"{manifest_path}: a grounded bundle's encoder takes the one input "
                           f"'{EVIDENCE_INPUT}' of shape [1, {evidence.length}]")
        return
    width, height = image.size
    if list(inputs) != [IMAGE_INPUT]:
        raise BadInput(f"{manifest_path}: 'tensors.encoder.inputs' must be the one input "
                       f"'{IMAGE_INPUT}', not {sorted(inputs)}")
    shape = list(inputs[IMAGE_INPUT].shape)
    if width != height or shape != [1, height, width, 3]:
        raise BadInput(f"{manifest_path}: 'image.size' {[width, height]} does not fit the encoder's "
                       f"input shape {shape} (a square image, [1, size, size, 3])")
