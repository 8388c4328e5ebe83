"""The scene heads end to end: --scene-input (the decoder reads the CNN's scene heads) and the
two-stage recipe (--scene-only, then a frozen decoder), trained, converted and captioned on a tiny
model (real TF, real TFLite). A file of their own: each trains several models, so the two xdist
workers can run them beside test_pipeline.py."""

import json

import numpy as np
import pytest

from make_test_bundles import TINY_TRAIN, run_convert_cli
from support.bundles import DECODER_OPS, ENCODER_OPS, check_integer_only
from support.paths import BENCHMARKS

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def test_scene_input_is_exported_in_the_encoder_and_kept_by_a_frozen_language(tiny_data, tmp_path,
                                                                              tiny_test_data):
    """--scene-input: the decoder reads the scene heads' probabilities. They are computed in the
    encoder (integer-only, so the bundle format and the runtime stay as they are), and a
    decoder trained on the frozen CNN keeps the heads the CNN's model trained."""
    from make_test_bundles import convert_tiny
    from support.bundles import caption_without_tensorflow

    short = [*TINY_TRAIN]
    short[short.index("--epochs") + 1] = "2"
    en, zh = tmp_path / "en", tmp_path / "zh"
    # the heads are supervised by the scene records: no scene loss, no scene input
    assert run_convert_cli("train", tiny_data, tmp_path / "no", *short, "--max-images", "48",
                           "--scene-input", "--scene-loss", "0") == 2
    assert run_convert_cli("train", tiny_data, en, *short, "--max-images", "48",
                           "--scene-input") == 0
    shape = json.loads((en / "config.json").read_text())["model"]["scene_input"]
    assert shape == [6, 4, 5]  # kinds, count classes (0..3), places
    assert run_convert_cli("train", tiny_data, zh, "--lang", "zh", "--epochs", "1",
                           "--max-images", "48", "--init-from", en, "--freeze-backbone") == 0
    assert json.loads((zh / "config.json").read_text())["model"]["scene_input"] == shape
    # fine-tuning (CNN not frozen) on a set with other kinds and places: the CNN transfers, and
    # the heads, of another shape, start afresh instead of failing the run
    other = tmp_path / "other"
    assert run_convert_cli("train", tiny_test_data, other, "--epochs", "1", "--max-images", "6",
                           "--val-fraction", "0.2", "--scene-input", "--init-from", en) == 0
    supervision = json.loads((other / "config.json").read_text())["scene_supervision"]
    assert len(supervision["kinds"]) < shape[0] and len(supervision["places"]) < shape[2]

    from conversion.export.convert import load_trained

    en_heads, zh_heads = (load_trained(m)[0].scene_heads for m in (en, zh))
    for mine, theirs in zip(en_heads, zh_heads, strict=True):
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)

    int8, _ = convert_tiny(en, tiny_data, tmp_path, "scene-input")
    # the heads' answers in the int8 encoder: SOFTMAX and CONCATENATION, both Edge TPU ops
    manifest = check_integer_only(int8, DECODER_OPS, ENCODER_OPS | {"SOFTMAX", "CONCATENATION"})
    assert "SOFTMAX" in manifest["ops"]["encoder"]
    image = sorted((tiny_test_data / "images").iterdir())[0]
    assert caption_without_tensorflow(int8, image).strip()


def test_two_stage_training_a_scene_only_cnn_then_a_frozen_decoder(tiny_data, tmp_path):
    """--scene-only trains the CNN and its heads without a decoder (count, place, and each kind's
    colour and spot, the lighting); a decoder then trains on it frozen and becomes a bundle."""
    import h5py

    short = [*TINY_TRAIN]
    short[short.index("--epochs") + 1] = "3"
    cnn, en = tmp_path / "cnn", tmp_path / "en"
    assert run_convert_cli("train", tiny_data, cnn, *short, "--max-images", "48",
                           "--scene-only", "--freeze-backbone") == 2  # one or the other
    assert run_convert_cli("train", tiny_data, cnn, *short, "--max-images", "48",
                           "--scene-only") == 0
    config = json.loads((cnn / "config.json").read_text())
    assert config["scene_only"] is True
    assert config["model"]["scene_input"] == [6, 4, 5]  # the decoders trained on it read the heads
    details = config["scene_supervision"]["details"]
    assert "grey" in details["colours"] and "porch" in details["wheres"]
    assert details["lightings"] == ["day", "lights_on", "night"]
    state = json.loads((cnn / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]
    assert state["history"][-1]["loss"] < state["history"][0]["loss"]
    assert set(state["history"][-1]["val_heads"]) == {"groups", "colour", "where", "place",
                                                      "lighting"}
    # resumable like any run, and not a bundle by itself
    more = [*short]
    more[more.index("--epochs") + 1] = "4"
    assert run_convert_cli("train", tiny_data, cnn, *more, "--max-images", "48", "--resume") == 0
    assert json.loads((cnn / "state.json").read_text())["epochs_done"] == 4
    assert run_convert_cli("convert", cnn, tmp_path / "bundle", "--representative",
                           tiny_data) == 2

    # benchmarks/scene_heads.py scores the heads on any synthetic set, mirrored too
    import subprocess
    import sys
    from pathlib import Path

    script = BENCHMARKS / "scene_heads.py"
    done = subprocess.run([sys.executable, script, cnn, tiny_data, "--flip", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    heads = json.loads(done.stdout.strip().splitlines()[-1])
    records = json.loads((Path(tiny_data) / "captions_en.json").read_text())["images"]
    assert heads["images"] == len(records)
    assert heads["groups_total"] == sum(len(r["scene"]["objects"]) for r in records)
    for view in ("plain", "mirrored", "mean"):
        assert set(heads[view]) == {"groups", "colour", "where", "place", "lighting"}
        assert all(0.0 <= v <= 1.0 for v in heads[view].values())

    assert run_convert_cli("train", tiny_data, en, "--epochs", "2", "--max-images", "48",
                           "--init-from", cnn, "--freeze-backbone") == 0
    assert "scene_only" not in json.loads((en / "config.json").read_text())
    refused = subprocess.run([sys.executable, script, en, tiny_data], capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode == 2 and "--scene-only" in refused.stderr
    assert "Traceback" not in refused.stderr

    def weights(path, prefix):
        with h5py.File(path / "model.weights.h5") as f:
            out = {}
            f.visititems(lambda name, obj: out.setdefault(name, np.array(obj))
                         if hasattr(obj, "shape") and name.startswith(prefix) else None)
            return out

    # the CNN, and the count and place heads (the first two Dense layers of the captioner)
    for prefix in ("layers/functional/", "layers/dense/", "layers/dense_1/"):
        frozen, trained = weights(cnn, prefix), weights(en, prefix)
        assert frozen and frozen.keys() == trained.keys(), prefix
        for name in frozen:
            np.testing.assert_array_equal(frozen[name], trained[name])
    from make_test_bundles import convert_tiny

    int8, _ = convert_tiny(en, tiny_data, tmp_path, "two-stage")
    assert (int8 / "manifest.json").is_file()
