"""MoveNet Lightning, ported from its pinned npm package, on real photos: the numpy decoding of
the cut graph's heads against the graph's own post-processing, and the int8 graph against the
float one through the device code (pose.PoseEstimator, posture.posture)."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.pretrained import movenet, people, sources
from edge_captioner.model import pose, posture

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


@pytest.fixture(scope="module")
def ported(tmp_path_factory):
    from conversion.pretrained.tfjs_graph import load_graph_def

    files = sources.read_files(sources.MOVENET_LIGHTNING)
    graph_def = load_graph_def(files["graph"], files["weights"])
    saved = movenet.export_pose(graph_def, tmp_path_factory.mktemp("movenet") / "pose")
    return graph_def, saved


@pytest.fixture(scope="module")
def frames():
    return people.load()


def _crops(frames, name):
    frame = frames[name]
    h, w = frame.shape[:2]
    return np.stack([pose.crop_image(frame, pose.square_crop(box, w, h, 0.25), 192)
                     for box, truth in people.LABELS[name] if truth != "none"])


def test_numpy_decoding_matches_the_graphs_own(ported, frames):
    import tensorflow as tf

    graph_def, saved = ported
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    crops = _crops(frames, "ultralytics_bus").astype(np.float32)
    reference = movenet.reference_keypoints(graph_def, crops)
    for image, ref in zip(crops, reference, strict=True):
        out = serve(image=tf.constant(image[np.newaxis]))
        yx, scores, _ = pose.decode(*[out[name].numpy()[0] for name in pose.HEADS])
        # the graph multiplies by 1/48 as an fp16 constant: 0.05 px at 192
        assert np.abs(yx - ref[:, :2]).max() * 192 < 0.1
        np.testing.assert_allclose(scores, ref[:, 2], atol=1e-4)


def test_int8_keypoints_follow_float_on_held_out_photos(ported, frames, tmp_path):
    from conversion.export.convert import convert_saved_model
    from conversion.pretrained.pose_build import _graph

    _, saved = ported
    calibration = np.concatenate([_crops(frames, n) for n in people.CALIBRATION]).astype(np.float32)
    (tmp_path / "int8.tflite").write_bytes(
        convert_saved_model(saved, "int8", {"image": calibration}, uint8_input=True))
    (tmp_path / "float.tflite").write_bytes(convert_saved_model(saved, "float", None))
    q = pose.PoseEstimator(_graph(tmp_path / "int8.tflite"), 192, 0.25, 99)
    f = pose.PoseEstimator(_graph(tmp_path / "float.tflite"), 192, 0.25, 99)
    frame = frames["human_samples_thumb3"]
    h, w = frame.shape[:2]
    box = people.LABELS["human_samples_thumb3"][0][0]
    (kq,), (kf,) = q.keypoints(frame, [box]), f.keypoints(frame, [box])
    both = (kq.scores >= 0.3) & (kf.scores >= 0.3)
    assert both.sum() >= 12
    side = pose.square_crop(box, w, h, 0.25)[2]
    px = np.hypot(*((kq.xy - kf.xy) * [w, h]).T) / side * 192
    assert np.median(px[both]) < 4.0, px
    # a woman standing, whole body in the photo
    assert posture.posture(kq.xy, kq.scores, box, w / h) == "standing"
    assert posture.posture(kf.xy, kf.scores, box, w / h) == "standing"
