"""Model bundles: a directory with manifest.json, encoder.tflite, decoder.tflite and vocab.txt.

`load_bundle` validates everything that can be checked without an interpreter (the manifest's
keys and types, every file's SHA-256, the vocabulary); `interpreters.py` then checks the graphs'
tensors against the manifest. Any failure is `BadInput` naming the file and the problem (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .vocab import Vocabulary

BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILES = ("encoder.tflite", "decoder.tflite", "vocab.txt")
DEFAULT_BUNDLES_DIR = Path(__file__).parent / "data" / "bundles"
DEFAULT_BUNDLE_NAMES = {"default": "default-en", "default-en": "default-en",
                        "default-zh": "default-zh"}

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: dict) -> None:
    tmp = directory / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(directory / "manifest.json")


@dataclass
class Bundle:
    path: Path
    manifest: dict
    vocab: Vocabulary

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def language(self) -> str:
        return self.manifest["language"]

    @property
    def image_size(self) -> tuple[int, int]:
        width, height = self.manifest["image"]["size"]
        return int(width), int(height)

    @property
    def max_length(self) -> int:
        return int(self.manifest["max_length"])

    def file(self, name: str) -> Path:
        return self.path / name


def resolve_bundle_path(spec: str | Path | None) -> Path:
    """A path, or one of the names of the bundles shipped in the package ("default", ...)."""
    spec = str(spec or "default")
    if spec in DEFAULT_BUNDLE_NAMES:
        return DEFAULT_BUNDLES_DIR / DEFAULT_BUNDLE_NAMES[spec]
    return Path(spec).expanduser()


def load_bundle(spec: str | Path | None = None, verify_hashes: bool = True) -> Bundle:
    path = resolve_bundle_path(spec)
    manifest_path = path / "manifest.json"
    if not path.is_dir():
        raise BadInput(f"{path}: bundle directory not found")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{manifest_path}: missing (not a model bundle)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{manifest_path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{manifest_path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise BadInput(f"{manifest_path}: expected a JSON object")
    for key, kind in _REQUIRED.items():
        if key not in manifest:
            raise BadInput(f"{manifest_path}: missing key '{key}'")
        if not isinstance(manifest[key], kind) or (kind is int and isinstance(manifest[key], bool)):
            raise BadInput(f"{manifest_path}: '{key}' must be {kind.__name__}")
    if manifest["format_version"] != BUNDLE_FORMAT_VERSION:
        raise BadInput(f"{manifest_path}: format_version {manifest['format_version']} is not "
                       f"supported (this runtime reads {BUNDLE_FORMAT_VERSION})")
    _check_image_section(manifest_path, manifest["image"])
    for name in BUNDLE_FILES:
        file_path = path / name
        expected = manifest["files"].get(name)
        if not isinstance(expected, str):
            raise BadInput(f"{manifest_path}: no SHA-256 for '{name}' under 'files'")
        if not file_path.is_file():
            raise BadInput(f"{file_path}: missing from the bundle")
        if verify_hashes and file_sha256(file_path) != expected:
            raise BadInput(f"{file_path}: SHA-256 does not match the manifest (corrupt, truncated "
                           "or replaced)")
    vocab = Vocabulary.load(path / "vocab.txt")
    if len(vocab) != manifest["vocab_size"]:
        raise BadInput(f"{path / 'vocab.txt'}: {len(vocab)} tokens, the manifest says "
                       f"{manifest['vocab_size']}")
    if vocab.language != manifest["language"]:
        raise BadInput(f"{path / 'vocab.txt'}: language {vocab.language}, the manifest says "
                       f"{manifest['language']}")
    if not 2 <= manifest["max_length"] <= 256:
        raise BadInput(f"{manifest_path}: 'max_length' must be 2..256")
    return Bundle(path=path, manifest=manifest, vocab=vocab)


def _check_image_section(manifest_path: Path, image: dict) -> None:
    size = image.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and 8 <= v <= 4096 for v in size)):
        raise BadInput(f"{manifest_path}: 'image.size' must be [width, height] in pixels")
    if image.get("colour_order") not in ("RGB", "BGR"):
        raise BadInput(f"{manifest_path}: 'image.colour_order' must be RGB or BGR")
    if image.get("resize") not in ("center_crop", "letterbox", "stretch"):
        raise BadInput(f"{manifest_path}: 'image.resize' must be center_crop, letterbox or stretch")
