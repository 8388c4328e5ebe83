"""Test-time mirroring (`convert --mirror`): the encoder reads the image and its left-right mirror
image and hands the decoder the mean of both, built from a CNN copy with mirrored weights so that
the graph keeps to Edge TPU ops (PAD, CONV_2D, FULLY_CONNECTED; no REVERSE_V2)."""

import json

import cv2
import numpy as np
import pytest
from test_model import random_captioner

from conversion.export.checks import graph_report
from conversion.export.recover import graph_weights
from edge_captioner.model.captioner import Captioner
from make_test_bundles import run_convert_cli
from support.bundles import ENCODER_OPS, INT8_DECODER_OPS, caption_without_tensorflow

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]  # imports TensorFlow, converts


@pytest.mark.parametrize("size", [64, 60], ids=["even", "odd-after-a-stride"])
def test_the_mirror_tower_is_the_cnn_on_the_flipped_image(size):
    """Exact in float for every padding case: at 60 px the third stride-2 conv meets 15 columns,
    where "same" pads both sides alike; elsewhere it pads the right edge only."""
    import keras

    from conversion.network.backbones.cnn import mirror_tower
    from conversion.network.model import CaptionNetwork, NetworkConfig

    captioner = CaptionNetwork(NetworkConfig(vocab_size=9, image_size=size, max_length=5,
                                             width=0.25, feature_dim=16, units=8,
                                             embedding_dim=4))
    rng = np.random.default_rng(1)
    for weight in captioner.backbone.weights:
        value = (np.ones(weight.shape) if "moving_variance" in weight.path
                 else rng.normal(0, 0.4, weight.shape))
        weight.assign(value.astype("float32"))
    image = keras.Input((size, size, 3))
    tower = keras.Model(image, mirror_tower(captioner.backbone, image))
    images = rng.integers(0, 256, (3, size, size, 3)).astype("float32")
    flipped = np.ascontiguousarray(images[:, :, ::-1])
    expected = captioner.backbone.predict(flipped, verbose=0)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(tower.predict(images, verbose=0), expected, atol=1e-5 * scale)
    # and the CNN itself is not mirror-symmetric, so the comparison means something
    assert np.abs(captioner.backbone.predict(images, verbose=0) - expected).max() > 0.01 * scale


def test_a_mirroring_encoder_starts_an_image_and_its_mirror_image_alike():
    captioner = random_captioner("show_and_tell", [3, 4, 2])
    images = np.random.default_rng(2).integers(0, 256, (3, 64, 64, 3)).astype("float32")
    flipped = np.ascontiguousarray(images[:, :, ::-1])
    for mirror in (True, False):
        encoder, _ = captioner.export_models(batch_size=None, mirror=mirror)
        plain, mirrored = (encoder.predict(x, verbose=0) for x in (images, flipped))
        gap = max(np.abs(plain[k] - mirrored[k]).max() for k in plain)
        assert (gap < 1e-4) == mirror, (mirror, gap)
    with pytest.raises(ValueError, match="Show-and-Tell"):
        random_captioner("attention").export_models(mirror=True)


def test_convert_mirror_keeps_the_encoder_integer_only_on_edge_tpu_ops(tiny_model, tiny_data,
                                                                      tiny_test_data,
                                                                      converted_tiny_bundles,
                                                                      tmp_path):
    int8, flt = tmp_path / "int8", tmp_path / "float"
    assert run_convert_cli("convert", tiny_model, int8, "--representative", tiny_data,
                           "--calibration-images", "80", "--decoder", "int8", "--float", flt,
                           "--mirror") == 0
    manifest = json.loads((int8 / "manifest.json").read_text())
    assert manifest["test_time_mirror"] is True
    assert manifest["quantization"] == {"encoder": "int8", "decoder": "int8"}
    encoder_ops = set(manifest["ops"]["encoder"])
    # the stride-2 convs' mirrored padding is an explicit PAD; nothing else is new
    assert "PAD" in encoder_ops and encoder_ops <= ENCODER_OPS | {"PAD"}
    assert set(manifest["ops"]["decoder"]) <= INT8_DECODER_OPS
    for graph in ("encoder", "decoder"):
        assert graph_report(int8 / f"{graph}.tflite")["float_ops"] == [], graph

    # the float twin runs the same graph in float: an image and its mirror image start alike
    paths = sorted((tiny_test_data / "images").glob("*.jpg"))[:5]
    float_captioner = Captioner(flt)
    for path in paths:
        image = float_captioner.prepare(cv2.imread(str(path)))
        plain = float_captioner.model.encode(image)
        mirrored = float_captioner.model.encode(np.ascontiguousarray(image[:, ::-1]))
        for name in plain:
            np.testing.assert_allclose(plain[name], mirrored[name], atol=1e-4)
    assert caption_without_tensorflow(int8, paths[0]).strip()

    # recover reads a mirroring bundle's weights back as the model's own: the mirrored CNN is
    # left out, and the 0.5 of the mean that the converter folds into the layers after it undone
    _, plain_float = converted_tiny_bundles
    mirrored, plain = (graph_weights(b / "encoder.tflite") for b in (flt, plain_float))
    assert mirrored.keys() == plain.keys() and "image_gates" in plain
    for name, (kernel, _) in plain.items():
        np.testing.assert_allclose(mirrored[name][0], kernel, rtol=1e-5, atol=1e-6, err_msg=name)
    assert run_convert_cli("recover", int8, tmp_path / "recovered") == 0


def test_convert_mirror_refuses_an_attention_model(tiny_attention_model, tiny_data, tmp_path,
                                                   capsys):
    assert run_convert_cli("convert", tiny_attention_model, tmp_path / "b", "--representative",
                           tiny_data, "--mirror") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--mirror" in err[0] and "attention" in err[0]
    assert not (tmp_path / "b").exists()
