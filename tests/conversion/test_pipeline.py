"""synth -> train -> convert -> evaluate, end to end on a tiny model (real TF, real TFLite)."""

import json

import numpy as np
import pytest

from conversion.export.checks import graph_report
from edge_captioner.bundle.loader import file_sha256
from make_test_bundles import TINY_TRAIN, run_convert_cli
from support.bundles import DECODER_OPS, check_integer_only
from support.paths import BENCHMARKS

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def test_training_writes_a_resumable_model(tiny_model):
    for name in ("config.json", "vocab.txt", "model.weights.h5", "checkpoint.keras", "state.json",
                 "train.log"):
        assert (tiny_model / name).is_file(), name
    state = json.loads((tiny_model / "state.json").read_text())
    history = state["history"]
    assert state["epochs_done"] == len(history) == 15
    assert history[-1]["loss"] < history[0]["loss"] * 0.8  # it learned something
    assert state["samples"] and all("caption" in s for s in state["samples"])
    assert len((tiny_model / "train.log").read_text().splitlines()) >= 15
    # a synthetic set has scene records: the CNN also learned counts and places (training only)
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["augment"] == "flip"  # the default: captions never say left or right
    supervision = config["scene_supervision"]
    assert supervision["weight"] == 0.5 and "cat" in supervision["kinds"]
    assert len(supervision["places"]) == 5 and supervision["count_classes"] == 4


def test_training_is_deterministic_and_resumes(tiny_data, tmp_path):
    import h5py

    short = [*TINY_TRAIN]
    short[short.index("--epochs") + 1] = "2"
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_convert_cli("train", tiny_data, a, *short, "--max-images", "120") == 0
    assert run_convert_cli("train", tiny_data, b, *short, "--max-images", "120") == 0

    def weights(path):
        with h5py.File(path / "model.weights.h5") as f:
            out = []
            f.visititems(lambda _, obj: out.append(np.array(obj)) if hasattr(obj, "shape") else None)
            return out

    for x, y in zip(weights(a), weights(b), strict=True):
        np.testing.assert_array_equal(x, y)
    # Resume: continue `a` to 3 epochs; a non-empty OUT without --resume is refused.
    assert run_convert_cli("train", tiny_data, a, *short) == 2
    more = [*short]
    more[more.index("--epochs") + 1] = "3"
    assert run_convert_cli("train", tiny_data, a, *more, "--max-images", "120", "--resume") == 0
    state = json.loads((a / "state.json").read_text())
    assert state["epochs_done"] == 3 and [h["epoch"] for h in state["history"]] == [1, 2, 3]


def test_int8_bundle_is_integer_only_with_edge_tpu_friendly_ops(converted_tiny_bundles):
    int8, flt = converted_tiny_bundles
    manifest = check_integer_only(int8, DECODER_OPS)
    # a 16x8 decoder ends in raw logits (TFLite has no 16x8 LOG_SOFTMAX): the runtime normalises
    assert manifest["decoder"]["logits"] == "logits" and manifest["decoder"]["normalised"] is False
    enc_in = manifest["tensors"]["encoder"]["inputs"]["image"]
    assert enc_in["dtype"] == "uint8" and enc_in["shape"] == [1, 64, 64, 3]
    for name, digest in manifest["files"].items():
        assert file_sha256(int8 / name) == digest
    # the float bundle really is float, and bigger
    assert graph_report(flt / "decoder.tflite")["float_ops"]
    assert (flt / "encoder.tflite").stat().st_size > 2 * (int8 / "encoder.tflite").stat().st_size


def test_evaluate_compares_int8_with_float_and_writes_a_report(converted_tiny_bundles,
                                                                tiny_test_data, tmp_path, capsys):
    int8, flt = converted_tiny_bundles
    report = tmp_path / "report"
    assert run_convert_cli("evaluate", int8, tiny_test_data, "--reference", flt, "--json",
                           "--report", report) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "object_f1", "chair_i",
                "count_accuracy", "place_accuracy", "scene_exact", "scene_exact_by_objects"):
        assert key in result["metrics"], key
    assert result["metrics"]["images"] == 60
    # int8 captions match the float bundle's on most images
    assert result["identical_captions"] >= 0.75
    assert abs(result["delta"]["object_f1"]) <= 0.1
    page = (report / "index.html").read_text()
    assert page.count("<img ") == 60 and "identical captions" in page
    assert (report / "report.png").stat().st_size > 10_000


def test_the_tiny_model_beats_chance(converted_tiny_bundles, tiny_test_data, capsys):
    """A model that learned nothing would say the same caption for every image."""
    int8, _ = converted_tiny_bundles
    assert run_convert_cli("evaluate", int8, tiny_test_data, "--json") == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]
    assert metrics["place_accuracy"] > 0.4  # five places: chance is 0.2


def test_float_scene_metrics_scores_the_float_model_like_evaluate_scores_its_bundle(
        tiny_model, converted_tiny_bundles, tiny_test_data, capsys, python_exe):
    """benchmarks/float_scene_metrics.py: the trained weights, not converted, give the figures
    `evaluate` gives for the float32 bundle (same preprocessing, same greedy decoding)."""
    import subprocess

    script = BENCHMARKS / "float_scene_metrics.py"
    done = subprocess.run([python_exe, script, tiny_model, tiny_test_data, "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    unconverted = json.loads(done.stdout.strip().splitlines()[-1])
    _, flt = converted_tiny_bundles
    assert run_convert_cli("evaluate", flt, tiny_test_data, "--json") == 0
    bundle = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]
    for key in ("object_f1", "count_accuracy", "place_accuracy", "scene_exact"):
        assert abs(unconverted[key] - bundle[key]) <= 0.05, key
