"""The evaluation report's attention section: for a few test images, where the attention decoder
looked for each word, drawn as heat maps over the image (OpenCV and numpy only).

Each example is one PNG strip: the model's input image, then one tile per word with the word's
attention weights overlaid (red = strong) and the strongest cell outlined, the word under it.
OpenCV's fonts have no CJK glyphs: Chinese tiles are numbered and the HTML lists the words.
"""

from __future__ import annotations

import html
from pathlib import Path

import cv2
import numpy as np

from edge_captioner.model.captioner import Captioner
from edge_captioner.model.explain import explain_words

TILE = 112  # pixels per tile
LABEL = 22  # pixels of text under a tile


def heat_overlay(image_rgb: np.ndarray, weights: np.ndarray, size: int = TILE) -> np.ndarray:
    """(size, size, 3) BGR: the image with the (rows, cols) weights as a heat map on top.
    The weights are scaled to their own maximum: a word's map shows where, not how peaked."""
    base = cv2.resize(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), (size, size),
                      interpolation=cv2.INTER_AREA)
    peak = float(weights.max()) or 1.0
    # Each cell covers its own square of the image, as in the model; a smooth upsampling would
    # suggest a resolution the 4x4 or 8x8 grid does not have.
    heat = cv2.resize((weights / peak).astype(np.float32), (size, size),
                      interpolation=cv2.INTER_NEAREST)
    colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (0.25 + 0.45 * heat)[..., np.newaxis]
    out = (base * (1 - alpha) + colours * alpha).astype(np.uint8)
    rows, cols = weights.shape
    row, col = np.unravel_index(int(np.argmax(weights)), weights.shape)
    y0, x0 = int(row * size / rows), int(col * size / cols)
    y1, x1 = int((row + 1) * size / rows) - 1, int((col + 1) * size / cols) - 1
    cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 1)
    return out


def _labelled(tile: np.ndarray, text: str) -> np.ndarray:
    out = np.full((tile.shape[0] + LABEL, tile.shape[1], 3), 255, np.uint8)
    out[: tile.shape[0]] = tile
    cv2.putText(out, text[:14], (3, tile.shape[0] + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    return out


def attention_strip(image_rgb: np.ndarray, words: list[str], attention: list[np.ndarray],
                    latin: bool = True) -> np.ndarray:
    """The input image, then one heat-map tile per word, side by side (BGR)."""
    plain = cv2.resize(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), (TILE, TILE),
                       interpolation=cv2.INTER_AREA)
    tiles = [_labelled(plain, "input")]
    for k, (word, weights) in enumerate(zip(words, attention, strict=True), start=1):
        tiles.append(_labelled(heat_overlay(image_rgb, weights), word if latin else str(k)))
    gap = np.full((TILE + LABEL, 4, 3), 255, np.uint8)
    return np.hstack([part for tile in tiles for part in (tile, gap)][:-1])


def pick_examples(entries: list, count: int) -> list:
    """Images with objects first (their words have something to look at), in data set order."""
    with_objects = [e for e in entries if e.scene and e.scene.get("objects")]
    rest = [e for e in entries if e not in with_objects]
    return (with_objects + rest)[:count]


def attention_section(report_dir: Path, bundle_path: str | Path, entries: list,
                      count: int = 4) -> str:
    """Write report_dir/attention/<image id>.png for `count` examples; the HTML that shows them."""
    captioner = Captioner(bundle_path, threads=None)
    out_dir = report_dir / "attention"
    out_dir.mkdir(parents=True, exist_ok=True)
    tokens = captioner.bundle.vocab.tokens
    latin = captioner.bundle.language == "en"
    rows_html = []
    for entry in pick_examples(entries, count):
        frame = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if frame is None:
            continue
        image = captioner.prepare(frame)
        result = captioner.caption_prepared(image)
        attention = captioner.attention(image, result.tokens, prepared=True)
        words = [tokens[t] for t in result.tokens]
        target = out_dir / f"{entry.image_id}.png"
        cv2.imwrite(str(target), attention_strip(image, words, attention, latin))
        where = ", ".join(f"{html.escape(w['word'])} r{w['row']}c{w['col']} {w['region']}"
                          for w in explain_words(words, attention))
        numbered = "" if latin else " ".join(f"{k}={html.escape(w)}"
                                            for k, w in enumerate(words, start=1))
        rows_html.append(
            f'<figure><img src="attention/{html.escape(target.name)}" alt="attention per word">'
            f"<figcaption><b>{html.escape(result.text)}</b> {numbered}<br>"
            f"<small>strongest cell per word: {where}</small></figcaption></figure>")
    rows, cols = captioner.model.wiring.attention_grid
    return (f"<h2>Attention per word</h2><p>Where the attention decoder looked ({rows}x{cols} "
            "locations of the model's input image) for each word of its caption; red is strong, "
            "the white box is the strongest cell.</p>" + "".join(rows_html))
