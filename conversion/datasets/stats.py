"""`edge-captioner-convert stats DATA [--images DIR] [--json]`: check a data set before training.

Loads the data set (`conversion.datasets.load.load_dataset`, any supported format) and reports what
training would see. `dataset_stats(ds)` computes the report as a dict; `format_report` renders it
as a compact table; `--json` prints the dict as one JSON object with these keys (stable):

    name            data set name (the folder's, or Karpathy's "dataset")
    format          "coco" | "flickr8k" | "flickr30k" | "karpathy"
    root            the directory the annotations were found in
    languages       caption languages present, e.g. ["en", "zh"]
    images          {"total": int, "by_split": {split: int}}; images without a split count
                    under "none"
    captions        {lang: {"total": int, "per_image": {"min": int, "mean": float, "max": int}}};
                    per image over ALL images (an image without captions in lang counts 0)
    missing_images  {"count": int, "first": [{"file_name", "path", "source"}]} (first 5;
                    path as composed from DATA/--images; source is the FILE:LINE where the
                    image is declared)
    vocabulary      {lang: {"unit": "word" | "char", "seen": int, "min_count": int,
                    "at_min_count": int}}: distinct caption tokens seen at least once, and at
                    least min_count times (conversion.datasets.tokenizer.DEFAULT_MIN_COUNT; the
                    vocabulary file adds 4 special tokens to that)
    caption_length  {lang: {"min", "mean", "median", "p95", "max": number,
                    "histogram": [{"from": int, "to": int, "count": int}]}} in tokens
                    (bins are inclusive, at most 10)
    scenes          null, or for synthetic sets (images with a ground-truth scene):
                    {"images": int, "places": {place: int}, "lighting": {lighting: int},
                    "object_kinds": {kind: objects}, "objects_per_image": {"0": int, ...}}

Exit 0 when all is well. When image files are missing the report is printed all the same, then
one line on stderr (`FILE:LINE: 3 of 200 images missing, first: images/x.jpg`) and exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from edge_captioner.bundle.vocab import UNITS, tokenize
from edge_captioner.errors import BadInput

from .entries import CaptionDataset, ImageEntry
from .load import load_dataset
from .tokenizer import DEFAULT_MIN_COUNT

MISSING_SHOWN = 5
HISTOGRAM_BINS = 10
BAR_WIDTH = 30


# -- computation ---------------------------------------------------------------------------------
def dataset_stats(ds: CaptionDataset) -> dict:
    """The whole report as a JSON-serialisable dict (keys in the module docstring)."""
    languages = ds.languages
    token_stats = {lang: _token_stats(_captions_of(ds.images, lang), lang) for lang in languages}
    return {
        "name": ds.name,
        "format": ds.format,
        "root": str(ds.root),
        "languages": languages,
        "images": {"total": len(ds.images), "by_split": split_counts(ds.images)},
        "captions": {lang: caption_counts(ds.images, lang) for lang in languages},
        "missing_images": missing_report(ds.missing_images()),
        "vocabulary": {lang: token_stats[lang]["vocabulary"] for lang in languages},
        "caption_length": {lang: token_stats[lang]["length"] for lang in languages},
        "scenes": scene_stats(ds.images),
    }


def split_counts(images: Sequence[ImageEntry]) -> dict[str, int]:
    counts = Counter(e.split if e.split is not None else "none" for e in images)
    return dict(sorted(counts.items(), key=lambda kv: _split_rank(kv[0])))


def _split_rank(split: str) -> tuple[int, str]:
    order = ("train", "restval", "val", "test", "none")
    return (order.index(split) if split in order else len(order) - 1, split)


def _captions_of(images: Iterable[ImageEntry], lang: str) -> list[str]:
    return [c for e in images for c in e.captions.get(lang, ())]


def caption_counts(images: Sequence[ImageEntry], lang: str) -> dict:
    per_image = [len(e.captions.get(lang, ())) for e in images]
    return {
        "total": sum(per_image),
        "per_image": {
            "min": min(per_image, default=0),
            "mean": round(sum(per_image) / len(per_image), 2) if per_image else 0.0,
            "max": max(per_image, default=0),
        },
    }


def _token_stats(captions: Sequence[str], lang: str) -> dict:
    """Vocabulary and lengths in one tokenising pass (COCO train has 414k captions)."""
    counter: Counter[str] = Counter()
    lengths: list[int] = []
    for caption in captions:
        tokens = tokenize(caption, lang)
        counter.update(tokens)
        lengths.append(len(tokens))
    min_count = DEFAULT_MIN_COUNT[lang]
    return {
        "vocabulary": {
            "unit": UNITS[lang],
            "seen": len(counter),
            "min_count": min_count,
            "at_min_count": sum(1 for n in counter.values() if n >= min_count),
        },
        "length": length_stats(lengths),
    }


def length_stats(lengths: Sequence[int]) -> dict:
    if not lengths:
        return {"min": 0, "mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0, "histogram": []}
    arr = np.asarray(lengths)
    median, p95 = np.percentile(arr, [50, 95])
    return {
        "min": int(arr.min()),
        "mean": round(float(arr.mean()), 2),
        "median": round(float(median), 2),
        "p95": round(float(p95), 2),
        "max": int(arr.max()),
        "histogram": histogram(lengths),
    }


def histogram(values: Sequence[int], max_bins: int = HISTOGRAM_BINS) -> list[dict]:
    """Equal-width integer bins [from, to] (inclusive) covering min..max, at most max_bins."""
    lo, hi = min(values), max(values)
    width = max(1, math.ceil((hi - lo + 1) / max_bins))
    counts = Counter((v - lo) // width for v in values)
    n_bins = (hi - lo) // width + 1
    return [
        {"from": lo + b * width, "to": min(hi, lo + (b + 1) * width - 1), "count": counts.get(b, 0)}
        for b in range(n_bins)
    ]


def missing_report(missing: Sequence[ImageEntry]) -> dict:
    """Paths as composed from the user's DATA/--images: relative stays relative, so a path can be
    pasted into `ls` from where the command ran."""
    return {
        "count": len(missing),
        "first": [
            {"file_name": e.file_name, "path": str(e.path), "source": e.source}
            for e in missing[:MISSING_SHOWN]
        ],
    }


def scene_stats(images: Sequence[ImageEntry]) -> dict | None:
    """Ground-truth distributions of a synthetic set; None when no image carries a scene."""
    scenes = [e.scene for e in images if e.scene is not None]
    if not scenes:
        return None
    kinds: Counter[str] = Counter()
    per_image: Counter[int] = Counter()
    for scene in scenes:
        groups = [g for g in scene.get("objects") or () if isinstance(g, dict)]
        counts = [_group_count(g) for g in groups]
        for group, n in zip(groups, counts, strict=True):
            kinds[str(group.get("kind", "?"))] += n
        per_image[sum(counts)] += 1
    return {
        "images": len(scenes),
        "places": _sorted_counts(str(s.get("place", "?")) for s in scenes),
        "lighting": _sorted_counts(str(s.get("lighting", "?")) for s in scenes),
        "object_kinds": dict(kinds.most_common()),
        "objects_per_image": {str(n): per_image[n] for n in sorted(per_image)},
    }


def _group_count(group: dict) -> int:
    count = group.get("count", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) else 1


def _sorted_counts(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())


# -- rendering -----------------------------------------------------------------------------------
def format_report(stats: dict) -> str:
    lines = [
        f"data set   {stats['name']}  ({stats['format']})",
        f"root       {stats['root']}",
        f"images     {stats['images']['total']}  ("
        + ", ".join(f"{k} {v}" for k, v in stats["images"]["by_split"].items()) + ")",
        "",
    ]
    lines += _table(
        [["language", "captions", "per image", "vocabulary", "length (tokens)"],
         ["", "", "min/mean/max", "seen / >=min", "min/mean/median/p95/max"]]
        + [_language_row(stats, lang) for lang in stats["languages"]]
    )
    lines += _missing_lines(stats["missing_images"], stats["images"]["total"])
    for lang in stats["languages"]:
        lines += _histogram_lines(lang, stats["vocabulary"][lang]["unit"],
                                  stats["caption_length"][lang]["histogram"])
    if stats["scenes"]:
        lines += _scene_lines(stats["scenes"])
    return "\n".join(lines)


def _language_row(stats: dict, lang: str) -> list[str]:
    caps = stats["captions"][lang]
    per = caps["per_image"]
    vocab = stats["vocabulary"][lang]
    length = stats["caption_length"][lang]
    return [
        lang,
        str(caps["total"]),
        f"{per['min']} / {per['mean']:g} / {per['max']}",
        f"{vocab['seen']} / {vocab['at_min_count']} (>={vocab['min_count']})",
        " / ".join(f"{length[k]:g}" for k in ("min", "mean", "median", "p95", "max")),
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _missing_lines(missing: dict, total: int) -> list[str]:
    if not missing["count"]:
        return ["", "missing    none (every image file exists)"]
    lines = ["", f"missing    {missing['count']} of {total} image files"]
    lines += [f"           {m['path']}  (declared at {m['source']})" for m in missing["first"]]
    if missing["count"] > len(missing["first"]):
        lines.append(f"           ... and {missing['count'] - len(missing['first'])} more")
    return lines


def _histogram_lines(lang: str, unit: str, bins: list[dict]) -> list[str]:
    if not bins:
        return []
    top = max(b["count"] for b in bins) or 1
    labels = [f"{b['from']}" if b["from"] == b["to"] else f"{b['from']}-{b['to']}" for b in bins]
    width = max(len(label) for label in labels)
    lines = ["", f"caption length, {lang} ({unit}s)"]
    for label, b in zip(labels, bins, strict=True):
        bar = "#" * math.ceil(BAR_WIDTH * b["count"] / top)
        lines.append(f"  {label.rjust(width)}  {bar.ljust(BAR_WIDTH)}  {b['count']}")
    return lines


def _scene_lines(scenes: dict) -> list[str]:
    def join(counts: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"

    return [
        "",
        f"scenes     {scenes['images']} images with ground truth",
        f"  places     {join(scenes['places'])}",
        f"  lighting   {join(scenes['lighting'])}",
        f"  objects    {join(scenes['object_kinds'])}",
        "  objects per image  "
        + ", ".join(f"{n}: {images}" for n, images in scenes["objects_per_image"].items())
        + "  (objects: images)",
    ]


# -- command -------------------------------------------------------------------------------------
def missing_error(stats: dict) -> str | None:
    """The one-line exit-2 message when image files are missing, else None."""
    missing = stats["missing_images"]
    if not missing["count"]:
        return None
    first = missing["first"][0]
    return (
        f"{first['source']}: {missing['count']} of {stats['images']['total']} images missing, "
        f"first: {first['path']}"
    )


def cmd_stats(args: argparse.Namespace) -> int:
    ds = load_dataset(args.data, getattr(args, "images", None))
    stats = dataset_stats(ds)
    if getattr(args, "json", False):
        print(json.dumps(stats, ensure_ascii=False))
    else:
        print(format_report(stats))
    error = missing_error(stats)
    if error:
        raise BadInput(error)
    return 0
