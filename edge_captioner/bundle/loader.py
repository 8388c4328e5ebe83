"""Model bundles: a directory with manifest.json, encoder.tflite, decoder.tflite and vocab.txt.

`load_bundle` validates everything that can be checked without an interpreter (the manifest's
keys and types, every file's SHA-256, the vocabulary); `model/runtime.py` then checks the graphs'
tensors against the manifest. Any failure is `BadInput` naming the file and the problem (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .choices import MANIFEST_FILE, VOCAB_FILE
from .manifest import Manifest
from .perception_specs import PerceptionSpec
from .sections import EvidenceSpec, FactsSpec
from .vocab import Vocabulary
from .wiring import DecoderWiring

DEFAULT_BUNDLES_DIR = Path(__file__).resolve().parent.parent / "data" / "bundles"
# default-en/-zh: grounded captions of the real-world encoder's findings; render-en: the model
# trained on our renders alone (the tests' image-CNN bundle; it invents people on real photos)
DEFAULT_BUNDLE_NAMES = {"default": "default-en", "default-en": "default-en",
                        "default-zh": "default-zh", "render-en": "render-en"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """manifest.json, replaced at once (a reader never sees half of it)."""
    tmp = directory / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(directory / MANIFEST_FILE)


@dataclass
class Bundle:
    path: Path
    manifest: Manifest
    vocab: Vocabulary

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def language(self) -> str:
        return self.manifest.language

    @property
    def image_size(self) -> tuple[int, int]:
        return self.manifest.image.size

    @property
    def max_length(self) -> int:
        return self.manifest.max_length

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def evidence(self) -> EvidenceSpec | FactsSpec | None:
        """For a grounded bundle: how its encoder's input is built from the findings."""
        return self.manifest.evidence

    @property
    def perception(self) -> PerceptionSpec | None:
        """The real-world detector and classifier (perception.py), if the bundle has them."""
        return self.manifest.perception

    @property
    def wiring(self) -> DecoderWiring:
        """How the encoder and decoder connect (wiring.py); derived for old Show-and-Tell bundles."""
        return self.manifest.wiring


def resolve_bundle_path(spec: str | Path | None) -> Path:
    """A path, or one of the names of the bundles shipped in the package ("default", ...)."""
    spec = str(spec or "default")
    if spec in DEFAULT_BUNDLE_NAMES:
        return DEFAULT_BUNDLES_DIR / DEFAULT_BUNDLE_NAMES[spec]
    return Path(spec).expanduser()


def read_manifest(path: Path) -> Manifest:
    """A bundle directory's manifest.json, read and validated (Manifest.from_json)."""
    manifest_path = path / MANIFEST_FILE
    if manifest_path.exists() and not manifest_path.is_file():
        # a FIFO would block the read below forever (the other files are checked with is_file)
        raise BadInput(f"{manifest_path}: not a regular file")
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
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
    return Manifest.from_json(document, manifest_path)


def load_bundle(spec: str | Path | None = None, verify_hashes: bool = True) -> Bundle:
    path = resolve_bundle_path(spec)
    if not path.is_dir():
        raise BadInput(f"{path}: bundle directory not found")
    manifest = read_manifest(path)
    manifest_path = path / MANIFEST_FILE
    manifest.check_runnable(manifest_path)
    # each file the manifest needs must be there, unchanged
    for name in manifest.needed_files:
        file_path = path / name
        expected = manifest.files[name]
        if not file_path.is_file():
            raise BadInput(f"{file_path}: missing from the bundle")
        try:
            digest = file_sha256(file_path) if verify_hashes else expected
        except OSError as exc:  # permission denied (the service's user), an I/O error
            raise BadInput(f"{file_path}: cannot read: {exc.strerror or exc}") from None
        if digest != expected:
            raise BadInput(f"{file_path}: SHA-256 does not match the manifest (corrupt, truncated "
                           "or replaced)")
    vocab_path = path / VOCAB_FILE
    vocab = Vocabulary.load(vocab_path)
    if len(vocab) != manifest.vocab_size:
        raise BadInput(f"{vocab_path}: {len(vocab)} tokens, the manifest says "
                       f"{manifest.vocab_size}")
    if vocab.language != manifest.language:
        # !r: the manifest's value may hold a newline, and BadInput is reported as one line
        raise BadInput(f"{vocab_path}: language {vocab.language}, the manifest says "
                       f"{manifest.language!r}")
    _check_vocab_fits_decoder(manifest_path, manifest, len(vocab))
    return Bundle(path=path, manifest=manifest, vocab=vocab)


def _check_vocab_fits_decoder(manifest_path: Path, manifest: Manifest, vocab_size: int) -> None:
    """The decoder's token input and logits output have one entry per vocabulary token: the
    runtime feeds one-hot rows of len(vocab), which a graph of another width refuses mid-caption."""
    wiring = manifest.wiring
    decoder = manifest.tensors.decoder
    for kind, name in (("inputs", wiring.token), ("outputs", wiring.logits)):
        entry = getattr(decoder, kind).get(name)
        if entry is not None and list(entry.shape[-1:]) != [vocab_size]:
            raise BadInput(f"{manifest_path}: {f'tensors.decoder.{kind}.{name}'!r} has shape "
                           f"{list(entry.shape)}, the vocabulary has {vocab_size} tokens")
