"""What the scene heads learn (network.model.CaptionNetwork.scene_training_model, scene_only_model): a
synthetic image's scene record as class targets, and how often a `--scene-only` run's heads are
right."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion.datasets.entries import ImageEntry


@dataclass
class SceneTargets:
    """What the scene heads learn (see network.model.CaptionNetwork.scene_training_model): per image, how many
    of each kind (a class 0..count_classes-1 per kind) and which place."""
    kinds: list[str]
    places: list[str]
    count_classes: int
    counts: np.ndarray  # (N, len(kinds)) int32
    place: np.ndarray  # (N,) int32

    def describe(self) -> dict:
        return {"kinds": self.kinds, "places": self.places, "count_classes": self.count_classes}


def scene_targets(entries: list[ImageEntry], known: dict | None = None) -> SceneTargets | None:
    """Targets from the entries' scene records (synthetic data sets have them), or None when any
    entry has none. `known` (a resumed run's describe()) fixes the kinds, places and classes."""
    if not entries or not all(e.scene for e in entries):
        return None
    records = [e.scene for e in entries]
    if known:
        kinds, places, count_classes = known["kinds"], known["places"], known["count_classes"]
    else:
        kinds = sorted({g["kind"] for r in records for g in r.get("objects", [])})
        places = sorted({r["place"] for r in records})
        count_classes = 1 + max((g["count"] for r in records for g in r.get("objects", [])),
                                default=0)
    kind_index = {k: i for i, k in enumerate(kinds)}
    place_index = {p: i for i, p in enumerate(places)}
    counts = np.zeros((len(records), len(kinds)), np.int32)
    place = np.zeros(len(records), np.int32)
    for n, record in enumerate(records):
        place[n] = place_index.get(record["place"], 0)
        for group in record.get("objects", []):
            if group["kind"] in kind_index:
                counts[n, kind_index[group["kind"]]] = min(group["count"], count_classes - 1)
    return SceneTargets(kinds, places, count_classes, counts, place)


@dataclass
class SceneDetails:
    """What a `--scene-only` run's extra heads learn besides counts and place: the rest of what the
    canonical caption says. Per kind, its colour and its spot (class 0: the kind is absent, k: the
    (k-1)th name), and the lighting. With these the CNN alone learns the whole canonical caption
    (its group order follows from spots and kinds, world.scenes.canonical_order), so a decoder trained
    afterwards on the frozen CNN only has to put it into words."""
    colours: list[str]
    wheres: list[str]
    lightings: list[str]
    colour: np.ndarray  # (N, kinds) int32
    where: np.ndarray  # (N, kinds) int32
    lighting: np.ndarray  # (N,) int32

    def describe(self) -> dict:
        return {"colours": self.colours, "wheres": self.wheres, "lightings": self.lightings}


def scene_details(entries: list[ImageEntry], kinds: list[str],
                  known: dict | None = None) -> SceneDetails:
    """The `SceneDetails` of entries that all have scene records (see scene_targets); `known` (a
    resumed run's describe()) fixes the names. A name this run does not know counts as absent."""
    records = [e.scene for e in entries]
    groups = [g for r in records for g in r.get("objects", [])]
    if known:
        colours, wheres, lightings = known["colours"], known["wheres"], known["lightings"]
    else:
        colours = sorted({str(g.get("colour")) for g in groups})
        wheres = sorted({str(g.get("where")) for g in groups})
        lightings = sorted({str(r.get("lighting")) for r in records})
    kind_index = {k: i for i, k in enumerate(kinds)}
    colour_class = {c: i + 1 for i, c in enumerate(colours)}
    where_class = {w: i + 1 for i, w in enumerate(wheres)}
    lighting_index = {x: i for i, x in enumerate(lightings)}
    colour = np.zeros((len(records), len(kinds)), np.int32)
    where = np.zeros((len(records), len(kinds)), np.int32)
    lighting = np.zeros(len(records), np.int32)
    for n, record in enumerate(records):
        lighting[n] = lighting_index.get(str(record.get("lighting")), 0)
        for group in record.get("objects", []):
            if group["kind"] in kind_index:
                k = kind_index[group["kind"]]
                colour[n, k] = colour_class.get(str(group.get("colour")), 0)
                where[n, k] = where_class.get(str(group.get("where")), 0)
    return SceneDetails(colours, wheres, lightings, colour, where, lighting)


def scene_arrays(scene: SceneTargets, details: SceneDetails | None = None) -> dict[str, np.ndarray]:
    """The scene heads' targets by output name, each indexed by image (what the batches yield)."""
    arrays = {"scene_counts": scene.counts, "scene_place": scene.place}
    if details is not None:
        arrays |= {"scene_colour": details.colour, "scene_where": details.where,
                   "scene_lighting": details.lighting}
    return arrays


def scene_only_accuracy(outputs: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> dict:
    """Validation figures of a `--scene-only` run: `groups`, the share of object groups (a kind
    present in the image) whose count is right (what evaluate's count accuracy measures of the
    captions); `place` and `lighting` per image; `colour` and `where` per group."""
    present = targets["scene_counts"] > 0
    figures = {"groups": "scene_counts", "colour": "scene_colour", "where": "scene_where"}
    result = {}
    for name, key in figures.items():
        if key in outputs:
            right = np.argmax(outputs[key], axis=-1) == targets[key]
            result[name] = float(right[present].mean()) if present.any() else 1.0
    for name in ("place", "lighting"):
        key = f"scene_{name}"
        if key in outputs:
            result[name] = float((np.argmax(outputs[key], axis=-1) == targets[key]).mean())
    return result
