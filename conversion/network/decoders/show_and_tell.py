"""Show-and-Tell ("show_and_tell", the default decoder).

Training model (teacher forcing):
    h0 = tanh(W_h0 f), c0 = W_c0 f                      the initial LSTM state
    x_t = [embedding(token_t), f]                        the image feature at EVERY step, so the
    LSTM(x_t, state) -> dense -> logits over the vocab   decoder does not forget later objects

Exported: encoder image -> (h0, c0, image_gates), where image_gates = f @ K_f + bias, the image's
share of the LSTM gate pre-activations; decoder (token, h, c, image_gates) -> (logits, h', c').
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from conversion.network.float_decode import State, lstm_step

from .base import Decoder, layer_weights, lstm, score_outputs, split_token_kernel


class ShowAndTellDecoder(Decoder):
    name = "show_and_tell"
    mirrorable = True
    recoverable = True

    def __init__(self, config, decoder_input, map_shape):
        super().__init__(config, decoder_input, map_shape)
        self.lstm = layers.LSTM(config.units, return_sequences=True, name="lstm")

    def decode(self, features, tokens):
        c = self.config
        feature = self.decoder_input(features)
        h0, c0 = self.init_h(feature), self.init_c(feature)
        embedded = self.embedding(tokens)
        repeated = layers.RepeatVector(c.max_length - 1)(feature)
        x = layers.Concatenate()([embedded, repeated])
        x = self.lstm(x, initial_state=[h0, c0])
        return self.logits(self.dropout(x))

    def lstm_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kernel, recurrent, bias = (np.asarray(w) for w in self.lstm.get_weights())
        return kernel, recurrent, bias

    def export(self, image, features, batch_size, log_probs, mirror):
        c = self.config
        kernel, recurrent, bias = self.lstm_weights()
        k_embed, k_feature = kernel[: c.embedding_dim], kernel[c.embedding_dim:]
        token_kernel = np.asarray(self.embedding.get_weights()[0]) @ k_embed  # (V, 4U)

        feature = self.decoder_input(features)
        if mirror is not None:
            mirrored = self.decoder_input(mirror(image))
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

        token, h, cell, gates_in = self.step_inputs(batch_size)
        token_fc = layers.Dense(4 * c.units, use_bias=False, name="token_gates")
        recurrent_fc = layers.Dense(4 * c.units, use_bias=False, name="recurrent_gates")
        logits_fc = layers.Dense(c.vocab_size, name="logits")
        gates = layers.Add(name="gates")([token_fc(token), recurrent_fc(h), gates_in])
        new_h, new_c = lstm(gates, cell)
        decoder = keras.Model(
            [token, h, cell, gates_in],
            {**score_outputs(logits_fc(new_h), log_probs), "h_out": new_h, "c_out": new_c},
            name="decoder",
        )
        token_fc.set_weights([token_kernel])
        recurrent_fc.set_weights([recurrent])
        logits_fc.set_weights(self.logits.get_weights())
        return encoder, decoder

    def numpy_step(self, decoder: keras.Model) -> ShowAndTellStep:
        return ShowAndTellStep(layer_weights(decoder, "token_gates")[0],
                               layer_weights(decoder, "recurrent_gates")[0],
                               *layer_weights(decoder, "logits"))

    def recover(self, weights) -> None:
        """The exported layers back into the training ones: the one-hot token kernel split into
        an embedding table and the LSTM's token kernel with the same product (SVD), the LSTM's
        kernel from that and the image gates' kernel, its bias from the image gates'."""
        for layer in (self.init_h, self.init_c, self.logits):
            kernel, bias = weights[layer.name]
            layer.set_weights([kernel.T, bias])
        feature_kernel, lstm_bias = weights["image_gates"]
        token_kernel, _ = weights["token_gates"]
        recurrent, _ = weights["recurrent_gates"]
        embedding, k_embed = split_token_kernel(token_kernel.T, self.config.embedding_dim)
        self.embedding.set_weights([embedding])
        self.lstm.set_weights([np.concatenate([k_embed, feature_kernel.T]), recurrent.T,
                               lstm_bias])


@dataclass
class ShowAndTellStep:
    token_kernel: np.ndarray  # (V, 4U): embedding @ K_x
    recurrent: np.ndarray  # (U, 4U)
    logits_kernel: np.ndarray  # (U, V)
    logits_bias: np.ndarray  # (V,)

    def __call__(self, tokens: np.ndarray, state: State):
        """-> (logits, new state, attention or None)"""
        gates = self.token_kernel[tokens] + state["h"] @ self.recurrent + state["image_gates"]
        h, c = lstm_step(gates, state["c"])
        return h @ self.logits_kernel + self.logits_bias, {**state, "h": h, "c": c}, None
