"""The CNN backbones: the small from-scratch CNN ("small") and the keras.applications MobileNets
("mobilenet_v2", "mobilenet_v3"), each with the same head:

    uint8-range RGB image -> CNN -> 1x1 squeeze to D channels (the spatial map) -> flatten
                          -> dropout -> Dense: the feature f (feature_dim)

With an attending decoder the model also outputs the spatial map as (L, D) locations. Both
decoder types get the same layers (and weights), so a CNN trained under one initialises the other
(`train --init-from`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .base import Backbone

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


class ImageBackbone(Backbone):
    """A CNN on the image and the shared head; subclasses give the CNN (`cnn`)."""

    spatial = True

    def input(self, batch_size: int | None = None):
        size = self.config.image_size
        return keras.Input((size, size, 3), batch_size=batch_size, name=self.input_name)

    def cnn(self, image):
        """The CNN's last feature map of the Input `image`."""
        raise NotImplementedError

    def build(self, locations: bool) -> keras.Model:
        image = self.input()
        x = self.cnn(image)
        # Keep WHERE things are: a 1x1 squeeze and a flatten instead of global pooling, because
        # the caption says "at the door" vs "on the porch" and counts objects side by side.
        x = layers.Conv2D(SQUEEZE_CHANNELS, 1, name="squeeze")(x)
        spatial = layers.ReLU(name="squeeze_relu")(x)
        self.map_shape = tuple(int(d) for d in spatial.shape[1:4])
        x = StaticFlatten(name="flatten")(spatial)
        x = layers.Dropout(self.config.dropout, name="feature_dropout")(x)
        feature = layers.Dense(self.config.feature_dim, activation="relu", name="feature")(x)
        if locations:
            return keras.Model(image, [feature, LocationsFlatten(name="locations")(spatial)],
                               name="backbone")
        return keras.Model(image, feature, name="backbone")


def _conv(x, filters: int, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


class SmallCnn(ImageBackbone):
    """Seven 3x3 convs with BatchNormalization, 1/16 of the image size at the end; `width` scales
    the channels."""

    name = "small"
    mirrorable = True
    recoverable = True

    def cnn(self, image):
        w = lambda n: max(8, int(n * self.config.width))  # noqa: E731
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(image)
        # Resolution early: two convs at 1/2 and 1/4 before the channel count grows, so small
        # objects (a cat of 20 px) keep their shape.
        x = _conv(x, w(16), 2, "c1")  # 64
        x = _conv(x, w(32), 2, "c2")  # 32
        x = _conv(x, w(32), 1, "c3")
        x = _conv(x, w(64), 2, "c4")  # 16
        x = _conv(x, w(64), 1, "c5")
        x = _conv(x, w(128), 2, "c6")  # 8
        return _conv(x, w(128), 1, "c7")

    def mirror(self, image):
        return mirror_tower(self.model, image)

    def recover(self, weights) -> None:
        """Each CONV_2D carries its BatchNormalization as a bias: the BN layer is set to the
        identity (gamma 1, variance 1 - epsilon, mean 0) with that bias as its beta."""
        for layer in self.model.layers:
            if isinstance(layer, layers.Conv2D):
                kernel, bias = weights[layer.name]
                layer.set_weights([kernel.transpose(1, 2, 3, 0)]
                                  + ([bias] if layer.use_bias else []))
                if not layer.use_bias:  # its BatchNormalization became this bias
                    bn = self.model.get_layer(f"{layer.name}_bn")
                    ones = np.ones_like(bias)
                    bn.set_weights([ones, bias, np.zeros_like(bias), ones - bn.epsilon])
        kernel, bias = weights["feature"]
        self.model.get_layer("feature").set_weights([kernel.T, bias])


class MobileNetV2(ImageBackbone):
    """keras.applications' MobileNetV2 (alpha 0.35 where width < 1), without its top."""

    name = "mobilenet_v2"

    def cnn(self, image):
        c = self.config
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(image)
        base = keras.applications.MobileNetV2(
            input_shape=(c.image_size, c.image_size, 3), include_top=False,
            weights=c.backbone_weights, alpha=0.35 if c.width < 1 else 1.0,
        )
        return base(x)


class MobileNetV3Small(ImageBackbone):
    """keras.applications' minimalistic MobileNetV3Small, without its top."""

    name = "mobilenet_v3"

    def cnn(self, image):
        c = self.config
        x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(image)
        base = keras.applications.MobileNetV3Small(
            input_shape=(c.image_size, c.image_size, 3), include_top=False,
            weights=c.backbone_weights, include_preprocessing=False, minimalistic=True,
        )
        return base(x)


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
    SmallCnn's model: a chain of elementwise layers, convs, a flatten and a Dense."""
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
