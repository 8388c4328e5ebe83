"""Tiny caption data sets on disk, in the layouts the official archives unpack to, with real JPEGs:
`write_dataset` writes one format from a list of (file_name, [captions])."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

Items = Sequence[tuple[str, Sequence[str]]]

ITEMS: list[tuple[str, list[str]]] = [
    ("1000268201_693b08cb0e.jpg", ["A child in a pink dress .", "A girl going into a building ."]),
    ("1001773457_577c3a7d70.jpg", ["A black dog and a spotted dog are fighting"]),
    ("1002674143_1b742ab4b8.jpg", ["A little girl covered in paint", "Painted child", "Kid"]),
]
ZH_ITEMS: list[tuple[str, list[str]]] = [
    ("a.jpg", ["门口有一个人。", "一个穿红衣服的人站在门口"]),
    ("b.jpg", ["客厅里有两只猫"]),
]

# Layout per format: (annotation path relative to root, image folder relative to root).
LAYOUT = {
    "coco": ("annotations/captions_train2014.json", "train2014"),
    "flickr8k": ("Flickr8k_text/Flickr8k.token.txt", "Flicker8k_Dataset"),
    "flickr30k": ("results_20130124.token", "flickr30k_images"),
    "flickr30k-csv": ("flickr30k_images/results.csv", "flickr30k_images/flickr30k_images"),
    "karpathy": ("dataset_coco.json", "val2014"),
    "karpathy-flickr8k": ("dataset_flickr8k.json", "Flicker8k_Dataset"),
}
FLICKR8K_SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
                        "test": "Flickr_8k.testImages.txt"}


def write_jpeg(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)


def write_json(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_text(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def coco_doc(items: Items, first_id: int = 100, language: str | None = None,
             scenes: Sequence[dict] | None = None) -> dict:
    """Image ids first_id.., annotation ids 1.. (different on purpose: they must not be mixed)."""
    images = [{"id": first_id + i, "file_name": name, "height": 16, "width": 16}
              for i, (name, _) in enumerate(items)]
    for image, scene in zip(images, scenes or (), strict=False):
        image["scene"] = scene
    annotations = [
        {"image_id": first_id + i, "id": 0, "caption": caption}
        for i, (_, captions) in enumerate(items) for caption in captions
    ]
    for n, ann in enumerate(annotations, start=1):
        ann["id"] = n
    info = {"description": "test set"} | ({"language": language} if language else {})
    return {"info": info, "images": images, "annotations": annotations}


def write_annotations(root: Path, fmt: str, items: Items,
                      splits: dict[str, str] | None = None) -> Path:
    """The annotation file(s) of `fmt` under root; returns the annotation file."""
    splits = splits or {}
    ann = root / LAYOUT[fmt][0]
    if fmt == "coco":
        return write_json(ann, coco_doc(items))
    if fmt in ("flickr8k", "flickr30k"):
        write_text(ann, [f"{name}#{n}\t{c}" for name, caps in items for n, c in enumerate(caps)])
        if fmt == "flickr8k":
            for split, file_name in FLICKR8K_SPLIT_FILES.items():
                write_text(ann.parent / file_name, [n for n, s in splits.items() if s == split])
        return ann
    if fmt == "flickr30k-csv":
        return write_text(ann, ["image_name| comment_number| comment"]
                          + [f"{name}| {n}| {c}" for name, caps in items
                             for n, c in enumerate(caps)])
    dataset = "coco" if fmt == "karpathy" else "flickr8k"
    images = []
    for i, (name, captions) in enumerate(items):
        image = {"filename": name, "imgid": i, "split": splits.get(name, "train"),
                 "sentids": list(range(len(captions))),
                 "sentences": [{"tokens": c.lower().split(), "raw": c, "imgid": i, "sentid": j}
                               for j, c in enumerate(captions)]}
        if dataset == "coco":
            image |= {"filepath": "val2014", "cocoid": 5000 + i}
        images.append(image)
    return write_json(ann, {"images": images, "dataset": dataset})


def write_dataset(root: Path, fmt: str, items: Items, splits: dict[str, str] | None = None,
                  skip_images: Sequence[str] = ()) -> Path:
    """A tiny data set of `fmt` (a LAYOUT key) with real JPEGs except skip_images; returns the
    annotation file."""
    for i, (name, _) in enumerate(items):
        if name not in skip_images:
            write_jpeg(root / LAYOUT[fmt][1] / name, seed=i)
    return write_annotations(root, fmt, items, splits)


def write_synthetic(root: Path, items_en: Items, items_zh: Items, scenes: Sequence[dict],
                    skip_images: Sequence[str] = ()) -> Path:
    """Like `edge-captioner-convert synth`: captions_en.json + captions_zh.json for the SAME
    images (info.language set), images/ beside them, a scene record per image."""
    for i, (name, _) in enumerate(items_en):
        if name not in skip_images:
            write_jpeg(root / "images" / name, seed=i)
    write_json(root / "captions_en.json", coco_doc(items_en, 0, "en", scenes))
    write_json(root / "captions_zh.json", coco_doc(items_zh, 0, "zh", scenes))
    return root
