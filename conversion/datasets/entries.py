"""What every caption data set format loads into (`CaptionDataset`, one `ImageEntry` per image),
and what the format loaders share: caption languages, data set names and where the images are."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("coco", "flickr8k", "flickr30k", "karpathy")
LANGUAGES = ("en", "zh")

# Sub-directories of a data set directory where the annotation files usually sit.
SEARCH_SUBDIRS = ("", "annotations", "Flickr8k_text", "flickr30k_images")

# CJK ideographs (basic, extension A, compatibility, extensions B..): any one makes a caption "zh".
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


@dataclass
class ImageEntry:
    image_id: str  # stable id as a string (COCO id, Flickr file stem, Karpathy cocoid/imgid)
    file_name: str  # as written in the annotations
    path: Path  # resolved image path (may not exist; see CaptionDataset.missing_images)
    split: str | None  # "train" / "val" / "test" / "restval", or None when the format has none
    captions: dict[str, list[str]] = field(default_factory=dict)  # language -> references
    scene: dict | None = None  # ground-truth scene record (synthetic sets only)
    source: str = ""  # "FILE:LINE" where this image is declared


@dataclass
class CaptionDataset:
    name: str
    format: str  # one of FORMATS
    root: Path  # the directory the annotations were found in
    images: list[ImageEntry]

    @property
    def languages(self) -> list[str]:
        return sorted({lang for e in self.images for lang, caps in e.captions.items() if caps})

    def missing_images(self) -> list[ImageEntry]:
        """Entries whose image file does not exist (one stat per entry per call)."""
        # os.path.isfile is False (not an exception) for unreadable or NUL-containing paths.
        return [e for e in self.images if not os.path.isfile(e.path)]

    def split(self, name: str) -> list[ImageEntry]:
        return [e for e in self.images if e.split == name]


def detect_language(caption: str) -> str:
    return "zh" if _CJK.search(caption) else "en"


def dataset_name(root: Path) -> str:
    folder = root.resolve()
    if folder.name in SEARCH_SUBDIRS:
        folder = folder.parent  # "coco/annotations" is the coco data set
    return folder.name or str(folder)


def pick_image_root(
    candidates: Sequence[Path], probe: str | None, given: Path | None, default: Path | None = None
) -> Path:
    """The first candidate holding the probe image (the first image of the file). When none does,
    the missing images are reported under: the directory the user gave, else `default` (where
    the format's archive puts them), else the first candidate that exists, else the first."""
    if probe is not None:
        for folder in candidates:
            if os.path.isfile(folder / probe):
                return folder
    if given is not None:
        return given
    if default is not None:
        return default
    return next((c for c in candidates if c.is_dir()), candidates[0])


def parse_image_id(value: object) -> str | None:
    """Ids are kept as strings; only integers and non-empty strings are ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None
