"""Real photographs of cardboard boxes beyond the real-photo set: the pins only.

The labelled real photos (real_photos.py, tests/data/real_photos.json) hold one cardboard box
(kpa_spiff_2). A search of documentation and data packages for more (docs/box-detector.md, "Where
a parcel would be") found one: a shipping carton behind the markers of OpenCV's ArUco tutorial,
in the same pinned opencv-doc archive. Where each box is: tests/data/box_photos.json. For
measuring only; nothing is tuned on them.

    load_box_photos() -> (name, BGR frame) for the photos of box_photos.json (kpa_spiff_2 too)
    carton(name) -> a photo's labelled box, cut out
    pasted(scene, thing, width, bottom) -> the scene with `thing` pasted on it, and where

A pasted carton is a collage of real pixels, not a doorstep photograph: the experiments and the
end-to-end delivery say so where they use one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from conversion.pretrained import real_photos
from conversion.pretrained.sources import PackageFile

LABELS = real_photos.TEST_DATA / "box_photos.json"
OCV_HTML = "usr/share/doc/opencv-doc/opencv4/html/"

PHOTOS: dict[str, real_photos.Photo] = {
    # OpenCV's ArUco tutorial, the photo before detection (singlemarkersdetection.jpg and the
    # others are the same photo drawn on)
    "ocv_aruco_box": real_photos.Photo("opencv-doc", OCV_HTML + "singlemarkersoriginal.jpg",
        "669cb5afa78a084e69baa472f5235d136179e409b6a3c5ccda6a457e723d4754"),
}


def labels() -> dict[str, dict]:
    return {im["name"]: im for im in json.loads(LABELS.read_text())["images"]}


def load_box_photos(cache: Path | None = None,
                    offline: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR uint8 frame) for each photo of box_photos.json, the real-photo set's too."""
    names = list(labels())
    yield from real_photos.load_real_photos([n for n in names if n in real_photos.PHOTOS],
                                            cache, offline)
    for key in sorted({PHOTOS[n].source for n in names if n in PHOTOS}):
        mine = [n for n in names if n in PHOTOS and PHOTOS[n].source == key]
        source = replace(real_photos.SOURCES[key],
                         files={n: PackageFile(PHOTOS[n].path, PHOTOS[n].sha256) for n in mine})
        blobs = real_photos.read_members(source, mine, cache, offline)
        for name in mine:
            yield name, real_photos._decode(name, blobs[name], PHOTOS[name].rotate)


def carton(name: str, cache: Path | None = None, offline: bool = False) -> np.ndarray:
    """The first labelled box of a photo of box_photos.json, cut out of it (BGR)."""
    photo = dict(load_box_photos(cache, offline))[name]
    h, w = photo.shape[:2]
    x1, y1, x2, y2 = labels()[name]["boxes"][0]
    return photo[int(y1 * h):int(y2 * h), int(x1 * w):int(x2 * w)]


def pasted(scene: np.ndarray, thing: np.ndarray, width: float,
           bottom: float = 0.95) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """`thing` pasted onto a copy of `scene`, `width` of the scene wide (its aspect kept),
    centred, its bottom at `bottom` (fractions): (frame, its box as fractions of the frame)."""
    h, w = scene.shape[:2]
    tw = max(4, int(width * w))
    th = max(4, int(tw * thing.shape[0] / thing.shape[1]))
    x1, y2 = (w - tw) // 2, min(h, int(bottom * h))
    y1 = max(0, y2 - th)
    out = scene.copy()
    out[y1:y2, x1:x1 + tw] = cv2.resize(thing, (tw, th), interpolation=cv2.INTER_AREA)[th - (y2 - y1):]
    return out, (x1 / w, y1 / h, (x1 + tw) / w, y2 / h)
