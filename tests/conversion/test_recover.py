"""`edge-captioner-convert recover`: a bundle's weights read back into a `train` output directory
that `convert` re-exports (how the shipped bundles, whose training run is gone, got their
test-time mirroring encoder)."""

import json

import numpy as np
import pytest

from conversion.export.recover import graph_weights
from make_test_bundles import run_convert_cli

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]  # imports TensorFlow, converts


def _images(test_data, count=8):
    import cv2

    paths = sorted((test_data / "images").glob("*.jpg"))[:count]
    return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]
                    ).astype("float32")


def test_a_model_recovered_from_its_float_bundle_computes_what_the_trained_one_does(
        tiny_model, converted_tiny_bundles, tiny_test_data, tmp_path):
    from conversion.export.convert import load_trained

    _, flt = converted_tiny_bundles
    out = tmp_path / "recovered"
    assert run_convert_cli("recover", flt, out) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["recovered_from"]["name"] == json.loads(
        (flt / "manifest.json").read_text())["name"]
    trained, _, vocab = load_trained(tiny_model)
    recovered, _, recovered_vocab = load_trained(out)
    assert recovered_vocab.tokens == vocab.tokens
    images = _images(tiny_test_data)
    (enc_a, dec_a), (enc_b, dec_b) = (c.export_models(batch_size=None)
                                      for c in (trained, recovered))
    a, b = enc_a.predict(images, verbose=0), enc_b.predict(images, verbose=0)
    for name in a:  # the BatchNormalization folded into each conv's bias, and unfolded again
        np.testing.assert_allclose(b[name], a[name], atol=1e-4 * np.abs(a[name]).max())
    for layer in ("token_gates", "recurrent_gates", "logits"):  # the SVD split of the embedding
        for x, y in zip(dec_a.get_layer(layer).get_weights(), dec_b.get_layer(layer).get_weights(),
                        strict=True):
            np.testing.assert_allclose(y, x, atol=1e-5 * np.abs(x).max())


def test_an_int8_bundle_recovered_and_converted_again_keeps_its_int8_weights(tiny_bundles,
                                                                             tiny_data, tmp_path):
    int8, _ = tiny_bundles  # a 16x8 decoder: int64 biases
    model, again = tmp_path / "model", tmp_path / "again"
    assert run_convert_cli("recover", int8, model) == 0
    assert run_convert_cli("convert", model, again, "--representative", tiny_data,
                           "--calibration-images", "80") == 0
    for graph in ("encoder.tflite", "decoder.tflite"):
        before, after = graph_weights(int8 / graph), graph_weights(again / graph)
        assert before.keys() == after.keys() and len(before) >= 3
        for name, (kernel, _) in before.items():
            step = np.abs(kernel).max(axis=tuple(range(1, kernel.ndim)), keepdims=True) / 127
            steps = np.abs(after[name][0] - kernel) / step  # per output channel
            if name == "token_gates":
                # The one-hot kernel goes back through the nearest rank-E split of the rounded
                # embedding @ K_embed (decoders.base.split_token_kernel; V 51 > E 24 here). The float
                # kernel was rank E and within half a step of the int8 one, so the split is at
                # least as close to it (Eckart-Young), and rounding again adds half a step:
                # in all, at most one step per value in root mean square.
                assert np.sqrt(np.mean(steps ** 2)) <= 1.0, name  # measured: 0.2
                assert np.mean(steps > 0.5) < 0.1, name  # most values back on their own step
            else:  # each channel's scale comes back, so the values are the same int8 steps
                assert steps.max() < 1e-3, name
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["training"]["recovered_from"]["quantization"]["encoder"] == "int8"


def test_recover_refuses_what_it_cannot_read(tiny_bundles, tiny_attention_bundles, tmp_path,
                                             capsys):
    int8, _ = tiny_bundles
    assert run_convert_cli("recover", tiny_attention_bundles[0], tmp_path / "a") == 2
    assert "Show-and-Tell" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert run_convert_cli("recover", int8, busy) == 2
    assert "not empty" in capsys.readouterr().err and (busy / "keep.txt").read_text() == "mine"
    assert run_convert_cli("recover", tmp_path / "nothing-here", tmp_path / "b") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
