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
from .evidence import EvidenceSpec, parse_evidence
from .perception import PerceptionSpec, parse_perception
from .vocab import Vocabulary
from .wiring import DecoderWiring, parse_wiring

BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILES = ("encoder.tflite", "decoder.tflite", "vocab.txt")
DEFAULT_BUNDLES_DIR = Path(__file__).parent / "data" / "bundles"
# default-en/-zh: grounded captions of the real-world encoder's findings; render-en: the model
# trained on our renders alone (the tests' image-CNN bundle; it invents people on real photos)
DEFAULT_BUNDLE_NAMES = {"default": "default-en", "default-en": "default-en",
                        "default-zh": "default-zh", "render-en": "render-en"}

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

    @property
    def evidence(self) -> EvidenceSpec | None:
        """For a grounded bundle: how its encoder's input is built from the findings."""
        return parse_evidence(self.manifest, self.path / "manifest.json")

    @property
    def perception(self) -> PerceptionSpec | None:
        """The real-world detector and classifier (perception.py), if the bundle has them."""
        return parse_perception(self.manifest, self.path / "manifest.json")

    @property
    def wiring(self) -> DecoderWiring:
        """How the encoder and decoder connect (wiring.py); derived for old Show-and-Tell bundles."""
        return parse_wiring(self.manifest, self.path / "manifest.json")


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
    if manifest_path.exists() and not manifest_path.is_file():
        # a FIFO would block the read below forever (the other files are checked with is_file)
        raise BadInput(f"{manifest_path}: not a regular file")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{manifest_path}: missing (not a model bundle)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{manifest_path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{manifest_path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:  # "[[[[...": json's C parser recurses once per level
        raise BadInput(f"{manifest_path}: invalid JSON: nested too deeply") from None
    except ValueError as exc:  # not a JSONDecodeError: an integer past Python's 4300-digit limit
        raise BadInput(f"{manifest_path}: invalid JSON: {str(exc).splitlines()[0]}") from None
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
    evidence = parse_evidence(manifest, manifest_path)
    _check_tensors_section(manifest_path, manifest["tensors"], manifest["image"], evidence)
    parse_wiring(manifest, manifest_path)  # the decoder section (wiring.py), before any file work
    perception = parse_perception(manifest, manifest_path)
    if evidence is not None and (perception is None or perception.detector is None):
        raise BadInput(f"{manifest_path}: a grounded bundle ('evidence') needs the real-world "
                       "encoder it reads ('perception' with a detector)")
    # the graphs and vocabulary, the perception graphs and labels, and whatever else the manifest
    # lists with a hash (licence texts): each must be there, unchanged
    needed = [*BUNDLE_FILES, *(perception.files if perception else ()), *manifest["files"]]
    for name in dict.fromkeys(needed):
        _check_file_name(manifest_path, name)
        file_path = path / name
        expected = manifest["files"].get(name)
        if not isinstance(expected, str):
            raise BadInput(f"{manifest_path}: no SHA-256 for '{name}' under 'files'")
        if not file_path.is_file():
            raise BadInput(f"{file_path}: missing from the bundle")
        try:
            digest = file_sha256(file_path) if verify_hashes else expected
        except OSError as exc:  # permission denied (the service's user), an I/O error
            raise BadInput(f"{file_path}: cannot read: {exc.strerror or exc}") from None
        if digest != expected:
            raise BadInput(f"{file_path}: SHA-256 does not match the manifest (corrupt, truncated "
                           "or replaced)")
    vocab = Vocabulary.load(path / "vocab.txt")
    if len(vocab) != manifest["vocab_size"]:
        raise BadInput(f"{path / 'vocab.txt'}: {len(vocab)} tokens, the manifest says "
                       f"{manifest['vocab_size']}")
    if vocab.language != manifest["language"]:
        # !r: the manifest's value may hold a newline, and BadInput is reported as one line
        raise BadInput(f"{path / 'vocab.txt'}: language {vocab.language}, the manifest says "
                       f"{manifest['language']!r}")
    _check_vocab_fits_decoder(manifest_path, manifest, len(vocab))
    if not 2 <= manifest["max_length"] <= 256:
        raise BadInput(f"{manifest_path}: 'max_length' must be 2..256")
    return Bundle(path=path, manifest=manifest, vocab=vocab)


def _check_file_name(manifest_path: Path, name: str) -> None:
    """A bundle's files stay inside the bundle: the manifest is untrusted input."""
    parts = Path(name).parts
    if (not name or Path(name).is_absolute() or ".." in parts or "\\" in name
            or any(c in name for c in "\0\n\r")):
        raise BadInput(f"{manifest_path}: file name {name!r} must be a relative path inside the "
                       "bundle")


def _check_image_section(manifest_path: Path, image: dict) -> None:
    size = image.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and 8 <= v <= 4096 for v in size)):
        raise BadInput(f"{manifest_path}: 'image.size' must be [width, height] in pixels")
    if image.get("colour_order") not in ("RGB", "BGR"):
        raise BadInput(f"{manifest_path}: 'image.colour_order' must be RGB or BGR")
    if image.get("resize") not in ("center_crop", "letterbox", "stretch"):
        raise BadInput(f"{manifest_path}: 'image.resize' must be center_crop, letterbox or stretch")


def _check_tensors_section(manifest_path: Path, tensors: dict, image: dict,
                           evidence: EvidenceSpec | None = None) -> None:
    """'tensors' is {graph: {"inputs"|"outputs": {name: {"shape": [int], "dtype": str}}}}.

    The interpreters compare these entries with the graphs (interpreters.Graph), which trusts
    their types: a list where an object belongs must be BadInput here, not an AttributeError
    there. The encoder's one input is the image that preprocessing makes: a square of
    'image.size', so a size the graph does not take is refused at load, not at the first frame.
    """
    for graph in ("encoder", "decoder"):
        section = tensors.get(graph)
        if not isinstance(section, dict):
            raise BadInput(f"{manifest_path}: 'tensors.{graph}' must be an object")
        for kind in ("inputs", "outputs"):
            entries = section.get(kind)
            if not isinstance(entries, dict) or not entries:
                raise BadInput(f"{manifest_path}: 'tensors.{graph}.{kind}' must be an object "
                               "naming the graph's tensors")
            for name, entry in entries.items():
                where = f"tensors.{graph}.{kind}.{name}"  # shown with !r: a name may hold "\n"
                if not isinstance(entry, dict):
                    raise BadInput(f"{manifest_path}: {where!r} must be an object")
                shape, dtype = entry.get("shape"), entry.get("dtype")
                if not (isinstance(shape, list) and all(
                        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
                    raise BadInput(f"{manifest_path}: {where!r} needs a 'shape': a list of sizes")
                if not (isinstance(dtype, str) and dtype.isascii() and dtype.isalnum()):
                    raise BadInput(f"{manifest_path}: {where!r} needs a 'dtype': a dtype name")
    encoder_inputs = tensors["encoder"]["inputs"]
    if evidence is not None:
        # a grounded bundle's encoder reads the findings vector (evidence.py), not pixels
        if list(encoder_inputs) != ["evidence"] or \
                encoder_inputs["evidence"]["shape"] != [1, evidence.length]:
            raise BadInput(f"{manifest_path}: a grounded bundle's encoder takes the one input "
                           f"'evidence' of shape [1, {evidence.length}]")
        return
    width, height = image["size"]
    if list(encoder_inputs) != ["image"]:
        raise BadInput(f"{manifest_path}: 'tensors.encoder.inputs' must be the one input 'image', "
                       f"not {sorted(encoder_inputs)}")
    if width != height or encoder_inputs["image"]["shape"] != [1, height, width, 3]:
        raise BadInput(f"{manifest_path}: 'image.size' {[width, height]} does not fit the encoder's "
                       f"input shape {encoder_inputs['image']['shape']} (a square image, "
                       "[1, size, size, 3])")


def _check_vocab_fits_decoder(manifest_path: Path, manifest: dict, vocab_size: int) -> None:
    """The decoder's token input and logits output have one entry per vocabulary token: the
    runtime feeds one-hot rows of len(vocab), which a graph of another width refuses mid-caption."""
    wiring = parse_wiring(manifest, manifest_path)
    decoder = manifest["tensors"]["decoder"]
    for kind, name in (("inputs", wiring.token), ("outputs", wiring.logits)):
        entry = decoder[kind].get(name)
        if entry is not None and entry["shape"][-1:] != [vocab_size]:
            raise BadInput(f"{manifest_path}: {f'tensors.decoder.{kind}.{name}'!r} has shape "
                           f"{entry['shape']}, the vocabulary has {vocab_size} tokens")
