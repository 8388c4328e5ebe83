"""Caption data set loaders: COCO captions, Flickr8k, Flickr30k and Karpathy split JSON.

Every format loads into one model: a `CaptionDataset` holding one `ImageEntry` per image, with
the reference captions per language ("en", "zh"), the split when the format has one, the resolved
image path and the FILE:LINE where the image is declared (for error messages).

`load_dataset(path, images_dir=None)` takes an annotation file or a directory holding one:

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

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from edge_captioner.errors import BadInput

log = logging.getLogger(__name__)

FORMATS = ("coco", "flickr8k", "flickr30k", "karpathy")
LANGUAGES = ("en", "zh")

FLICKR8K_TOKEN = "Flickr8k.token.txt"
FLICKR8K_LEMMA = "Flickr8k.lemma.token.txt"  # lemmatised captions: only when nothing better exists
FLICKR8K_SPLITS = {
    "Flickr_8k.trainImages.txt": "train",
    "Flickr_8k.devImages.txt": "val",
    "Flickr_8k.testImages.txt": "test",
}
FLICKR30K_TOKEN = "results_20130124.token"
FLICKR30K_CSV = "results.csv"
FLICKR30K_CSV_HEADER = ("image_name", "comment_number", "comment")

FLICKR8K_IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset", "Images", "images")
# Kaggle's Flickr30k archive nests the images one level deeper, next to results.csv.
FLICKR30K_IMAGE_DIRS = (
    "flickr30k_images", "flickr30k-images", "images", "flickr30k_images/flickr30k_images",
)

# Sub-directories of a data set directory where the annotation files usually sit.
SEARCH_SUBDIRS = ("", "annotations", "Flickr8k_text", "flickr30k_images")
LOOKED_FOR = (
    "captions_*.json (COCO, also in annotations/)",
    "dataset_*.json (Karpathy split)",
    f"{FLICKR8K_TOKEN} (Flickr8k)",
    f"{FLICKR30K_TOKEN} or {FLICKR30K_CSV} (Flickr30k)",
)

# CJK ideographs (basic, extension A, compatibility, extensions B..): any one makes a caption "zh".
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_DIGITS = re.compile(r"[0-9]+")
_SPLIT_IN_NAME = re.compile(r"(train|val|test)", re.IGNORECASE)


# -- the common model ----------------------------------------------------------------------------
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
        return DetectedFormat(_json_format(_read_json(files[0])), files)
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


def _json_format(jf: _JsonFile) -> str:
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
        parsed = [_read_json(f) for f in files]
        if kind == "json":
            kind = _json_format(parsed[0])
        if kind == "coco":
            return _load_coco(parsed, images)
        return _load_karpathy(parsed[0], images)
    if kind == "flickr8k":
        return _load_flickr(files[0], "flickr8k", images)
    return _load_flickr(files[0], "flickr30k", images)


def detect_language(caption: str) -> str:
    return "zh" if _CJK.search(caption) else "en"


def _dataset_name(root: Path) -> str:
    folder = root.resolve()
    if folder.name in SEARCH_SUBDIRS:
        folder = folder.parent  # "coco/annotations" is the coco data set
    return folder.name or str(folder)


def _pick_image_root(
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


def _image_id(value: object) -> str | None:
    """Ids are kept as strings; only integers and non-empty strings are ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# -- JSON files and their line numbers -----------------------------------------------------------
@dataclass
class _JsonFile:
    """A parsed JSON annotation file and its raw text, kept to give errors a line number.

    json.load keeps no positions, and a second, position-tracking parser of a 90 MB file in Python
    would be slow, so lines are found in the raw text with a regular expression: the N-th entry of
    an array is at the N-th `"key":` of a key that every entry has exactly once ("file_name" for
    COCO images). In valid JSON that pattern only matches a real key (quotes inside strings are
    escaped), so it is exact when the count matches; otherwise the line of the array's own key is
    the best we can say. Real COCO files are one long line, so messages also name the entry.
    """

    path: Path
    text: str
    doc: object

    def key_lines(self, key: str) -> list[int]:
        lines: list[int] = []
        line, last = 1, 0
        for match in re.finditer(rf'"{re.escape(key)}"\s*:', self.text):
            line += self.text.count("\n", last, match.start())
            last = match.start()
            lines.append(line)
        return lines

    def entry_lines(self, array_key: str, count: int, keys: Sequence[str]) -> list[int]:
        """The line of each of `count` entries of the array `array_key`."""
        for key in keys:
            lines = self.key_lines(key)
            if len(lines) == count:
                return lines
        first = self.key_lines(array_key)
        return [first[0] if first else 1] * count

    def fail(self, message: str, line: int = 1) -> NoReturn:
        raise BadInput(f"{self.path}:{line}: {message}")

    def fail_entry(
        self, array_key: str, index: int, count: int, keys: Sequence[str], message: str
    ) -> NoReturn:
        self.fail(message, self.entry_lines(array_key, count, keys)[index])

    def require_list(self, doc: dict, key: str, what: str) -> list:
        if key not in doc:
            self.fail(f"missing key {key!r} ({what})")
        value = doc[key]
        if not isinstance(value, list):
            lines = self.key_lines(key)
            line = lines[0] if lines else 1
            self.fail(f"{key!r} must be a list, got {type(value).__name__}", line)
        return value


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate a BOM, as Windows editors write one
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None


def _read_json(path: Path) -> _JsonFile:
    text = _read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise BadInput(f"{path}:1: invalid JSON: {exc}") from None
    return _JsonFile(path, text, doc)


# -- COCO ----------------------------------------------------------------------------------------
def _load_coco(files: Sequence[_JsonFile], images_dir: Path | None) -> CaptionDataset:
    merged: dict[str, ImageEntry] = {}
    for jf in files:
        for entry in _coco_entries(jf, images_dir):
            _merge(merged, entry)
    root = files[0].path.parent
    return CaptionDataset(_dataset_name(root), "coco", root, list(merged.values()))


def _merge(merged: dict[str, ImageEntry], entry: ImageEntry) -> None:
    """Same image id in several files (e.g. captions_en.json + captions_zh.json): one entry."""
    old = merged.get(entry.image_id)
    if old is None:
        merged[entry.image_id] = entry
        return
    if old.file_name != entry.file_name:
        raise BadInput(
            f"{entry.source}: image id {entry.image_id} is {entry.file_name!r} here but "
            f"{old.file_name!r} at {old.source}"
        )
    for lang, caps in entry.captions.items():
        old.captions.setdefault(lang, []).extend(caps)
    old.split = old.split or entry.split
    old.scene = old.scene if old.scene is not None else entry.scene


def split_from_name(name: str) -> str | None:
    match = _SPLIT_IN_NAME.search(name)
    return match.group(1).lower() if match else None


def _coco_language(jf: _JsonFile, doc: dict) -> str | None:
    """info.language when the file states one (our synthetic sets do), else None."""
    info = doc.get("info")
    if not isinstance(info, dict) or "language" not in info:
        return None
    value = info["language"]
    lang = re.split(r"[-_]", value)[0].lower() if isinstance(value, str) else None
    if lang not in LANGUAGES:
        lines = jf.key_lines("language")
        jf.fail(
            f"unsupported info.language {value!r} (supported: {', '.join(LANGUAGES)})",
            lines[0] if lines else 1,
        )
    return lang


def _coco_image_dirs(json_dir: Path, file_name: str) -> tuple[list[Path], Path]:
    """Candidate image folders of a COCO captions file, and where images belong when none has
    them: ../train2014 next to annotations/ (the official zips), else images/ (our synth sets)."""
    stem = Path(file_name).stem
    part = stem[len("captions_"):] if stem.lower().startswith("captions_") else stem
    candidates = [json_dir / "images", json_dir]
    if part:
        candidates += [json_dir.parent / part, json_dir.parent / "images" / part]
    candidates += [json_dir.parent / "images", json_dir.parent]
    official = json_dir.name == "annotations" and part
    return candidates, json_dir.parent / part if official else json_dir / "images"


def _coco_entries(jf: _JsonFile, images_dir: Path | None) -> list[ImageEntry]:
    doc = jf.doc
    if not isinstance(doc, dict):
        jf.fail(f"expected a COCO captions object with 'images' and 'annotations', "
                f"got a JSON {type(doc).__name__}")
    images = jf.require_list(doc, "images", "a COCO captions file has 'images' and 'annotations'")
    annotations = jf.require_list(doc, "annotations",
                                  "a COCO captions file has 'images' and 'annotations'")
    language = _coco_language(jf, doc)
    split = split_from_name(jf.path.name)
    entries = _coco_images(jf, images, split)
    first = next(iter(entries.values()), None)
    candidates, default = _coco_image_dirs(jf.path.parent, jf.path.name)
    if images_dir is not None:
        candidates.insert(0, images_dir)
    root = _pick_image_root(candidates, first.file_name if first else None, images_dir, default)
    for entry in entries.values():
        entry.path = root / entry.file_name
    _add_coco_captions(jf, annotations, entries, language)
    return list(entries.values())


def _coco_images(jf: _JsonFile, images: list, split: str | None) -> dict[str, ImageEntry]:
    n = len(images)
    lines = jf.entry_lines("images", n, ("file_name",))
    entries: dict[str, ImageEntry] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            jf.fail(f"images[{i}] must be an object", lines[i])
        for key in ("id", "file_name"):
            if key not in img:
                jf.fail(f"images[{i}]: missing key {key!r}", lines[i])
        image_id = _image_id(img["id"])
        if image_id is None:
            jf.fail(f"images[{i}]: 'id' must be an integer or a string, got {img['id']!r}",
                    lines[i])
        file_name = img["file_name"]
        if not isinstance(file_name, str) or not file_name.strip():
            jf.fail(f"images[{i}] (id {image_id}): 'file_name' must be a non-empty string",
                    lines[i])
        if image_id in entries:
            jf.fail(f"images[{i}]: duplicate image id {image_id} (first at "
                    f"{entries[image_id].source})", lines[i])
        scene = img.get("scene")
        entries[image_id] = ImageEntry(
            image_id=image_id,
            file_name=file_name,
            path=Path(file_name),  # re-rooted once the image folder is known
            split=split,
            scene=scene if isinstance(scene, dict) else None,
            source=f"{jf.path}:{lines[i]}",
        )
    return entries


def _add_coco_captions(
    jf: _JsonFile, annotations: list, entries: dict[str, ImageEntry], language: str | None
) -> None:
    n = len(annotations)

    def fail(i: int, keys: Sequence[str], message: str) -> NoReturn:
        jf.fail_entry("annotations", i, n, keys, message)

    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            fail(i, ("caption", "image_id"), f"annotations[{i}] must be an object")
        what = f"annotations[{i}]" + (f" (id {ann['id']})" if "id" in ann else "")
        for key in ("image_id", "caption"):
            if key not in ann:
                fail(i, ("caption", "image_id"), f"{what}: missing key {key!r}")
        image_id = _image_id(ann["image_id"])
        caption = ann["caption"]
        if not isinstance(caption, str):
            fail(i, ("caption",), f"{what}: 'caption' must be a string, got {caption!r}")
        if not caption.strip():
            fail(i, ("caption",), f"{what}: empty caption for image {ann['image_id']!r}")
        if image_id is None or image_id not in entries:
            fail(i, ("image_id", "caption"),
                 f"{what}: image_id {ann['image_id']!r} is not in 'images'")
        lang = language or detect_language(caption)
        entries[image_id].captions.setdefault(lang, []).append(caption)


# -- Karpathy split JSON -------------------------------------------------------------------------
def _load_karpathy(jf: _JsonFile, images_dir: Path | None) -> CaptionDataset:
    doc = jf.doc
    if not isinstance(doc, dict):
        jf.fail(f"expected a Karpathy split object with 'images', got a JSON {type(doc).__name__}")
    images = jf.require_list(doc, "images", "a Karpathy split file has 'images' with 'sentences'")
    dataset = doc.get("dataset") if isinstance(doc.get("dataset"), str) else ""
    entries = _karpathy_images(jf, images)
    _add_karpathy_sentences(jf, images, entries)
    json_dir = jf.path.parent
    rel = [_karpathy_relpath(img) for img in images]
    root = _pick_image_root(
        _karpathy_image_dirs(json_dir, dataset, rel, images_dir), rel[0] if rel else None,
        images_dir,
    )
    for entry, relpath in zip(entries, rel, strict=True):
        entry.path = root / relpath
    return CaptionDataset(dataset or _dataset_name(json_dir), "karpathy", json_dir, entries)


def _karpathy_relpath(img: dict) -> str:
    # Only the coco file has "filepath" (train2014 / val2014); Flickr images sit in one folder.
    filepath = img.get("filepath")
    if isinstance(filepath, str) and filepath:
        return f"{filepath}/{img['filename']}"
    return img["filename"]


def _karpathy_image_dirs(
    json_dir: Path, dataset: str, rel: list[str], images_dir: Path | None
) -> list[Path]:
    given = [images_dir] if images_dir is not None else []
    if rel and "/" in rel[0]:  # coco: root/filepath/filename
        return given + [json_dir, json_dir / "images", json_dir.parent, json_dir.parent / "images"]
    if "8k" in dataset:
        names: Iterable[str] = FLICKR8K_IMAGE_DIRS
    elif "30k" in dataset:
        names = FLICKR30K_IMAGE_DIRS
    else:
        names = dict.fromkeys(FLICKR8K_IMAGE_DIRS + FLICKR30K_IMAGE_DIRS)
    return given + [base / n for base in (json_dir, json_dir.parent) for n in names]


def _karpathy_images(jf: _JsonFile, images: list) -> list[ImageEntry]:
    n = len(images)
    lines = jf.entry_lines("images", n, ("filename",))
    entries: list[ImageEntry] = []
    seen: dict[str, str] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            jf.fail(f"images[{i}] must be an object", lines[i])
        for key in ("filename", "sentences"):
            if key not in img:
                jf.fail(f"images[{i}]: missing key {key!r}", lines[i])
        file_name = img["filename"]
        if not isinstance(file_name, str) or not file_name.strip():
            jf.fail(f"images[{i}]: 'filename' must be a non-empty string", lines[i])
        if not isinstance(img["sentences"], list):
            jf.fail(f"images[{i}] ({file_name}): 'sentences' must be a list", lines[i])
        if "filepath" in img and not isinstance(img["filepath"], str):
            jf.fail(f"images[{i}] ({file_name}): 'filepath' must be a string", lines[i])
        image_id = _image_id(img.get("cocoid")) or _image_id(img.get("imgid"))
        image_id = image_id or Path(file_name).stem
        source = f"{jf.path}:{lines[i]}"
        if image_id in seen:
            jf.fail(f"images[{i}]: duplicate image id {image_id} (first at {seen[image_id]})",
                    lines[i])
        seen[image_id] = source
        split = img.get("split")
        entries.append(ImageEntry(
            image_id=image_id,
            file_name=file_name,
            path=Path(file_name),  # re-rooted once the image folder is known
            split=split if isinstance(split, str) and split else None,
            source=source,
        ))
    return entries


def _karpathy_caption(sentence: dict) -> str | None:
    """`raw`, or the tokens joined when a file has no raw text; None when neither is usable."""
    if "raw" in sentence:
        raw = sentence["raw"]
        return raw if isinstance(raw, str) else None
    tokens = sentence.get("tokens")
    if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
        return " ".join(tokens)
    return None


def _add_karpathy_sentences(jf: _JsonFile, images: list, entries: list[ImageEntry]) -> None:
    n_sentences = sum(len(img["sentences"]) for img in images)
    keys = ("raw", "sentid", "tokens")
    k = 0  # running index over all sentences of the file, to find their lines
    for i, (img, entry) in enumerate(zip(images, entries, strict=True)):
        for j, sentence in enumerate(img["sentences"]):
            what = f"images[{i}] ({entry.file_name}) sentences[{j}]"
            if not isinstance(sentence, dict):
                jf.fail_entry("images", k, n_sentences, keys, f"{what} must be an object")
            caption = _karpathy_caption(sentence)
            if caption is None:
                jf.fail_entry("images", k, n_sentences, keys,
                              f"{what}: missing key 'raw' (or a 'tokens' list of strings)")
            if not caption.strip():
                jf.fail_entry("images", k, n_sentences, keys, f"{what}: empty caption")
            entry.captions.setdefault(detect_language(caption), []).append(caption)
            k += 1


# -- Flickr8k / Flickr30k ------------------------------------------------------------------------
def _text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the non-blank lines. Split on "\\n" only: str.splitlines would
    also split on form feeds and U+2028 and shift the line numbers an editor shows."""
    lines = _read_text(path).split("\n")
    return [(i, line.rstrip("\r")) for i, line in enumerate(lines, start=1) if line.strip()]


def parse_token_lines(path: Path) -> list[tuple[int, str, str]]:
    """`IMAGE#N<TAB>caption` lines -> (line number, image file name, caption)."""
    rows: list[tuple[int, str, str]] = []
    for lineno, line in _text_lines(path):
        if "\t" not in line:
            raise BadInput(
                f"{path}:{lineno}: expected 'IMAGE#N<TAB>caption', no TAB in {_preview(line)}"
            )
        ref, caption = line.split("\t", 1)
        name, sep, number = ref.strip().rpartition("#")
        if not sep or not _DIGITS.fullmatch(number) or not name:
            raise BadInput(
                f"{path}:{lineno}: expected 'IMAGE#N' before the TAB (N the caption number), "
                f"got {_preview(ref)}"
            )
        if not caption.strip():
            raise BadInput(f"{path}:{lineno}: empty caption for {name}")
        rows.append((lineno, name, caption.strip()))
    return rows


def parse_results_csv(path: Path) -> list[tuple[int, str, str]]:
    """Flickr30k `results.csv`: `image_name| comment_number| comment` -> (line, image, caption)."""
    rows: list[tuple[int, str, str]] = []
    for index, (lineno, line) in enumerate(_text_lines(path)):
        fields = [f.strip() for f in line.split("|")]
        if index == 0 and tuple(fields) == FLICKR30K_CSV_HEADER:
            continue
        if len(fields) == 2:
            # The real file has one such line ("2199200615.jpg| 4   A dog runs ..."): the
            # comment never got its own field, so that image has no fourth caption.
            raise BadInput(
                f"{path}:{lineno}: empty caption for {fields[0]}: the comment field is missing "
                f"(expected 'image_name| comment_number| comment')"
            )
        if len(fields) != 3:
            raise BadInput(
                f"{path}:{lineno}: expected 3 '|'-separated fields "
                f"(image_name| comment_number| comment), got {len(fields)}"
            )
        name, number, comment = fields
        if not name:
            raise BadInput(f"{path}:{lineno}: empty image_name")
        if not _DIGITS.fullmatch(number):
            raise BadInput(f"{path}:{lineno}: comment_number {number!r} is not a number")
        if not comment:
            raise BadInput(f"{path}:{lineno}: empty caption for {name}")
        rows.append((lineno, name, comment))
    return rows


def read_flickr8k_splits(folder: Path) -> dict[str, str]:
    """File name -> split from the Flickr_8k.*Images.txt files found in `folder`."""
    splits: dict[str, str] = {}
    for file_name, split in FLICKR8K_SPLITS.items():
        path = folder / file_name
        if path.is_file():
            for _, line in _text_lines(path):
                splits.setdefault(line.strip(), split)
    return splits


def _load_flickr(path: Path, fmt: str, images_dir: Path | None) -> CaptionDataset:
    rows = parse_results_csv(path) if path.suffix.lower() == ".csv" else parse_token_lines(path)
    splits = read_flickr8k_splits(path.parent) if fmt == "flickr8k" else {}
    entries: dict[str, ImageEntry] = {}  # by file name, in order of first appearance
    for lineno, name, caption in rows:
        entry = entries.get(name)
        if entry is None:
            entry = entries[name] = ImageEntry(
                image_id=Path(name).stem,
                file_name=name,
                path=Path(name),  # re-rooted below
                split=splits.get(name),
                source=f"{path}:{lineno}",
            )
        entry.captions.setdefault(detect_language(caption), []).append(caption)
    dirs = FLICKR8K_IMAGE_DIRS if fmt == "flickr8k" else FLICKR30K_IMAGE_DIRS
    folder = path.parent
    candidates = ([images_dir] if images_dir is not None else []) + [
        base / n for base in (folder, folder.parent) for n in dirs
    ]
    root = _pick_image_root(candidates, next(iter(entries), None), images_dir)
    for entry in entries.values():
        entry.path = root / entry.file_name
    return CaptionDataset(_dataset_name(folder), fmt, folder, list(entries.values()))
