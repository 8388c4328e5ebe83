"""The CNN-LSTM captioners in Keras, and the two graphs that are exported for the device.

Two decoder types share the CNN (`ModelConfig.decoder`):

Show-and-Tell ("show_and_tell", the default), training model (teacher forcing):
    image (uint8 RGB) -> CNN -> feature f
    h0 = tanh(W_h0 f), c0 = W_c0 f                      the initial LSTM state
    x_t = [embedding(token_t), f]                        the image feature at EVERY step, so the
    LSTM(x_t, state) -> dense -> logits over the vocab   decoder does not forget later objects

Show, Attend and Tell ("attention"): the same f, h0, c0 and image feature at every step, and in
addition the CNN's spatial map (the 1x1 squeeze's output, rows x cols = L locations of D channels)
that the decoder attends over with additive (Bahdanau) attention driven by the previous h:
    values v_l = map_l + location embedding_l            (L, D): the location is part of the value
    keys   k_l = W_k v_l + b_k                           (L, A): constant for a caption
    alpha  = softmax_l(w_s . tanh(k_l + W_q h_{t-1}))    (L,): the attention weights
    context = sum_l alpha_l v_l                          (D,)
    x_t = [embedding(token_t), f, context]               context into the LSTM input
The training model unrolls this step over the caption (a Python loop inside the Keras graph: see
`_decode_attention` for why not keras.layers.RNN).

Exported for the device, built from the SAME trained weights (`export_models`):
    encoder: image -> (h0, c0, image_gates[, keys, values])
             image_gates = f @ K_f + bias, the image's share of the LSTM gate pre-activations,
             constant for a whole caption; keys/values likewise: the step does only per-step work
    decoder: one step (token one-hot, h, c, image_gates[, keys, values]) -> (logits, h', c'
             [, attention]) written as FULLY_CONNECTED + LOGISTIC + TANH + MUL + ADD (+ SOFTMAX,
             SUM, RESHAPE for attention): the fused sequence-LSTM op is fragile on the Edge TPU
             compiler and at int8; the embedding lookup is folded into the one-hot
             FULLY_CONNECTED (embedding @ K_x), which removes GATHER.
`decoder_wiring()` describes which encoder output feeds which decoder input and which decoder
output is fed back, so that the device runtime needs no knowledge of either type.

Keras gate order (i, f, g, o) and equations are reproduced exactly; `tests/test_model.py` checks
that stepping the exported decoder reproduces the training model's logits, for both types.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

DECODER_TYPES = ("show_and_tell", "attention")


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
    decoder: str = "show_and_tell"  # show_and_tell | attention (older configs have no key)
    attention_dim: int = 64  # A: the additive attention's hidden size (attention only)
    # [kinds, count classes, places] when the decoder also reads the scene heads' probabilities
    # (see Captioner.decoder_input); None: the heads are training-only or absent
    scene_input: list[int] | None = None
    # backbone "evidence": no CNN; the encoder reads the real-world encoder's findings as a vector
    # of this length (edge_captioner/evidence.py), through a small MLP
    evidence_dim: int | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODER_TYPES:
            raise ValueError(f"unknown decoder {self.decoder!r} ({', '.join(DECODER_TYPES)})")

    def to_dict(self) -> dict:
        return asdict(self)


SQUEEZE_CHANNELS = 32  # D: channels of the spatial map after the 1x1 squeeze


@keras.saving.register_keras_serializable(package="edge_captioner")
class StaticFlatten(layers.Layer):
    """Flatten to a CONSTANT shape (-1, n). keras' Flatten and Reshape rebuild the batch dimension
    at run time, which leaves SHAPE, STRIDED_SLICE and PACK ops in the TFLite graph (rejected by
    the Edge TPU compiler); this converts to one RESHAPE."""

    def call(self, x):
        return ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))


@keras.saving.register_keras_serializable(package="edge_captioner")
class LocationsFlatten(layers.Layer):
    """(rows, cols, D) map -> (rows * cols, D) locations, row-major, as one constant RESHAPE."""

    def call(self, x):
        return ops.reshape(x, (-1, int(x.shape[1] * x.shape[2]), int(x.shape[3])))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * input_shape[2], input_shape[3])


@keras.saving.register_keras_serializable(package="edge_captioner")
class LocationEmbedding(layers.Layer):
    """Adds a learned vector per location: the attention's values then say WHERE they come from
    ("by the garage", two cats side by side), which a 1x1-squeezed conv map barely does."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros",
                                     name="table")

    def call(self, x):
        return x + self.table


def _conv(x, filters: int, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_backbone(config: ModelConfig) -> keras.Model:
    """uint8-range RGB image -> feature vector f (feature_dim); for the attention decoder also the
    spatial map as (L, D) locations. Both types have the same layers (and weights), so a CNN
    trained under one initialises the other (`train --init-from`)."""
    if config.backbone == "evidence":
        if config.decoder != "show_and_tell" or not config.evidence_dim:
            raise ValueError("the evidence backbone needs evidence_dim and a show_and_tell decoder")
        evidence = encoder_input(config)
        x = layers.Dense(config.feature_dim, activation="relu", name="evidence_dense")(evidence)
        x = layers.Dropout(config.dropout, name="feature_dropout")(x)
        feature = layers.Dense(config.feature_dim, activation="relu", name="feature")(x)
        return keras.Model(evidence, feature, name="backbone")
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
    else:
        raise ValueError(f"unknown backbone {config.backbone!r}")
    # Keep WHERE things are: a 1x1 squeeze and a flatten instead of global pooling, because
    # the caption says "at the door" vs "on the porch" and counts objects side by side.
    x = layers.Conv2D(SQUEEZE_CHANNELS, 1, name="squeeze")(x)
    spatial = layers.ReLU(name="squeeze_relu")(x)
    x = StaticFlatten(name="flatten")(spatial)
    x = layers.Dropout(config.dropout, name="feature_dropout")(x)
    feature = layers.Dense(config.feature_dim, activation="relu", name="feature")(x)
    if config.decoder == "attention":
        return keras.Model(image, [feature, LocationsFlatten(name="locations")(spatial)],
                           name="backbone")
    return keras.Model(image, feature, name="backbone")


def encoder_input(config: ModelConfig, batch_size: int | None = None):
    """The encoder's one input: the image, or for the evidence backbone the findings vector."""
    if config.backbone == "evidence":
        return keras.Input((config.evidence_dim,), batch_size=batch_size, name="evidence")
    return keras.Input((config.image_size, config.image_size, 3), batch_size=batch_size,
                       name="image")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of "same" padding along one axis, as TensorFlow and TFLite
    place it: the odd pixel goes after (right, bottom)."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def mirror_tower(backbone: keras.Model, image):
    """The small CNN's feature vector of the MIRROR image of `image`, computed from `image` itself
    by a copy of the CNN with left-right mirrored weights: each conv kernel mirrored, the feature
    layer's rows re-ordered to read the map's columns right to left, and the zero padding of every
    conv mirrored too (a stride-2 "same" conv pads only the right edge; its mirror pads the left).
    That equals the CNN on the flipped image, but with the ops the Edge TPU compiler and every
    int8 runtime take (PAD, CONV_2D, FULLY_CONNECTED), where flipping the image in the graph
    would need REVERSE_V2, which the Edge TPU compiler does not map. `backbone` must be
    build_backbone's "small" CNN: a chain of elementwise layers, convs, a flatten and a Dense."""
    x = image
    for layer in backbone.layers[1:]:
        if isinstance(layer, layers.Conv2D):
            kernel_size, stride = layer.kernel_size, layer.strides
            rows, cols = int(x.shape[1]), int(x.shape[2])
            top_bottom = _same_padding(rows, kernel_size[0], stride[0])
            left, right = _same_padding(cols, kernel_size[1], stride[1])
            if left != right:
                x = layers.ZeroPadding2D((top_bottom, (right, left)),
                                         name=f"mirror_{layer.name}_pad")(x)
            mirrored = layers.Conv2D(layer.filters, kernel_size, strides=stride,
                                     padding="same" if left == right else "valid",
                                     use_bias=layer.use_bias, name=f"mirror_{layer.name}")
            x = mirrored(x)
            weights = layer.get_weights()
            mirrored.set_weights([weights[0][:, ::-1]] + weights[1:])
        elif isinstance(layer, layers.Dense):  # the feature layer, on the flattened map
            rows, cols, channels = (int(d) for d in backbone.get_layer("squeeze_relu").output.shape[1:])
            kernel, bias = layer.get_weights()
            kernel = kernel.reshape(rows, cols, channels, -1)[:, ::-1].reshape(kernel.shape)
            mirrored = layers.Dense(layer.units, activation=layer.activation,
                                    name=f"mirror_{layer.name}")
            x = mirrored(x)
            mirrored.set_weights([kernel, bias])
        else:  # Rescaling, BatchNormalization, ReLU, flatten, dropout: per pixel, shared as is
            x = layer(x, training=False)
    return x


class Captioner:
    """Holds the shared layers; builds the training model and the exported graphs from them."""

    def __init__(self, config: ModelConfig):
        self.config = config
        c = config
        self.backbone = build_backbone(c)
        self.init_h = layers.Dense(c.units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(c.units, name="init_c")
        self.embedding = layers.Embedding(c.vocab_size, c.embedding_dim, name="embedding")
        self.dropout = layers.Dropout(c.dropout, name="lstm_dropout")
        self.logits = layers.Dense(c.vocab_size, name="logits")
        self.scene_heads = None
        if c.scene_input:
            kinds, count_classes, places = c.scene_input
            self.scene_heads = (layers.Dense(kinds * count_classes, name="scene_counts_dense"),
                                layers.Dense(places, name="scene_place"))
        if c.decoder == "attention":
            self.grid = tuple(int(d) for d in self.backbone.get_layer("squeeze_relu").output.shape[1:3])
            a, u4 = c.attention_dim, 4 * c.units
            self.locations = LocationEmbedding(name="location_embedding")
            self.keys = layers.Dense(a, name="attention_keys")
            self.query = layers.Dense(a, use_bias=False, name="attention_query")
            self.score = layers.Dense(1, use_bias=False, name="attention_score")
            # The LSTM's input kernel in three parts (token, image feature, context) plus its
            # recurrent kernel; the bias rides with the image part, constant over a caption.
            self.token_gates = layers.Dense(u4, use_bias=False, name="token_gates")
            self.image_gates = layers.Dense(u4, name="image_gates")
            self.context_gates = layers.Dense(u4, use_bias=False, name="context_gates")
            self.recurrent_gates = layers.Dense(u4, use_bias=False, name="recurrent_gates")
        else:
            self.grid = None
            self.lstm = layers.LSTM(c.units, return_sequences=True, name="lstm")
        self.training_model = self._build_training_model()

    @property
    def locations_count(self) -> int:
        return self.grid[0] * self.grid[1]

    def _build_training_model(self) -> keras.Model:
        c = self.config
        image = encoder_input(c)
        tokens = keras.Input((c.max_length - 1,), dtype="int32", name="tokens")
        features = self.backbone(image)
        if c.decoder == "attention":
            return keras.Model([image, tokens], self._decode_attention(*features, tokens),
                               name="captioner")
        return keras.Model([image, tokens], self._decode(features, tokens), name="captioner")

    def scene_logits(self, feature, heads, kinds: int):
        """Scene heads on the image feature: per-kind count logits (B, kinds, classes) and the
        place logits (B, places)."""
        counts_dense, place_dense = heads
        counts = counts_dense(feature)
        return (ops.reshape(counts, (-1, kinds, int(counts.shape[-1]) // kinds)),
                place_dense(feature))

    def decoder_input(self, feature):
        """What the decoder sees of the image: the feature f, and with `scene_input` also the
        scene heads' probabilities (how many of each kind, which place). The heads learn those
        from the scene records directly; handing the decoder their sharp answer spares it from
        reading counts out of f itself."""
        if not self.config.scene_input:
            return feature
        counts, place = self.scene_logits(feature, self.scene_heads, self.config.scene_input[0])
        n = int(counts.shape[1]) * int(counts.shape[2])
        return layers.Concatenate()(
            [feature, ops.reshape(ops.softmax(counts, axis=-1), (-1, n)),
             ops.softmax(place, axis=-1)])

    def _decode(self, feature, tokens):
        c = self.config
        feature = self.decoder_input(feature)
        h0, c0 = self.init_h(feature), self.init_c(feature)
        embedded = self.embedding(tokens)
        repeated = layers.RepeatVector(c.max_length - 1)(feature)
        x = layers.Concatenate()([embedded, repeated])
        x = self.lstm(x, initial_state=[h0, c0])
        return self.logits(self.dropout(x))

    # -- attention ---------------------------------------------------------------------------------
    def _per_location(self, layer, x):
        """A Dense over the last axis of (B, L, d), written as (B*L, d) rows: keras' Dense on a
        rank-3 tensor rebuilds its shape at run time (SHAPE, GATHER, PACK in the TFLite graph)."""
        n = self.locations_count
        rows = layer(ops.reshape(x, (-1, int(x.shape[-1]))))
        return ops.reshape(rows, (-1, n, int(rows.shape[-1])))

    def _attention_constants(self, feature, locations) -> dict:
        """What stays the same for a whole caption: computed ONCE (in the exported encoder)."""
        values = self.locations(locations)
        feature = self.decoder_input(feature)
        return {"h0": self.init_h(feature), "c0": self.init_c(feature),
                "image_gates": self.image_gates(feature),
                "keys": self._per_location(self.keys, values), "values": values}

    def _attention_step(self, token_gates, h, cell, image_gates, keys, values):
        """One decoder step from the token's gate share; the same code builds the training
        graph (unrolled) and the exported one-step graph, so they cannot drift apart."""
        n, a = self.locations_count, self.config.attention_dim
        query = ops.reshape(self.query(h), (-1, 1, a))
        scores = ops.reshape(self._per_location(self.score, ops.tanh(keys + query)), (-1, n))
        attention = ops.softmax(scores, axis=-1)
        context = ops.sum(values * ops.reshape(attention, (-1, n, 1)), axis=1)
        gates = token_gates + self.recurrent_gates(h) + image_gates + self.context_gates(context)
        i, f, g, o = ops.split(gates, 4, axis=-1)
        new_c = ops.sigmoid(f) * cell + ops.sigmoid(i) * ops.tanh(g)
        new_h = ops.sigmoid(o) * ops.tanh(new_c)
        return new_h, new_c, attention

    def _decode_attention(self, feature, locations, tokens):
        """Teacher forcing, unrolled over the max_length - 1 steps (few, and static). Unrolled
        rather than keras.layers.RNN: Keras 3's RNN takes no per-sequence constants, so keys,
        values and gates would have to ride along as fake states, for little speed on a CPU
        (benchmarks/attention_loop.py, decoder alone: the RNN 12% faster at the shipped size,
        about 6% of a training step with the CNN; 13% slower at the tests' tiny size)."""
        k = self._attention_constants(feature, locations)
        token_gates = self.token_gates(self.embedding(tokens))  # (B, T, 4U), all steps at once
        h, cell = k["h0"], k["c0"]
        outputs = []
        for t in range(self.config.max_length - 1):
            h, cell, _ = self._attention_step(token_gates[:, t], h, cell, k["image_gates"],
                                              k["keys"], k["values"])
            outputs.append(h)
        hs = ops.stack(outputs, axis=1)
        return self.logits(self.dropout(hs))

    def feature_training_model(self) -> keras.Model:
        """The decoder alone, fed precomputed image features: for training a caption language on
        a frozen backbone (e.g. Chinese on the English model's CNN) without re-running the CNN on
        every image every epoch. It shares every decoder layer with `training_model`."""
        c = self.config
        feature = keras.Input((c.feature_dim,), name="feature")
        tokens = keras.Input((c.max_length - 1,), dtype="int32", name="tokens")
        if c.decoder == "attention":
            locations = keras.Input((self.locations_count, SQUEEZE_CHANNELS), name="locations")
            return keras.Model([feature, locations, tokens],
                               self._decode_attention(feature, locations, tokens),
                               name="decoder_only")
        return keras.Model([feature, tokens], self._decode(feature, tokens), name="decoder_only")

    def scene_training_model(self, kinds: int, count_classes: int, places: int) -> keras.Model:
        """The training model plus two heads on the image feature f that read the scene record of a
        synthetic image: how many of each kind (0..count_classes-1, a softmax per kind) and which
        place. Their loss makes f say what is in the picture directly, which the caption loss
        teaches only through the decoder (the shipped model's errors were cat/dog at 24-32 px and
        counts; see the README). Training-only, unless the config's `scene_input` makes the
        decoder read them: then they are the Captioner's own heads and the encoder exports them."""
        c = self.config
        image = encoder_input(c)
        tokens = keras.Input((c.max_length - 1,), dtype="int32", name="tokens")
        features = self.backbone(image)
        if c.decoder == "attention":
            logits = self._decode_attention(*features, tokens)
            feature = features[0]
        else:
            logits = self._decode(features, tokens)
            feature = features
        heads = self.scene_heads or (layers.Dense(kinds * count_classes, name="scene_counts_dense"),
                                     layers.Dense(places, name="scene_place"))
        counts, place = self.scene_logits(feature, heads, kinds)
        return keras.Model([image, tokens],
                           {"logits": logits, "scene_counts": counts, "scene_place": place},
                           name="captioner_with_scene_heads")

    def scene_only_model(self, kinds: int, count_classes: int, places: int, colour_classes: int,
                         where_classes: int, lightings: int) -> keras.Model:
        """The CNN and scene heads alone, no decoder (`train --scene-only`): image -> the
        Captioner's own count and place heads (`scene_input` must be set: the decoders trained
        later on this frozen CNN read them) plus training-only heads for each kind's colour and
        spot and the lighting (class 0 of colour and spot: the kind is absent). Together they
        say everything a canonical synthetic caption says, so f learns all of it; an epoch costs
        about half of a joint one, the LSTM's teacher forcing being the other half."""
        if not self.scene_heads:
            raise ValueError("scene_only_model needs a config with scene_input")
        image = keras.Input((self.config.image_size, self.config.image_size, 3), name="image")
        feature = self.backbone(image)
        if self.config.decoder == "attention":
            feature = feature[0]
        counts, place = self.scene_logits(feature, self.scene_heads, kinds)

        def per_kind(classes: int, name: str):
            dense = layers.Dense(kinds * classes, name=f"{name}_dense")(feature)
            return ops.reshape(dense, (-1, kinds, classes))

        return keras.Model(image, {
            "scene_counts": counts, "scene_place": place,
            "scene_colour": per_kind(colour_classes, "scene_colour"),
            "scene_where": per_kind(where_classes, "scene_where"),
            "scene_lighting": layers.Dense(lightings, name="scene_lighting")(feature),
        }, name="cnn_with_scene_heads")

    # -- export ----------------------------------------------------------------------------------
    def decoder_wiring(self, log_probs: bool = False) -> dict:
        """The manifest's "decoder" section: decoder input <- encoder output (`initial`), decoder
        input <- its own output of the previous step (`state`), the token and scores tensors and
        the attention output. The runtime runs any bundle from this alone. log_probs: as
        `export_models(log_probs=True)` made the decoder."""
        initial = {"h": "h0", "c": "c0", "image_gates": "image_gates"}
        if self.config.decoder == "attention":
            initial |= {"keys": "keys", "values": "values"}
        return {
            "type": self.config.decoder,
            "token": "token",
            "logits": "log_probs" if log_probs else "logits",
            "normalised": log_probs,
            "initial": initial,
            "state": {"h": "h_out", "c": "c_out"},
            "attention": "attention" if self.grid else None,
            "attention_grid": list(self.grid) if self.grid else None,
        }

    def lstm_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kernel, recurrent, bias = (np.asarray(w) for w in self.lstm.get_weights())
        return kernel, recurrent, bias

    def export_models(self, batch_size: int = 1, log_probs: bool = False,
                      mirror: bool = False) -> tuple[keras.Model, keras.Model]:
        """Encoder and one-step decoder with static shapes, weights copied from training.

        log_probs: the decoder ends in a log-softmax and outputs "log_probs" instead of "logits".
        In an int8 graph that is one integer LOG_SOFTMAX op (~0.3 us), against ~3 us of numpy per
        step on the device; TFLite has no 16x8 LOG_SOFTMAX, so 16x8 decoders output logits.

        mirror: test-time mirroring inside the encoder. It runs the CNN and scene heads on the image
        and on its left-right mirror image and hands the decoder the mean of the two (features
        and heads' probabilities), so a scene and its mirror image get the same caption. Our
        captions never say left or right and training mirrors half the images (`train --augment
        flip`), so both views are scenes the model knows; their mean is steadier on what one view
        sees badly (the README, "The shipped default bundles", has what it buys). The bundle format
        and the runtime are unchanged: the encoder still maps one image to the initial state, at
        twice the CNN's cost. Show-and-Tell on the small CNN only (see mirror_tower); the attention
        decoder's spatial keys and values of the mirror image would need their grid mirrored back."""
        if mirror and (self.config.decoder != "show_and_tell" or self.config.backbone != "small"):
            raise ValueError("test-time mirroring needs a Show-and-Tell model on the small CNN")
        if self.config.decoder == "attention":
            return self._export_attention(batch_size, log_probs)
        c = self.config
        kernel, recurrent, bias = self.lstm_weights()
        k_embed, k_feature = kernel[: c.embedding_dim], kernel[c.embedding_dim:]
        token_kernel = np.asarray(self.embedding.get_weights()[0]) @ k_embed  # (V, 4U)

        image = encoder_input(c, batch_size)
        feature = self.decoder_input(self.backbone(image, training=False))
        if mirror:
            mirrored = self.decoder_input(mirror_tower(self.backbone, image))
            feature = layers.Average(name="mirror_mean")([feature, mirrored])
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
            {**_scores(logits_fc(new_h), log_probs), "h_out": new_h, "c_out": new_c},
            name="decoder",
        )
        token_fc.set_weights([token_kernel])
        recurrent_fc.set_weights([recurrent])
        logits_fc.set_weights(self.logits.get_weights())
        return encoder, decoder

    def _export_attention(self, batch_size: int,
                          log_probs: bool) -> tuple[keras.Model, keras.Model]:
        """The attention encoder and one-step decoder. Every layer is the trained one except the
        token's: the embedding is folded into a one-hot FULLY_CONNECTED (embedding @ K_token)."""
        c = self.config
        image = keras.Input((c.image_size, c.image_size, 3), batch_size=batch_size, name="image")
        feature, locations = self.backbone(image, training=False)
        encoder = keras.Model(image, self._attention_constants(feature, locations), name="encoder")

        n, u4 = self.locations_count, 4 * c.units
        token = keras.Input((c.vocab_size,), batch_size=batch_size, name="token")
        h = keras.Input((c.units,), batch_size=batch_size, name="h")
        cell = keras.Input((c.units,), batch_size=batch_size, name="c")
        gates_in = keras.Input((u4,), batch_size=batch_size, name="image_gates")
        keys = keras.Input((n, c.attention_dim), batch_size=batch_size, name="keys")
        values = keras.Input((n, SQUEEZE_CHANNELS), batch_size=batch_size, name="values")
        token_fc = layers.Dense(u4, use_bias=False, name="token_onehot_gates")
        new_h, new_c, attention = self._attention_step(token_fc(token), h, cell, gates_in, keys,
                                                       values)
        decoder = keras.Model(
            [token, h, cell, gates_in, keys, values],
            {**_scores(self.logits(new_h), log_probs), "h_out": new_h, "c_out": new_c,
             "attention": attention},
            name="decoder",
        )
        token_fc.set_weights([np.asarray(self.embedding.get_weights()[0])
                              @ np.asarray(self.token_gates.get_weights()[0])])
        return encoder, decoder


def _scores(logits, log_probs: bool) -> dict:
    """The decoder's scores output: raw logits, or log-probabilities under that name."""
    return {"log_probs": ops.log_softmax(logits, axis=-1)} if log_probs else {"logits": logits}


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
