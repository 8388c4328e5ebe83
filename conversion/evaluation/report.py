"""`evaluate --report DIR`: an HTML page of a bundle's captions, worst disagreements first, and a
PNG of the worst cases."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from conversion.world.mentions import parse_caption
from conversion.world.scenes import Scene

if TYPE_CHECKING:
    from .evaluate import EvalSet


def _disagreement(image_id: str, captions: dict, reference_captions: dict | None,
                  scenes: dict | None, language: str) -> tuple:
    differs = reference_captions is not None and captions[image_id] != reference_captions[image_id]
    wrong = 0
    if scenes is not None:
        said = parse_caption(captions[image_id], language)
        scene = Scene.from_record(scenes[image_id])
        wrong = int(said.counts != scene.counts()) + int(said.place != scene.place)
    return (differs, wrong)


def write_report(report_dir: Path, eval_set: EvalSet, bundle_name: str, result: dict,
                 reference_name: str | None, reference: dict | None, comparison: dict | None,
                 max_images: int = 120, extra_html: str = "") -> Path:
    """An HTML page (and a PNG of the worst cases): test images with the ground-truth caption,
    the reference bundle's caption and this bundle's, worst disagreements first. `extra_html`
    (the attention section, for a bundle with attention) goes between the metrics and the
    captions."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "images").mkdir(exist_ok=True)
    captions = result["captions"]
    ref_captions = reference["captions"] if reference else None
    scenes = eval_set.scenes
    by_id = {e.image_id: e for e in eval_set.entries}
    order = sorted(captions, key=lambda i: _disagreement(i, captions, ref_captions, scenes,
                                                         eval_set.language), reverse=True)
    rows = []
    for image_id in order[:max_images]:
        entry = by_id[image_id]
        target = report_dir / "images" / f"{image_id}{entry.path.suffix or '.jpg'}"
        shutil.copyfile(entry.path, target)
        differs, wrong = _disagreement(image_id, captions, ref_captions, scenes, eval_set.language)
        cells = [f'<img src="images/{html.escape(target.name)}" width="192">',
                 html.escape(entry.captions[eval_set.language][0])]
        if ref_captions is not None:
            cells.append(html.escape(ref_captions[image_id]))
        cells.append(html.escape(captions[image_id]))
        cls = ' class="bad"' if differs or wrong else ""
        rows.append(f"<tr{cls}><td>{'</td><td>'.join(cells)}</td></tr>")

    metric_names = [k for k, v in result["metrics"].items() if isinstance(v, float)]
    head = ["metric", bundle_name] + ([reference_name, "delta"] if reference else [])
    table = ["<tr><th>" + "</th><th>".join(map(html.escape, head)) + "</th></tr>"]
    for k in metric_names:
        cells = [k, f"{result['metrics'][k]:.4f}"]
        if reference and isinstance(reference["metrics"].get(k), float):
            cells += [f"{reference['metrics'][k]:.4f}", f"{comparison['delta'][k]:+.4f}"]
        table.append("<tr><td>" + "</td><td>".join(cells) + "</td></tr>")
    if comparison:
        table.append(f"<tr><td>identical captions</td><td colspan=3>"
                     f"{comparison['identical_captions']:.3f}</td></tr>")
    columns = ["image", "ground truth (canonical)"] + (
        [f"reference: {html.escape(reference_name)}"] if reference else []) + [
        html.escape(bundle_name)]
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>edge-captioner evaluation: {html.escape(bundle_name)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}} tr.bad td{{background:#fee}}
figure{{margin:0.8em 0}}</style>
</head><body><h1>{html.escape(bundle_name)} on {len(captions)} images</h1>
<table>{''.join(table)}</table>
{extra_html}
<h2>Captions, worst disagreements first</h2>
<table><tr><th>{'</th><th>'.join(columns)}</th></tr>{''.join(rows)}</table></body></html>"""
    (report_dir / "index.html").write_text(page, encoding="utf-8")
    _report_png(report_dir / "report.png", order[:24], by_id, captions, ref_captions, eval_set)
    return report_dir / "index.html"


def _report_png(path: Path, ids: list[str], by_id: dict, captions: dict, ref_captions: dict | None,
                eval_set: EvalSet) -> None:
    """The worst cases as one picture. OpenCV fonts have no CJK glyphs: for Chinese the PNG shows
    the images in the order of the HTML page, whose table has the captions."""
    tiles = []
    for image_id in ids:
        image = cv2.resize(cv2.imread(str(by_id[image_id].path)), (192, 192))
        tile = np.full((192 + 40, 192, 3), 255, np.uint8)
        tile[:192] = image
        if eval_set.language == "en":
            lines = [("ref: " + (ref_captions or captions)[image_id])[:34], captions[image_id][:34]]
        else:
            lines = [f"#{image_id}"]
        for k, line in enumerate(lines):
            cv2.putText(tile, line, (2, 192 + 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                        (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        return
    while len(tiles) % 6:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[r: r + 6]) for r in range(0, len(tiles), 6)])
    cv2.imwrite(str(path), grid)
