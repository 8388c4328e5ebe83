"""The second COCO detector (conversion/pretrained/centernet.py, centernet_build.py) from the pinned
npm package: the numpy decoding of the float32 TFLite's heads against the tfjs graph's own
decoding, and the full-int8 graph against its float32 twin on package photos held out of its
calibration. Why int8 scores fall short of float: docs/encoders.md."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.export.checks import graph_report
from conversion.pretrained import centernet, centernet_build, photos, sources, tfjs_graph
from conversion.pretrained import centernet_decode as decoding
from conversion.pretrained.build import CALIBRATION_PHOTOS
from edge_captioner.model import detections

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

# package photos none of the calibration crops come from
HELD_OUT = ["grace_hopper", "camera", "chelsea", "motorcycle_left", "flower"]


@pytest.fixture(scope="module")
def graph_def():
    return centernet_build.port(None, False)[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("centernet")
    # a third of the build's own calibration (144 frames at 512 px took two minutes); with far
    # fewer crops int8 scores people lower still
    return out, centernet_build.build(out, centernet_build.calibration_frames(32, 16))


def test_the_held_out_photos_are_not_calibration_photos():
    assert not set(HELD_OUT) & set(CALIBRATION_PHOTOS)


def test_another_graph_is_refused(tmp_path):
    net = sources.read_files(sources.NANODET)
    nanodet = tfjs_graph.load_graph_def(net["graph"], net["weights"])
    with pytest.raises(ValueError, match="not the CenterNet graph"):
        centernet.export_detector(nanodet, tmp_path / "x")


@pytest.mark.parametrize("size", [0, 300])
def test_an_input_size_off_the_grid_is_refused(graph_def, tmp_path, size):
    with pytest.raises(ValueError, match="multiple of 32"):
        centernet.export_detector(graph_def, tmp_path / "x", input_size=size)


def test_another_input_size_scales_the_placeholder_and_the_upsampling(graph_def):
    import tensorflow as tf

    def sizes(g):
        nodes = {n.name: n for n in g.node}
        return sorted(tf.make_ndarray(nodes[n.input[1].split(":")[0]].attr["value"].tensor).tolist()
                      for n in g.node if n.op == "ResizeBilinear")

    resized = centernet._resized(graph_def, 320)
    placeholder = next(n for n in resized.node if n.op == "Placeholder").attr["shape"].shape
    assert [d.size for d in placeholder.dim][1:3] == [320, 320]
    before, after = sizes(graph_def), sizes(resized)
    assert before and after == [[v * 320 // 512 for v in size] for size in before]
    assert sizes(graph_def) == before  # a copy: the graph it was given is unchanged


def test_the_numpy_decoding_is_the_graphs_own(built, graph_def):
    out, result = built
    assert [p["file"] for p in result["pretrained"]] == ["package/models/centernet.json",
                                                         "package/models/centernet.bin"]
    check = centernet_build.decode_vs_graph(
        graph_def, out / "float32" / centernet_build.CENTERNET_FILE,
        [photos.load_photo(name) for name in HELD_OUT])
    # a wrong stride, a half-cell offset or a swapped side would be pixels off
    assert check["objects"] >= 5
    assert check["max_box_px"] < 0.5 and check["max_score"] < 0.005


def _people(graph, frame) -> list[tuple[float, tuple]]:
    h, w = frame.shape[:2]
    image = centernet_build.inputs([frame])[0]
    graph.set("image", graph.quantize("image", image[np.newaxis]))
    graph.invoke()
    found = decoding.decode(graph.get("heatmap")[0], graph.get("sizes")[0],
                            stride=centernet.STRIDE, input_size=centernet.INPUT_SIZE,
                            score_threshold=0.2, iou_threshold=0.6, max_detections=20)
    return [(d.score, detections.to_frame(d.box, centernet.INPUT_SIZE, w, h,
                                          centernet_build.RESIZE))
            for d in found if d.label == 0]


def test_the_int8_graph_finds_the_people_its_float_twin_finds(built):
    out, _ = built
    report = graph_report(out / centernet_build.CENTERNET_FILE)
    assert "HARD_SWISH" in report["ops"]  # the reordered hard-swish was fused
    assert report["inputs"]["image"]["dtype"] == "uint8"
    q = centernet_build.load_graph(out / centernet_build.CENTERNET_FILE)
    f = centernet_build.load_graph(out / "float32" / centernet_build.CENTERNET_FILE)
    for name in ("grace_hopper", "camera"):
        frame = photos.load_photo(name)
        (fs, fbox), *_ = _people(f, frame)
        (qs, qbox), *_ = _people(q, frame)
        assert fs >= 0.55  # letterboxed float32: 0.82 and 0.59
        assert detections.iou(qbox, fbox) >= 0.7
        # int8 scores people lower (the gap docs/encoders.md measures: 0.65 and 0.58 here),
        # but still at the 0.4 the agreement rule of docs/model-card.md asks of it
        assert 0.4 <= qs <= fs + 0.05, (name, qs, fs)
