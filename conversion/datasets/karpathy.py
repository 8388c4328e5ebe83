"""Karpathy split JSON (`dataset_coco.json`, `dataset_flickr8k.json`, ...): images with their
sentences and splits."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .entries import (
    CaptionDataset,
    ImageEntry,
    dataset_name,
    detect_language,
    parse_image_id,
    pick_image_root,
)
from .files import JsonFile
from .flickr import FLICKR8K_IMAGE_DIRS, FLICKR30K_IMAGE_DIRS


def load_karpathy(jf: JsonFile, images_dir: Path | None) -> CaptionDataset:
    doc = jf.doc
    if not isinstance(doc, dict):
        jf.fail(f"expected a Karpathy split object with 'images', got a JSON {type(doc).__name__}")
    images = jf.require_list(doc, "images", "a Karpathy split file has 'images' with 'sentences'")
    dataset = doc.get("dataset") if isinstance(doc.get("dataset"), str) else ""
    entries = _karpathy_images(jf, images)
    _add_karpathy_sentences(jf, images, entries)
    json_dir = jf.path.parent
    rel = [_karpathy_relpath(img) for img in images]
    root = pick_image_root(
        _karpathy_image_dirs(json_dir, dataset, rel, images_dir), rel[0] if rel else None,
        images_dir,
    )
    for entry, relpath in zip(entries, rel, strict=True):
        entry.path = root / relpath
    return CaptionDataset(dataset or dataset_name(json_dir), "karpathy", json_dir, entries)


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


def _karpathy_images(jf: JsonFile, images: list) -> list[ImageEntry]:
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
        image_id = parse_image_id(img.get("cocoid")) or parse_image_id(img.get("imgid"))
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


def _add_karpathy_sentences(jf: JsonFile, images: list, entries: list[ImageEntry]) -> None:
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
