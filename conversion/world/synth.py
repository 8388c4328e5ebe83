"""`edge-captioner-convert synth`: render a synthetic home-scenes data set in COCO captions format.

Layout of OUT:
    images/000001.jpg ...         the rendered frames
    captions_en.json, captions_zh.json
                                  one COCO captions file per language, for the SAME images: `images`
                                  (each with its ground-truth `scene` record) and `annotations`
                                  (`canonical: true` on the first caption of each image)
    preview.png, clip.mp4         only when asked (--preview FILE, --clip FILE)

Image i is drawn from its own random stream seeded by (seed, i), so the output is the same for a
given seed whatever the number of worker processes, and `--count 200` is a prefix of `--count 1000`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from edge_captioner.errors import BadInput

from .captions import write_captions
from .scenes import sample_scene

log = logging.getLogger(__name__)

JPEG_QUALITY = 92  # the camera's own JPEG artefacts are already in the pixels (render/camera.py)
CHUNK = 64
CAPTION_STREAM = 1  # a separate random stream for captions: rendering changes don't reshuffle them


def image_name(index: int) -> str:
    return f"{index + 1:06d}.jpg"


def _render_chunk(job: tuple[int, int, int, tuple[int, int], tuple[str, ...], int, str]) -> list:
    # imported in the worker: keeps `synth --help` light
    from conversion.world.render.scene import render_scene

    start, stop, seed, (width, height), languages, n_captions, images_dir = job
    out = []
    for index in range(start, stop):
        rng = np.random.default_rng([seed, index])
        scene = sample_scene(rng)
        image = render_scene(scene, rng, width, height)
        path = os.path.join(images_dir, image_name(index))
        if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"cannot write {path}")
        caption_rng = np.random.default_rng([seed, index, CAPTION_STREAM])
        captions = {lang: write_captions(scene, lang, caption_rng, n_captions) for lang in languages}
        out.append((index, scene.to_record(), captions))
    return out


def generate(
    out: Path,
    count: int,
    seed: int,
    size: tuple[int, int],
    languages: list[str],
    n_captions: int = 5,
    workers: int | None = None,
    progress: bool = True,
) -> list[tuple[int, dict, dict[str, list[str]]]]:
    """Render `count` images into out/images; returns (index, scene record, captions) sorted."""
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (start, min(start + CHUNK, count), seed, size, tuple(languages), n_captions, str(images_dir))
        for start in range(0, count, CHUNK)
    ]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results: list = []
    bar = tqdm(total=count, unit="img", desc="synth", disable=not progress or None)
    if workers == 1:
        chunks: Iterator[list] = map(_render_chunk, jobs)
        for chunk in chunks:
            results.extend(chunk)
            bar.update(len(chunk))
    else:
        # spawn, not fork: the parent may hold threads (tqdm's monitor, BLAS), fork would copy locks.
        # One OpenCV thread per worker process: the workers already fill the cores, and OpenCV's
        # own thread pool would only make them compete.
        with get_context("spawn").Pool(workers, initializer=cv2.setNumThreads,
                                       initargs=(1,)) as pool:
            for chunk in pool.imap_unordered(_render_chunk, jobs):
                results.extend(chunk)
                bar.update(len(chunk))
    bar.close()
    results.sort(key=lambda item: item[0])
    return results


def coco_document(
    results: list, language: str, size: tuple[int, int], seed: int
) -> dict:
    width, height = size
    images, annotations = [], []
    for index, record, captions in results:
        image_id = index + 1
        images.append({
            "id": image_id,
            "file_name": image_name(index),
            "width": width,
            "height": height,
            "scene": record,
        })
        for k, caption in enumerate(captions[language]):
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "caption": caption,
                "canonical": k == 0,
            })
    return {
        "info": {
            "description": "edge-captioner synthetic home scenes",
            "generator": "edge-captioner-convert synth",
            "language": language,
            "seed": seed,
            "count": len(images),
            "size": [width, height],
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
    }


def _write_json(path: Path, document: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def contact_sheet(out: Path, results: list, path: Path, columns: int = 6, rows: int = 4) -> None:
    """A PNG grid of samples with their canonical English caption under each.

    OpenCV's Hershey fonts have no Chinese glyphs; the Chinese captions are in captions_zh.json.
    """
    cell_w, img_h, text_h = 256, 0, 44
    tiles = []
    for index, _record, captions in results[: columns * rows]:
        image = cv2.imread(str(out / "images" / image_name(index)))
        scale = cell_w / image.shape[1]
        image = cv2.resize(image, (cell_w, round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_NEAREST)
        img_h = image.shape[0]
        tile = np.full((img_h + text_h, cell_w, 3), 255, np.uint8)
        tile[:img_h] = image
        caption = (captions.get("en") or next(iter(captions.values())))[0]
        for line_no, line in enumerate(_wrap(caption, 40)[:3]):
            cv2.putText(tile, line, (4, img_h + 13 + 13 * line_no), cv2.FONT_HERSHEY_SIMPLEX,
                        0.38, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[r: r + columns]) for r in range(0, len(tiles), columns)])
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), grid):
        raise BadInput(f"{path}: cannot write the preview PNG")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def cmd_synth(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise BadInput(f"{out}: directory is not empty (use --force to overwrite)")
    if not 1 <= args.captions <= 8:
        raise BadInput(f"--captions: expected 1..8, got {args.captions}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{out}: cannot create the output directory: {exc.strerror}") from None

    started = time.perf_counter()
    results = generate(out, args.count, args.seed, args.size, args.lang, args.captions,
                       args.workers)
    render_s = time.perf_counter() - started
    for language in args.lang:
        _write_json(out / f"captions_{language}.json",
                    coco_document(results, language, args.size, args.seed))
    if args.preview:
        contact_sheet(out, results, Path(args.preview))
    if args.clip:
        from .clip import make_sample_clip

        info = make_sample_clip(args.clip)
        log.info("sample clip: %s (%d frames, %.0f KB)", args.clip, info["frames"],
                 Path(args.clip).stat().st_size / 1e3)
    print(
        f"wrote {len(results)} images with {args.captions} captions each in "
        f"{', '.join(args.lang)} to {out} ({_du_mb(out):.1f} MB) in {render_s:.1f} s "
        f"({len(results) / max(render_s, 1e-9):.0f} images/s)"
    )
    return 0
