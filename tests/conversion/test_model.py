"""The exported one-step decoders compute what the training models compute, for both decoder types:
stepping the Keras one-step decoder (the graph that is converted to TFLite) and its numpy twin
(float_decode, used for calibration) over a caption reproduces the teacher-forced training
model's logits. Random weights, no training: the arithmetic is what is checked."""

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]  # imports TensorFlow

VOCAB, LENGTH, BATCH = 19, 7, 3


def random_captioner(decoder: str, scene_input: list[int] | None = None):
    from conversion.network.model import CaptionNetwork, NetworkConfig

    config = NetworkConfig(vocab_size=VOCAB, image_size=64, max_length=LENGTH, embedding_dim=8,
                         units=16, feature_dim=16, width=0.25, decoder=decoder, attention_dim=8,
                         scene_input=scene_input)
    captioner = CaptionNetwork(config)
    rng = np.random.default_rng(5)
    for weight in captioner.training_model.weights:
        # larger than the initialisers' weights, so that every term visibly matters
        value = (np.ones(weight.shape) if "moving_variance" in weight.path
                 else rng.normal(0, 0.4, weight.shape))
        weight.assign(value.astype("float32"))
    return captioner


@pytest.mark.parametrize("scene_input", [None, [3, 4, 2]], ids=["feature", "scene_input"])
@pytest.mark.parametrize("decoder", ["show_and_tell", "attention"])
def test_stepping_the_exported_decoder_reproduces_the_training_logits(decoder, scene_input):
    from conversion.network.float_decode import initial_state

    captioner = random_captioner(decoder, scene_input)
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (BATCH, 64, 64, 3)).astype("float32")
    tokens = rng.integers(0, VOCAB, (BATCH, LENGTH - 1)).astype("int32")
    expected = np.asarray(captioner.training_model([images, tokens], training=False))

    encoder, keras_step = captioner.export_models(batch_size=None)
    wiring = captioner.decoder_wiring()
    encoded = {k: np.asarray(v) for k, v in encoder(images, training=False).items()}
    assert set(encoded) == set(wiring["initial"].values())
    input_names = [t.name for t in keras_step.inputs]
    assert set(input_names) == {wiring["token"], *wiring["initial"]}
    keras_state = initial_state(encoded, wiring)
    numpy_state = dict(keras_state)
    numpy_step = captioner.decoder_type.numpy_step(keras_step)
    for t in range(LENGTH - 1):
        feed = {**keras_state, "token": np.eye(VOCAB, dtype="float32")[tokens[:, t]]}
        out = keras_step([feed[name] for name in input_names], training=False)
        np.testing.assert_allclose(np.asarray(out["logits"]), expected[:, t], rtol=1e-3, atol=1e-4)
        logits, numpy_state, attention = numpy_step(tokens[:, t], numpy_state)
        np.testing.assert_allclose(logits, expected[:, t], rtol=1e-3, atol=1e-4)
        for name, source in wiring["state"].items():
            keras_state[name] = np.asarray(out[source])
        if decoder == "attention":
            rows, cols = wiring["attention_grid"]
            assert attention.shape == (BATCH, rows * cols)
            np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
            np.testing.assert_allclose(np.asarray(out["attention"]), attention, atol=1e-5)
        else:
            assert attention is None and wiring["attention"] is None


def test_the_attention_grid_is_the_cnn_map():
    captioner = random_captioner("attention")
    assert captioner.grid == (4, 4)  # 64 px / 16
    wiring = captioner.decoder_wiring()
    assert wiring["attention_grid"] == [4, 4] and wiring["type"] == "attention"
    # per caption constants come from the encoder: the step gets them as inputs
    assert {"keys", "values", "image_gates"} <= set(wiring["initial"])
    assert set(wiring["state"]) == {"h", "c"}


def test_both_types_share_the_cnn_so_one_initialises_the_other():
    a, b = random_captioner("show_and_tell"), random_captioner("attention")
    shapes = [w.shape for w in a.backbone.get_weights()]
    assert shapes == [w.shape for w in b.backbone.get_weights()]
    b.backbone.set_weights(a.backbone.get_weights())


def test_with_scene_input_the_decoder_reads_the_heads_that_the_scene_loss_trains():
    captioner = random_captioner("show_and_tell", [3, 4, 2])
    model = captioner.scene_training_model(3, 4, 2)
    heads = {layer.name: layer for layer in model.layers if layer.name.startswith("scene_")}
    # the very layers the decoder reads: no second, training-only copy
    assert set(heads.values()) == set(captioner.scene_heads)
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (BATCH, 64, 64, 3)).astype("float32")
    tokens = rng.integers(0, VOCAB, (BATCH, LENGTH - 1)).astype("int32")
    out = model([images, tokens], training=False)
    assert tuple(out["scene_counts"].shape) == (BATCH, 3, 4)
    assert tuple(out["scene_place"].shape) == (BATCH, 2)
    before = np.asarray(out["logits"])
    counts_dense = captioner.scene_heads[0]
    counts_dense.set_weights([w * 0 for w in counts_dense.get_weights()])
    after = np.asarray(model([images, tokens], training=False)["logits"])
    assert np.abs(after - before).max() > 1e-3  # the caption depends on the heads' answers
