"""The captioning network in Keras: a backbone, optional scene heads and a decoder, and the two
graphs that are exported for the device.

    encoder input (image, or the grounded model's evidence vector) -> backbone -> feature f
        [-> scene heads: how many of each kind, which place]
        -> decoder: teacher-forced LSTM over the caption (training), or one step (exported)

The types are chosen by name in `NetworkConfig` and live in their own modules:
- backbones (conversion/network/backbones/, `NetworkConfig.backbone`): the small CNN and the MobileNets
  (cnn.py), the grounded model's evidence MLP (evidence.py);
- decoders (conversion/network/decoders/, `NetworkConfig.decoder`): Show-and-Tell (show_and_tell.py),
  Show, Attend and Tell (attention.py); base.py says what both export and how.
This module holds what is common to all: the configuration, the scene heads, the training models
built around a backbone and a decoder, and the losses. `tests/conversion/test_model.py` checks that stepping
the exported decoder reproduces the training model's logits, for each decoder type.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

from .backbones import BACKBONES, backbone_class  # noqa: E402
from .decoders import DECODERS, decoder_class  # noqa: E402


def _import_every_type() -> None:
    """Every type's custom Keras layers (StaticFlatten, LocationEmbedding, ...) register when their
    module is imported, and keras.models.load_model finds a checkpoint.keras's layers by that
    registered name only: importing this module makes any checkpoint loadable."""
    for name in BACKBONES:
        backbone_class(name)
    for name in DECODERS:
        decoder_class(name)


_import_every_type()


@dataclass
class NetworkConfig:
    """The network's architecture: config.json's "model" and the manifest's "training.model"."""

    vocab_size: int
    image_size: int = 128
    max_length: int = 24  # tokens including <start> and <end>
    embedding_dim: int = 64
    units: int = 256  # LSTM units
    feature_dim: int = 256
    backbone: str = "small"  # a name of backbones.BACKBONES
    backbone_weights: str | None = None  # "imagenet" for the MobileNets on a workstation online
    width: float = 1.0  # channel multiplier of the small CNN
    dropout: float = 0.2
    decoder: str = "show_and_tell"  # a name of decoders.DECODERS (older configs have no key)
    attention_dim: int = 64  # A: the additive attention's hidden size (attention only)
    # [kinds, count classes, places] when the decoder also reads the scene heads' probabilities
    # (see CaptionNetwork.decoder_input); None: the heads are training-only or absent
    scene_input: list[int] | None = None
    # backbone "evidence": no CNN; the encoder reads the real-world encoder's findings as a vector
    # of this length (edge_captioner/model/evidence.py), through a small MLP
    evidence_dim: int | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r} ({', '.join(DECODERS)})")
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r} ({', '.join(BACKBONES)})")

    def to_dict(self) -> dict:
        return asdict(self)


class CaptionNetwork:
    """Holds the shared layers; builds the training models and the exported graphs from them.

    backbone_type, decoder_type: the configured types (backbones/, decoders/), which own their
    layers; backbone: the backbone's Keras model; scene_heads: (counts, place) Dense layers with
    `scene_input`, else None."""

    def __init__(self, config: NetworkConfig):
        self.config = config
        c = config
        decoder = decoder_class(c.decoder)
        self.backbone_type = backbone_class(c.backbone)(c, locations=decoder.reads_locations)
        self.backbone = self.backbone_type.model
        self.scene_heads = None
        if c.scene_input:
            kinds, count_classes, places = c.scene_input
            self.scene_heads = (layers.Dense(kinds * count_classes, name="scene_counts_dense"),
                                layers.Dense(places, name="scene_place"))
        self.decoder_type = decoder(c, self.decoder_input, self.backbone_type.map_shape)
        self.training_model = self._build_training_model()

    @property
    def grid(self) -> tuple[int, int] | None:
        """Rows and columns of the locations the decoder attends over (None: it does not)."""
        return self.decoder_type.grid

    @property
    def mirrorable(self) -> bool:
        """Whether the encoder can average an image and its mirror image (convert --mirror)."""
        return self.backbone_type.mirrorable and self.decoder_type.mirrorable

    def _build_training_model(self) -> keras.Model:
        image = self.backbone_type.input()
        tokens = keras.Input((self.config.max_length - 1,), dtype="int32", name="tokens")
        features = self.backbone(image)
        return keras.Model([image, tokens], self.decoder_type.decode(features, tokens),
                           name="captioner")

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

    def feature_training_model(self) -> keras.Model:
        """The decoder alone, fed precomputed image features: for training a caption language on
        a frozen backbone (e.g. Chinese on the English model's CNN) without re-running the CNN on
        every image every epoch. It shares every decoder layer with `training_model`."""
        features = self.decoder_type.feature_inputs()
        tokens = keras.Input((self.config.max_length - 1,), dtype="int32", name="tokens")
        inputs = features if isinstance(features, list) else [features]
        return keras.Model([*inputs, tokens], self.decoder_type.decode(features, tokens),
                           name="decoder_only")

    def scene_training_model(self, kinds: int, count_classes: int, places: int) -> keras.Model:
        """The training model plus two heads on the image feature f that read the scene record of a
        synthetic image: how many of each kind (0..count_classes-1, a softmax per kind) and which
        place. Their loss makes f say what is in the picture directly, which the caption loss
        teaches only through the decoder (the shipped model's errors were cat/dog at 24-32 px and
        counts; see docs/render-model.md). Training-only, unless the config's `scene_input` makes the
        decoder read them: then they are the network's own heads and the encoder exports them."""
        image = self.backbone_type.input()
        tokens = keras.Input((self.config.max_length - 1,), dtype="int32", name="tokens")
        features = self.backbone(image)
        logits = self.decoder_type.decode(features, tokens)
        heads = self.scene_heads or (layers.Dense(kinds * count_classes, name="scene_counts_dense"),
                                     layers.Dense(places, name="scene_place"))
        counts, place = self.scene_logits(self.decoder_type.image_feature(features), heads, kinds)
        return keras.Model([image, tokens],
                           {"logits": logits, "scene_counts": counts, "scene_place": place},
                           name="captioner_with_scene_heads")

    def scene_only_model(self, kinds: int, count_classes: int, places: int, colour_classes: int,
                         where_classes: int, lightings: int) -> keras.Model:
        """The CNN and scene heads alone, no decoder (`train --scene-only`): image -> the
        network's own count and place heads (`scene_input` must be set: the decoders trained
        later on this frozen CNN read them) plus training-only heads for each kind's colour and
        spot and the lighting (class 0 of colour and spot: the kind is absent). Together they
        say everything a canonical synthetic caption says, so f learns all of it; an epoch costs
        about half of a joint one, the LSTM's teacher forcing being the other half."""
        if not self.scene_heads:
            raise ValueError("scene_only_model needs a config with scene_input")
        image = keras.Input((self.config.image_size, self.config.image_size, 3), name="image")
        feature = self.decoder_type.image_feature(self.backbone(image))
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
        """The manifest's "decoder" section (Decoder.wiring)."""
        return self.decoder_type.wiring(log_probs)

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
        sees badly (docs/render-model.md has what it buys). The bundle format
        and the runtime are unchanged: the encoder still maps one image to the initial state, at
        twice the CNN's cost. Only where both types can (`mirrorable`): the small CNN has a mirror
        tower (backbones/cnn.py), and the attention decoder's spatial keys and values of the
        mirror image would need their grid mirrored back."""
        if mirror and not self.mirrorable:
            raise ValueError("test-time mirroring needs a Show-and-Tell model on the small CNN")
        image = self.backbone_type.input(batch_size)
        features = self.backbone(image, training=False)
        return self.decoder_type.export(image, features, batch_size, log_probs,
                                        self.backbone_type.mirror if mirror else None)


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
