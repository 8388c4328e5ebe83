"""`edge-captioner-convert attach ENCODER BUNDLE`: copy an encoder built by `encoder` (build.py)
into a caption bundle: its files, the `perception` and `pretrained` sections, their hashes, and a
self-check recorded anew. The bundle's own encoder and decoder are unchanged. A facts bundle's
classifier checks the detector's animals instead of classifying the whole frame (ANIMAL_CHECK).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

from conversion.export.agreement import PERCEPTION_METRICS_KEY
from edge_captioner.bundle.loader import file_sha256, load_bundle, read_manifest, write_manifest
from edge_captioner.bundle.manifest import Manifest
from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.bundle.sections import FactsSpec, parse_pretrained
from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.self_check import record

from . import photos
from .build import ANIMAL_CHECK, ENCODER_JSON

# The self-check image: a real photo with a person (the detector's 0.71), small.
SELF_CHECK_PHOTO = "astronaut"
SELF_CHECK_FILE = "self_check.jpg"
SELF_CHECK_SIZE = 256
SELF_CHECK_SOURCE = ("scikit-image's astronaut (Eileen Collins, NASA; public domain), 256 px")


def _read_json(path: Path, missing: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: missing ({missing})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None


def read_encoder(directory: Path) -> dict:
    path = directory / ENCODER_JSON
    document = _read_json(path, "not an encoder built by `encoder`")
    if not isinstance(document, dict) or not {"perception", "pretrained", "files"} <= set(document):
        raise BadInput(f"{path}: needs 'perception', 'pretrained' and 'files'")
    parse_perception(document, path)
    for name, digest in document["files"].items():
        if not (directory / name).is_file() or file_sha256(directory / name) != digest:
            raise BadInput(f"{directory / name}: missing or does not match {ENCODER_JSON}")
    return document


def with_animal_check(document: dict) -> dict:
    """An encoder document whose ImageNet classifier checks the detector's animals instead of
    classifying the whole frame (a facts bundle's captions read no whole-frame classes, but a
    hare the detector calls a dog must not be said: model/animal_check.py)."""
    section = dict(document["perception"])
    if "classifier" not in section:
        return document
    section["classifier"] = {**section["classifier"], "animal_check": ANIMAL_CHECK}
    return {**document, "perception": section}


def attach(encoder_dir: Path, bundle_dir: Path) -> Manifest:
    """Copy the encoder's files into the bundle and add its sections to the manifest."""
    document = read_encoder(encoder_dir)
    encoder_json = encoder_dir / ENCODER_JSON
    # the manifest alone: a grounded bundle does not load until it has the encoder it reads
    manifest = read_manifest(bundle_dir)
    if isinstance(manifest.evidence, FactsSpec):
        document = with_animal_check(document)
    for name in document["files"]:
        target = bundle_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(encoder_dir / name, target)
    agreement = {name: {k: v for k, v in r.items() if k != "per_image"}
                 for name, r in document.get("agreement", {}).items()}
    manifest = replace(
        manifest, perception=parse_perception(document, encoder_json),
        pretrained=parse_pretrained(document["pretrained"], encoder_json),
        files=manifest.files | document["files"],
        metrics={**(manifest.metrics or {}), PERCEPTION_METRICS_KEY: agreement},
        self_check=None)  # recorded anew for this encoder and decoder below
    write_manifest(bundle_dir, manifest)
    load_bundle(bundle_dir)  # what we wrote must load (the whole bundle, hashes and all)
    return add_self_check(bundle_dir)


def add_self_check(bundle_dir: Path) -> Manifest:
    """Put the self-check image into the bundle and record what the bundle makes of it
    (edge_captioner/model/self_check.py): the device refuses to run where it gets something else."""
    import cv2

    frame = photos.load_photo(SELF_CHECK_PHOTO)
    height, width = frame.shape[:2]
    scale = SELF_CHECK_SIZE / max(height, width)
    small = cv2.resize(frame, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("cannot encode the self-check image")
    (bundle_dir / SELF_CHECK_FILE).write_bytes(jpeg.tobytes())
    manifest = read_manifest(bundle_dir)
    manifest = replace(manifest, files={
        **manifest.files, SELF_CHECK_FILE: file_sha256(bundle_dir / SELF_CHECK_FILE)})
    write_manifest(bundle_dir, manifest)
    check = record(Captioner(str(bundle_dir)), SELF_CHECK_FILE, source=SELF_CHECK_SOURCE)
    manifest = replace(manifest, self_check=check)
    write_manifest(bundle_dir, manifest)
    Captioner(str(bundle_dir))  # and it passes its own check
    return manifest


def cmd_attach(args: argparse.Namespace) -> int:
    manifest = attach(Path(args.encoder), Path(args.bundle))
    print(f"{args.bundle}: perception {', '.join(g.role for g in manifest.perception.graphs)} "
          f"from {', '.join(sorted({p.package for p in manifest.pretrained}))}")
    return EXIT_OK

