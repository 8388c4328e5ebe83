"""Caption data set loaders: COCO captions, Flickr8k, Flickr30k and Karpathy split JSON.

Every format loads into one model: a `CaptionDataset` holding one `ImageEntry` per image, with
the reference captions per language ("en", "zh"), the split when the format has one, the resolved
image path and the FILE:LINE where the image is declared (for error messages).

`load_dataset(path, images_dir=None)` (here) takes an annotation file or a directory holding one:

| format    | annotation files                                | images (first folder with them) |
| --------- | ----------------------------------------------- | ------------------------------- |
| coco      | `captions_*.json`, also in `annotations/`;      | --images, json_dir/images,      |
|           | several in one folder merge by image id         | json_dir, ../<split><year>, ... |
| flickr8k  | `Flickr8k.token.txt` + `Flickr_8k.*Images.txt`  | `Flicker8k_Dataset/` (sic), ... |
| flickr30k | `results_20130124.token` or `results.csv`       | `flickr30k_images/`, ...        |
| karpathy  | `dataset_coco.json`, `dataset_flickr8k.json`... | root/filepath/filename (coco)   |

A `.json` file with another name is classified by its content. Bad annotations raise `BadInput`
whose message starts with `FILE:LINE:`; missing image files do not (`missing_images()` lists them,
so that `stats` can report every one).
"""


from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from edge_captioner.errors import BadInput

from .coco import load_coco
from .entries import SEARCH_SUBDIRS, CaptionDataset
from .files import JsonFile, read_json
from .flickr import FLICKR8K_LEMMA, FLICKR8K_TOKEN, FLICKR30K_CSV, FLICKR30K_TOKEN, load_flickr
from .karpathy import load_karpathy

log = logging.getLogger(__name__)

LOOKED_FOR = (
    "captions_*.json (COCO, also in annotations/)",
    "dataset_*.json (Karpathy split)",
    f"{FLICKR8K_TOKEN} (Flickr8k)",
    f"{FLICKR30K_TOKEN} or {FLICKR30K_CSV} (Flickr30k)",
)


@dataclass(frozen=True)
class DetectedFormat:
    format: str  # one of FORMATS
    files: tuple[Path, ...]  # the annotation file(s), in load order


# -- detection -----------------------------------------------------------------------------------
def detect_format(path: str | Path) -> DetectedFormat:
    """Which format `path` (a file or a directory) holds, and which annotation files to read.

    A `.json` file whose name says nothing (not captions_* / dataset_*) is parsed to decide.
    """
    path = Path(path)
    kind, files = _locate(path)
    if kind == "json":
        return DetectedFormat(_json_format(read_json(files[0])), files)
    return DetectedFormat(kind, files)


def _locate(path: Path) -> tuple[str, tuple[Path, ...]]:
    """Format and files from names alone; kind "json" means "decide by content"."""
    if path.is_dir():
        return _scan_directory(path)
    if not path.exists():
        raise BadInput(f"{path}: no such file or directory")
    kind = format_from_name(path.name)
    if kind is None:
        raise BadInput(
            f"{path}: not a recognised caption data set file; expected one of: "
            + "; ".join(LOOKED_FOR)
        )
    return kind, (path,)


def format_from_name(name: str) -> str | None:
    """The format a file name announces: a FORMATS entry, "json" (look inside) or None."""
    lower = name.lower()
    if lower.endswith(".json"):
        if lower.startswith("captions_"):
            return "coco"
        if lower.startswith("dataset_"):
            return "karpathy"
        return "json"
    if lower.endswith(".token.txt"):
        return "flickr8k"
    if lower.endswith(".token") or lower.endswith(".csv"):
        return "flickr30k"
    return None


def _scan_directory(directory: Path) -> tuple[str, tuple[Path, ...]]:
    found: dict[str, list[Path]] = {}
    for sub in SEARCH_SUBDIRS:
        folder = directory / sub if sub else directory
        if not folder.is_dir():
            continue
        for kind, files in _candidates_in(folder).items():
            found.setdefault(kind, []).extend(files)
    if not found:
        raise BadInput(
            f"{directory}: no caption data set found; looked for " + "; ".join(LOOKED_FOR)
        )
    if len(found) > 1 or (len(found.get("karpathy", [])) > 1):
        names = ", ".join(str(p) for files in found.values() for p in files)
        raise BadInput(f"{directory}: several data sets found ({names}); pass one file instead")
    ((kind, files),) = found.items()
    if kind in ("flickr8k", "flickr30k"):
        files = files[:1]  # the preferred file of the first folder that has one
    return kind, tuple(files)


def _candidates_in(folder: Path) -> dict[str, list[Path]]:
    """Annotation files in one folder, per format, most preferred first."""
    found: dict[str, list[Path]] = {}
    coco = sorted(folder.glob("captions_*.json"))
    if coco:
        found["coco"] = coco
    karpathy = sorted(folder.glob("dataset_*.json"))
    if karpathy:
        found["karpathy"] = karpathy
    flickr8k = [folder / n for n in (FLICKR8K_TOKEN, FLICKR8K_LEMMA) if (folder / n).is_file()]
    if flickr8k:
        if flickr8k[0].name == FLICKR8K_LEMMA:
            log.warning("%s: using the lemmatised captions (no %s)", flickr8k[0], FLICKR8K_TOKEN)
        found["flickr8k"] = flickr8k
    flickr30k = [folder / n for n in (FLICKR30K_TOKEN, FLICKR30K_CSV) if (folder / n).is_file()]
    if flickr30k:
        found["flickr30k"] = flickr30k
    return found


def _json_format(jf: JsonFile) -> str:
    """COCO has top-level "annotations"; Karpathy has "images" whose entries hold "sentences"."""
    doc = jf.doc
    if isinstance(doc, dict):
        if "annotations" in doc:
            return "coco"
        images = doc.get("images")
        if "dataset" in doc or (
            isinstance(images, list) and images and isinstance(images[0], dict)
            and "sentences" in images[0]
        ):
            return "karpathy"
    raise BadInput(
        f"{jf.path}:1: neither a COCO captions file (keys 'images' and 'annotations') nor a "
        "Karpathy split file (key 'images' with 'sentences')"
    )


# -- loading -------------------------------------------------------------------------------------
def load_dataset(path: str | Path, images_dir: str | Path | None = None) -> CaptionDataset:
    """Load a caption data set (see the module docstring for formats and image directories)."""
    path = Path(path)
    images = Path(images_dir) if images_dir is not None else None
    if images is not None and not images.is_dir():
        raise BadInput(f"{images}: image directory does not exist")
    kind, files = _locate(path)
    if kind in ("json", "coco", "karpathy"):
        parsed = [read_json(f) for f in files]
        if kind == "json":
            kind = _json_format(parsed[0])
        if kind == "coco":
            return load_coco(parsed, images)
        return load_karpathy(parsed[0], images)
    if kind == "flickr8k":
        return load_flickr(files[0], "flickr8k", images)
    return load_flickr(files[0], "flickr30k", images)
