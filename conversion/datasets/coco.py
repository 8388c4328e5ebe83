"""COCO captions files (`captions_*.json`): one or several, merged by image id."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from edge_captioner.errors import BadInput

from .entries import (
    LANGUAGES,
    CaptionDataset,
    ImageEntry,
    dataset_name,
    detect_language,
    parse_image_id,
    pick_image_root,
)
from .files import JsonFile

_SPLIT_IN_NAME = re.compile(r"(train|val|test)", re.IGNORECASE)


def load_coco(files: Sequence[JsonFile], images_dir: Path | None) -> CaptionDataset:
    merged: dict[str, ImageEntry] = {}
    for jf in files:
        for entry in _coco_entries(jf, images_dir):
            _merge(merged, entry)
    root = files[0].path.parent
    return CaptionDataset(dataset_name(root), "coco", root, list(merged.values()))


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


def _coco_language(jf: JsonFile, doc: dict) -> str | None:
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


def _coco_entries(jf: JsonFile, images_dir: Path | None) -> list[ImageEntry]:
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
    root = pick_image_root(candidates, first.file_name if first else None, images_dir, default)
    for entry in entries.values():
        entry.path = root / entry.file_name
    _add_coco_captions(jf, annotations, entries, language)
    return list(entries.values())


def _coco_images(jf: JsonFile, images: list, split: str | None) -> dict[str, ImageEntry]:
    n = len(images)
    lines = jf.entry_lines("images", n, ("file_name",))
    entries: dict[str, ImageEntry] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            jf.fail(f"images[{i}] must be an object", lines[i])
        for key in ("id", "file_name"):
            if key not in img:
                jf.fail(f"images[{i}]: missing key {key!r}", lines[i])
        image_id = parse_image_id(img["id"])
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
    jf: JsonFile, annotations: list, entries: dict[str, ImageEntry], language: str | None
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
        image_id = parse_image_id(ann["image_id"])
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
