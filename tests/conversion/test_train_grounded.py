"""`train-grounded` end to end: trained, converted with the real encoder attached, and captioning."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conversion.export.checks import graph_report
from conversion.pretrained import photos
from edge_captioner.bundle.loader import load_bundle
from edge_captioner.model.captioner import Captioner
from make_test_bundles import run_convert_cli
from support.bundles import encoder_dir_from
from support.paths import TEST_DATA

pytestmark = pytest.mark.tensorflow

LABELS = TEST_DATA / "package_photos.json"


@pytest.mark.slow
def test_train_grounded_then_convert_with_the_encoder(tmp_path):
    model = tmp_path / "model"
    assert run_convert_cli("train-grounded", model, "--count", "3000", "--epochs", "3",
                           "--units", "48", "--feature-dim", "48") == 0
    encoder = encoder_dir_from(load_bundle("default-en").path, tmp_path / "encoder")
    bundle = tmp_path / "bundle"
    assert run_convert_cli("convert", model, bundle, "--decoder", "int8", "--encoder",
                           encoder) == 0
    loaded = load_bundle(bundle)
    assert loaded.evidence is not None and loaded.perception is not None
    assert list(loaded.manifest.tensors.encoder.inputs) == ["evidence"]
    assert graph_report(bundle / "encoder.tflite")["float_ops"] == []
    done = subprocess.run([sys.executable, "-m", "conversion.cli", "evaluate", str(bundle),
                           str(LABELS), "--simulated", "200", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["photos"]["images"] == 21 and 0 <= result["simulated"]["object_f1"] <= 1


@pytest.mark.slow
def test_train_grounded_on_a_coco_captions_set_with_the_real_encoder(tmp_path):
    """The workstation path for real photos: a (tiny) COCO captions set, read by the real-world
    encoder, its captions as targets, then convert and caption."""
    import cv2

    captions = {"astronaut": "a person in a suit", "grace_hopper": "a person in a uniform",
                "camera": "a person with a camera", "chelsea": "a cat looking up",
                "coffee": "a cup of coffee", "china": "a building with a roof"}
    (tmp_path / "images").mkdir()
    document = {"images": [], "annotations": []}
    for k, (name, caption) in enumerate(captions.items()):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.jpg"), photos.load_photo(name))
        document["images"].append({"id": k, "file_name": f"{name}.jpg"})
        for j in range(3):
            document["annotations"].append({"id": 3 * k + j, "image_id": k, "caption": caption})
    data = tmp_path / "captions_en.json"
    data.write_text(json.dumps(document))
    encoder = encoder_dir_from(load_bundle("default-en").path, tmp_path / "encoder")
    model = tmp_path / "model"
    assert run_convert_cli("train-grounded", model, "--data", data, "--images",
                           tmp_path / "images", "--encoder", encoder, "--epochs", "60",
                           "--units", "32", "--feature-dim", "32", "--lr", "1e-2") == 0
    config = json.loads((model / "config.json").read_text())
    assert config["caption_mode"] == "data set captions" and "6 images" in config["data"]
    bundle = tmp_path / "bundle"
    assert run_convert_cli("convert", model, bundle, "--decoder", "int8", "--encoder",
                           encoder) == 0
    captioner = Captioner(str(bundle))
    assert captioner.caption(photos.load_photo("chelsea")).text == "a cat looking up"
    assert captioner.caption(photos.load_photo("coffee")).text != "a cat looking up"
