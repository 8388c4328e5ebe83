"""The Show-and-Tell style CNN-LSTM captioner in Keras, and the two graphs that are exported.

Training model (teacher forcing):
    image (uint8 RGB) -> CNN -> feature f
    h0 = tanh(W_h0 f), c0 = W_c0 f                      the initial LSTM state
    x_t = [embedding(token_t), f]                        the image feature at EVERY step, so the
    LSTM(x_t, state) -> dense -> logits over the vocab   decoder does not forget later objects

Exported for the device, built from the SAME trained weights (`export_models`):
    encoder: image -> (h0, c0, image_gates)    image_gates = f @ K_f, the image's share of the LSTM
                                               gate pre-activations, constant for a whole caption
    decoder: one step (token one-hot, h, c, image_gates) -> (logits, h', c')
             written as FULLY_CONNECTED + LOGISTIC + TANH + MUL + ADD: the fused sequence-LSTM op
             is fragile on the Edge TPU compiler and at int8; the embedding lookup is folded into
             the one-hot FULLY_CONNECTED (embedding @ K_x), which removes GATHER.

Keras gate order (i, f, g, o) and equations are reproduced exactly; `tests/test_model.py` checks
that stepping the exported decoder reproduces the training model's logits.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402


@dataclass
class ModelConfig:
    vocab_size: int
    image_size: int = 128
    max_length: int = 24  # tokens including <start> and <end>
    embedding_dim: int = 64
    units: int = 256  # LSTM units
    feature_dim: int = 256
    backbone: str = "small"  # small | mobilenet_v2 | mobilenet_v3
    backbone_weights: str | None = None  # "imagenet" for the MobileNets on a workstation online
    width: float = 1.0  # channel multiplier of the small CNN
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


@keras.saving.register_keras_serializable(package="edge_captioner")
class StaticFlatten(layers.Layer):
    """Flatten to a CONSTANT shape (-1, n). keras' Flatten and Reshape rebuild the batch dimension
    at run time, which leaves SHAPE, STRIDED_SLICE and PACK ops in the TFLite graph (rejected by
    the Edge TPU compiler); this converts to one RESHAPE."""

    def call(self, x):
        return ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))


def _conv(x, filters: int, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_backbone(config: ModelConfig) -> keras.Model:
    """uint8-range RGB image -> feature vector f (feature_dim)."""
    size = config.image_size
    image = keras.Input((size, size, 3), name="image")
    if config.backbone == "small":
        w = lambda n: max(8, int(n * config.width))  # noqa: E731
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(image)
        # Resolution early: two convs at 1/2 and 1/4 before the channel count grows, so small
        # objects (a cat of 20 px) keep their shape.
        x = _conv(x, w(16), 2, "c1")  # 64
        x = _conv(x, w(32), 2, "c2")  # 32
        x = _conv(x, w(32), 1, "c3")
        x = _conv(x, w(64), 2, "c4")  # 16
        x = _conv(x, w(64), 1, "c5")
        x = _conv(x, w(128), 2, "c6")  # 8
        x = _conv(x, w(128), 1, "c7")
        # Keep WHERE things are: a 1x1 squeeze and a flatten instead of global pooling, because
        # the caption says "at the door" vs "on the porch" and counts objects side by side.
        x = layers.Conv2D(32, 1, name="squeeze")(x)
        x = layers.ReLU(name="squeeze_relu")(x)
        x = StaticFlatten(name="flatten")(x)
    elif config.backbone in ("mobilenet_v2", "mobilenet_v3"):
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(image)
        if config.backbone == "mobilenet_v2":
            base = keras.applications.MobileNetV2(
                input_shape=(size, size, 3), include_top=False, weights=config.backbone_weights,
                alpha=0.35 if config.width < 1 else 1.0,
            )
        else:
            base = keras.applications.MobileNetV3Small(
                input_shape=(size, size, 3), include_top=False, weights=config.backbone_weights,
                include_preprocessing=False, minimalistic=True,
            )
        x = base(x)
        x = layers.Conv2D(32, 1, name="squeeze")(x)
        x = layers.ReLU(name="squeeze_relu")(x)
        x = StaticFlatten(name="flatten")(x)
    else:
        raise ValueError(f"unknown backbone {config.backbone!r}")
    x = layers.Dropout(config.dropout, name="feature_dropout")(x)
    feature = layers.Dense(config.feature_dim, activation="relu", name="feature")(x)
    return keras.Model(image, feature, name="backbone")


class Captioner:
    """Holds the shared layers; builds the training model and the exported graphs from them."""

    def __init__(self, config: ModelConfig):
        self.config = config
        c = config
        self.backbone = build_backbone(c)
        self.init_h = layers.Dense(c.units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(c.units, name="init_c")
        self.embedding = layers.Embedding(c.vocab_size, c.embedding_dim, name="embedding")
        self.lstm = layers.LSTM(c.units, return_sequences=True, name="lstm")
        self.dropout = layers.Dropout(c.dropout, name="lstm_dropout")
        self.logits = layers.Dense(c.vocab_size, name="logits")
        self.training_model = self._build_training_model()

    def _build_training_model(self) -> keras.Model:
        c = self.config
        image = keras.Input((c.image_size, c.image_size, 3), name="image")
        tokens = keras.Input((c.max_length - 1,), dtype="int32", name="tokens")
        return keras.Model([image, tokens], self._decode(self.backbone(image), tokens),
                           name="captioner")

    def _decode(self, feature, tokens):
        c = self.config
        h0, c0 = self.init_h(feature), self.init_c(feature)
        embedded = self.embedding(tokens)
        repeated = layers.RepeatVector(c.max_length - 1)(feature)
        x = layers.Concatenate()([embedded, repeated])
        x = self.lstm(x, initial_state=[h0, c0])
        return self.logits(self.dropout(x))

    def feature_training_model(self) -> keras.Model:
        """The decoder alone, fed precomputed image features: for training a caption language on
        a frozen backbone (e.g. Chinese on the English model's CNN) without re-running the CNN on
        every image every epoch. It shares every decoder layer with `training_model`."""
        c = self.config
        feature = keras.Input((c.feature_dim,), name="feature")
        tokens = keras.Input((c.max_length - 1,), dtype="int32", name="tokens")
        return keras.Model([feature, tokens], self._decode(feature, tokens), name="decoder_only")

    # -- export ----------------------------------------------------------------------------------
    def lstm_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kernel, recurrent, bias = (np.asarray(w) for w in self.lstm.get_weights())
        return kernel, recurrent, bias

    def export_models(self, batch_size: int = 1) -> tuple[keras.Model, keras.Model]:
        """Encoder and one-step decoder with static shapes, weights copied from training."""
        c = self.config
        kernel, recurrent, bias = self.lstm_weights()
        k_embed, k_feature = kernel[: c.embedding_dim], kernel[c.embedding_dim:]
        token_kernel = np.asarray(self.embedding.get_weights()[0]) @ k_embed  # (V, 4U)

        image = keras.Input((c.image_size, c.image_size, 3), batch_size=batch_size, name="image")
        feature = self.backbone(image, training=False)
        image_gates_layer = layers.Dense(4 * c.units, use_bias=True, name="image_gates")
        encoder = keras.Model(
            image,
            {
                "h0": self.init_h(feature),
                "c0": self.init_c(feature),
                "image_gates": image_gates_layer(feature),
            },
            name="encoder",
        )
        # The LSTM bias rides with the image gates: it is constant over a caption too.
        image_gates_layer.set_weights([k_feature, bias])

        token = keras.Input((c.vocab_size,), batch_size=batch_size, name="token")
        h = keras.Input((c.units,), batch_size=batch_size, name="h")
        cell = keras.Input((c.units,), batch_size=batch_size, name="c")
        gates_in = keras.Input((4 * c.units,), batch_size=batch_size, name="image_gates")
        token_fc = layers.Dense(4 * c.units, use_bias=False, name="token_gates")
        recurrent_fc = layers.Dense(4 * c.units, use_bias=False, name="recurrent_gates")
        logits_fc = layers.Dense(c.vocab_size, name="logits")
        gates = layers.Add(name="gates")([token_fc(token), recurrent_fc(h), gates_in])
        i, f, g, o = ops.split(gates, 4, axis=-1)
        new_c = ops.sigmoid(f) * cell + ops.sigmoid(i) * ops.tanh(g)
        new_h = ops.sigmoid(o) * ops.tanh(new_c)
        decoder = keras.Model(
            [token, h, cell, gates_in],
            {"logits": logits_fc(new_h), "h_out": new_h, "c_out": new_c},
            name="decoder",
        )
        token_fc.set_weights([token_kernel])
        recurrent_fc.set_weights([recurrent])
        logits_fc.set_weights(self.logits.get_weights())
        return encoder, decoder


def masked_loss(y_true, y_pred):
    """Cross-entropy over real tokens only (<pad> = 0 is masked out)."""
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")
    loss = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


def masked_accuracy(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")
    hit = ops.cast(ops.equal(ops.cast(y_true, "int32"),
                             ops.cast(ops.argmax(y_pred, axis=-1), "int32")), "float32")
    return ops.sum(hit * mask) / ops.maximum(ops.sum(mask), 1.0)
