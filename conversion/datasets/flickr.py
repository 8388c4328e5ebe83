"""Flickr8k (`Flickr8k.token.txt` and the `Flickr_8k.*Images.txt` splits) and Flickr30k
(`results_20130124.token` or Kaggle's `results.csv`)."""

from __future__ import annotations

import re
from pathlib import Path

from edge_captioner.errors import BadInput

from .entries import CaptionDataset, ImageEntry, dataset_name, detect_language, pick_image_root
from .files import read_text

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

_DIGITS = re.compile(r"[0-9]+")


def _preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the non-blank lines. Split on "\\n" only: str.splitlines would
    also split on form feeds and U+2028 and shift the line numbers an editor shows."""
    lines = read_text(path).split("\n")
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


def load_flickr(path: Path, fmt: str, images_dir: Path | None) -> CaptionDataset:
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
    root = pick_image_root(candidates, next(iter(entries), None), images_dir)
    for entry in entries.values():
        entry.path = root / entry.file_name
    return CaptionDataset(dataset_name(folder), fmt, folder, list(entries.values()))
