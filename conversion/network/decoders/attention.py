"""Show, Attend and Tell ("attention"): Show-and-Tell's f, h0, c0 and image feature at every step,
and in addition the backbone's spatial map (rows x cols = L locations of D channels) that the
decoder attends over with additive (Bahdanau) attention driven by the previous h:
    values v_l = map_l + location embedding_l            (L, D): the location is part of the value
    keys   k_l = W_k v_l + b_k                           (L, A): constant for a caption
    alpha  = softmax_l(w_s . tanh(k_l + W_q h_{t-1}))    (L,): the attention weights
    context = sum_l alpha_l v_l                          (D,)
    x_t = [embedding(token_t), f, context]               context into the LSTM input
The training model unrolls this step over the caption (a Python loop inside the Keras graph: see
`decode` for why not keras.layers.RNN).

Exported: encoder image -> (h0, c0, image_gates, keys, values), all constant over a caption;
decoder (token, h, c, image_gates, keys, values) -> (logits, h', c', attention), the step's
SOFTMAX, SUM and RESHAPE besides Show-and-Tell's ops. Every exported layer is the trained one
except the token's, folded into a one-hot FULLY_CONNECTED.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from conversion.network.float_decode import State, lstm_step, softmax

from .base import Decoder, layer_weights, lstm, score_outputs


@keras.saving.register_keras_serializable(package="edge_captioner")
class LocationEmbedding(layers.Layer):
    """Adds a learned vector per location: the attention's values then say WHERE they come from
    ("by the garage", two cats side by side), which a 1x1-squeezed conv map barely does."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros",
                                     name="table")

    def call(self, x):
        return x + self.table


class AttentionDecoder(Decoder):
    name = "attention"
    reads_locations = True
    initial = {**Decoder.initial, "keys": "keys", "values": "values"}

    def __init__(self, config, decoder_input, map_shape):
        super().__init__(config, decoder_input, map_shape)
        a, u4 = config.attention_dim, 4 * config.units
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

    @property
    def grid(self) -> tuple[int, int]:
        return self.map_shape[:2]

    @property
    def locations_count(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def channels(self) -> int:
        return self.map_shape[2]

    def image_feature(self, features):
        return features[0]

    def feature_inputs(self):
        return [super().feature_inputs(),
                keras.Input((self.locations_count, self.channels), name="locations")]

    def _per_location(self, layer, x):
        """A Dense over the last axis of (B, L, d), written as (B*L, d) rows: keras' Dense on a
        rank-3 tensor rebuilds its shape at run time (SHAPE, GATHER, PACK in the TFLite graph)."""
        n = self.locations_count
        rows = layer(ops.reshape(x, (-1, int(x.shape[-1]))))
        return ops.reshape(rows, (-1, n, int(rows.shape[-1])))

    def constants(self, feature, locations) -> dict:
        """What stays the same for a whole caption: computed ONCE (in the exported encoder)."""
        values = self.locations(locations)
        feature = self.decoder_input(feature)
        return {"h0": self.init_h(feature), "c0": self.init_c(feature),
                "image_gates": self.image_gates(feature),
                "keys": self._per_location(self.keys, values), "values": values}

    def step(self, token_gates, h, cell, image_gates, keys, values):
        """One decoder step from the token's gate share; the same code builds the training
        graph (unrolled) and the exported one-step graph, so they cannot drift apart."""
        n, a = self.locations_count, self.config.attention_dim
        query = ops.reshape(self.query(h), (-1, 1, a))
        scores = ops.reshape(self._per_location(self.score, ops.tanh(keys + query)), (-1, n))
        attention = ops.softmax(scores, axis=-1)
        context = ops.sum(values * ops.reshape(attention, (-1, n, 1)), axis=1)
        gates = token_gates + self.recurrent_gates(h) + image_gates + self.context_gates(context)
        new_h, new_c = lstm(gates, cell)
        return new_h, new_c, attention

    def decode(self, features, tokens):
        """Teacher forcing, unrolled over the max_length - 1 steps (few, and static). Unrolled
        rather than keras.layers.RNN: Keras 3's RNN takes no per-sequence constants, so keys,
        values and gates would have to ride along as fake states, for little speed on a CPU
        (experiments/attention_loop.py, decoder alone: the RNN 12% faster at the shipped size,
        about 6% of a training step with the CNN; 13% slower at the tests' tiny size)."""
        feature, locations = features
        k = self.constants(feature, locations)
        token_gates = self.token_gates(self.embedding(tokens))  # (B, T, 4U), all steps at once
        h, cell = k["h0"], k["c0"]
        outputs = []
        for t in range(self.config.max_length - 1):
            h, cell, _ = self.step(token_gates[:, t], h, cell, k["image_gates"], k["keys"],
                                   k["values"])
            outputs.append(h)
        hs = ops.stack(outputs, axis=1)
        return self.logits(self.dropout(hs))

    def export(self, image, features, batch_size, log_probs, mirror):
        if mirror is not None:
            # the mirror image's spatial keys and values would need their grid mirrored back
            raise ValueError("the attention decoder cannot read a mirrored encoder")
        c = self.config
        feature, locations = features
        encoder = keras.Model(image, self.constants(feature, locations), name="encoder")

        token, h, cell, gates_in = self.step_inputs(batch_size)
        keys = keras.Input((self.locations_count, c.attention_dim), batch_size=batch_size,
                           name="keys")
        values = keras.Input((self.locations_count, self.channels), batch_size=batch_size,
                             name="values")
        token_fc = layers.Dense(4 * c.units, use_bias=False, name="token_onehot_gates")
        new_h, new_c, attention = self.step(token_fc(token), h, cell, gates_in, keys, values)
        decoder = keras.Model(
            [token, h, cell, gates_in, keys, values],
            {**score_outputs(self.logits(new_h), log_probs), "h_out": new_h, "c_out": new_c,
             "attention": attention},
            name="decoder",
        )
        token_fc.set_weights([np.asarray(self.embedding.get_weights()[0])
                              @ np.asarray(self.token_gates.get_weights()[0])])
        return encoder, decoder

    def numpy_step(self, decoder: keras.Model) -> AttentionStep:
        return AttentionStep(
            token_kernel=layer_weights(decoder, "token_onehot_gates")[0],
            recurrent=layer_weights(decoder, "recurrent_gates")[0],
            context_kernel=layer_weights(decoder, "context_gates")[0],
            query_kernel=layer_weights(decoder, "attention_query")[0],
            score_kernel=layer_weights(decoder, "attention_score")[0][:, 0],
            logits_kernel=layer_weights(decoder, "logits")[0],
            logits_bias=layer_weights(decoder, "logits")[1],
        )


@dataclass
class AttentionStep:
    token_kernel: np.ndarray  # (V, 4U): embedding @ K_token
    recurrent: np.ndarray  # (U, 4U)
    context_kernel: np.ndarray  # (D, 4U)
    query_kernel: np.ndarray  # (U, A)
    score_kernel: np.ndarray  # (A,)
    logits_kernel: np.ndarray
    logits_bias: np.ndarray

    def __call__(self, tokens: np.ndarray, state: State):
        """-> (logits, new state, attention weights (B, L))"""
        h = state["h"]
        query = (h @ self.query_kernel)[:, np.newaxis, :]
        attention = softmax(np.tanh(state["keys"] + query) @ self.score_kernel)  # (B, L)
        context = np.einsum("bl,bld->bd", attention, state["values"])
        gates = (self.token_kernel[tokens] + h @ self.recurrent + state["image_gates"]
                 + context @ self.context_kernel)
        h, c = lstm_step(gates, state["c"])
        return (h @ self.logits_kernel + self.logits_bias, {**state, "h": h, "c": c}, attention)
