"""The attention decoder end to end on a tiny model: train, convert to integer-only TFLite,
caption (greedy, beam, --explain), evaluate with the attention report; real TF, real TFLite."""

import json

import cv2
import numpy as np
import pytest

from conversion.export.checks import graph_report
from edge_captioner.model.captioner import Captioner
from make_test_bundles import TINY_TRAIN, run_convert_cli
from support.bundles import check_integer_only

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

# test_pipeline's Show-and-Tell set, plus what attention needs: the softmax over locations, the
# weighted sum of the values and the reshapes between (L, A) rows and (1, L) weights.
ATTENTION_DECODER_OPS = {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD", "SPLIT", "QUANTIZE",
                         "DEQUANTIZE", "SOFTMAX", "SUM", "RESHAPE"}


def test_the_attention_model_trains(tiny_attention_model):
    config = json.loads((tiny_attention_model / "config.json").read_text())
    assert config["model"]["decoder"] == "attention"
    state = json.loads((tiny_attention_model / "state.json").read_text())
    assert state["epochs_done"] == 15
    assert state["history"][-1]["loss"] < state["history"][0]["loss"] * 0.8


def test_int8_attention_bundle_is_integer_only_and_says_what_it_holds(
        converted_tiny_attention_bundles):
    int8, flt = converted_tiny_attention_bundles
    manifest = check_integer_only(int8, ATTENTION_DECODER_OPS)
    assert manifest["decoder_type"] == "attention"
    wiring = manifest["decoder"]
    assert wiring["type"] == "attention" and wiring["attention_grid"] == [4, 4]
    tensors = manifest["tensors"]["decoder"]
    assert tensors["outputs"][wiring["attention"]]["shape"] == [1, 16]
    assert tensors["inputs"]["keys"]["shape"] == [1, 16, 32]  # 4x4 locations x attention dim
    # static batch-1 shapes everywhere
    assert all(t["shape"][0] == 1 for g in manifest["tensors"].values() for io in g.values()
               for t in io.values())
    assert graph_report(flt / "decoder.tflite")["float_ops"]


def test_int8_attention_captions_match_float_and_the_report_draws_attention(
        tiny_attention_bundles, tiny_test_data, tmp_path, capsys):
    int8, flt = tiny_attention_bundles
    report = tmp_path / "report"
    assert run_convert_cli("evaluate", int8, tiny_test_data, "--reference", flt, "--json",
                           "--report", report) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["identical_captions"] >= 0.75
    assert abs(result["delta"]["object_f1"]) <= 0.1
    strips = sorted((report / "attention").glob("*.png"))
    assert len(strips) == 4
    page = (report / "index.html").read_text()
    assert "Attention per word" in page and page.count('src="attention/') == 4
    for strip in strips:
        picture = cv2.imread(str(strip))
        # the input tile and at least one word tile, each 112 px wide with a label under it
        assert picture.shape[0] == 112 + 22 and picture.shape[1] >= 2 * 112


def test_pure_int8_attention_decoder(tiny_attention_model, tiny_data, tiny_test_data, tmp_path):
    out = tmp_path / "int8-decoder"
    assert run_convert_cli("convert", tiny_attention_model, out, "--representative", tiny_data,
                           "--calibration-images", "40", "--decoder", "int8") == 0
    assert json.loads((out / "manifest.json").read_text())["quantization"]["decoder"] == "int8"
    assert graph_report(out / "decoder.tflite")["float_ops"] == []
    frame = cv2.imread(str(tiny_test_data / "images" / "000002.jpg"))
    captioner = Captioner(out)
    result = captioner.caption(frame)
    attention = captioner.attention(frame, result.tokens)
    assert result.text and np.isclose(attention[0].sum(), 1.0, atol=0.05)


def test_an_attention_decoder_trains_on_a_frozen_backbone(tiny_attention_model, tiny_data,
                                                          tmp_path):
    """Another language's decoder on the attention model's CNN, features computed once."""
    short = [*TINY_TRAIN]
    short[short.index("--epochs") + 1] = "1"
    out = tmp_path / "zh"
    assert run_convert_cli("train", tiny_data, out, *short, "--lang", "zh", "--decoder",
                           "attention", "--attention-dim", "32", "--init-from",
                           tiny_attention_model, "--freeze-backbone", "--max-images", "100") == 0
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["samples"]
