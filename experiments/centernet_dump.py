"""Dump what the second COCO detector (CenterNet-MobileNetV3, int8) finds on every labelled real
photo and clip frame, on the frame and on its mirror (boxes mapped back), with the pose model's
centre score and posture for each person it or NanoDet's frame look scored at least 0.2, and its
milliseconds per look;
beside it what the bundle's own perception finds (`device`: its objects exactly as the captions
see them), NanoDet on the frame alone, with the closer look (`nanodet_once`: what is left
when CenterNet replaces the mirrored look), and CenterNet on the closer look's crop around each
person the device is still unsure of (`crops`). experiments/centernet_variants.py combines them.

    python experiments/centernet_dump.py default-en CENTERNET.tflite /tmp/centernet.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import chain
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import facts_captioner, labelled  # noqa: E402
from conversion.pretrained import centernet as port  # noqa: E402
from conversion.pretrained import centernet_decode as centernet  # noqa: E402
from conversion.pretrained.centernet_build import RESIZE, load_graph  # noqa: E402
from edge_captioner.bundle.choices import RESIZE_MODES  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.posture import posture  # noqa: E402
from edge_captioner.model.preprocess import Pyramid, model_input  # noqa: E402

SCORE = 0.1  # keep everything down to this; the variants choose their own thresholds
UNSURE = (0.3, 0.55)  # the device's unsure people: the pose rescue's floor, the person threshold


def look(graph, frame, resize: str = RESIZE) -> tuple[list[dict], float]:
    from conversion.pretrained.nanodet import COCO_LABELS

    height, width = frame.shape[:2]
    size = int(graph.inputs["image"]["shape"][1])
    started = time.perf_counter()
    image = model_input(frame, size, resize, port.COLOUR_ORDER)
    graph.set("image", graph.quantize("image", image[np.newaxis]))
    graph.invoke()
    # float outputs (the converter's default) carry no quantization: scale 0
    (hs, hz), (ss, sz) = ((s or 1.0, z) for s, z in (graph.outputs[n]["quantization"]
                                                     for n in ("heatmap", "sizes")))
    found = centernet.decode(graph.get("heatmap")[0], graph.get("sizes")[0], stride=port.STRIDE,
                             input_size=size, score_threshold=SCORE,
                             iou_threshold=0.6, max_detections=100, heatmap_scale=hs,
                             heatmap_zero=hz, sizes_scale=ss, sizes_zero=sz)
    ms = (time.perf_counter() - started) * 1000
    return [{"label": COCO_LABELS[d.label], "score": round(d.score, 4),
             "box": [round(v, 4) for v in detections.to_frame(d.box, size, width,
                                                                height, resize)]}
            for d in found], ms


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("graph")
    parser.add_argument("out")
    parser.add_argument("--split", default="all")
    parser.add_argument("--resize", default=RESIZE, choices=RESIZE_MODES,
                        help="how the frame becomes CenterNet's square (NanoDet's: letterbox)")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    pose = captioner.perception.pose
    graph = load_graph(Path(args.graph))
    data = labelled(args.split)
    labels = data.photos | data.clip_frames
    out = {}
    for name, frame in chain(data.photo_images(), data.clip_images()):
        height, width = frame.shape[:2]
        full, ms = look(graph, frame, args.resize)
        mirrored, _ = look(graph, cv2.flip(frame, 1), args.resize)
        mirror = [dict(d, box=[round(v, 4) for v in detections.mirror_box(tuple(d["box"]))])
                  for d in mirrored]
        p = captioner.perception
        seen = p.see(frame)
        device = [dict(o.to_json(), pose_score=o.pose_score) for o in seen.objects]
        look_spec = p.spec.detector.closer_look
        once = p._closer_look(Pyramid(frame), p._detect(frame), look_spec)
        nanodet_once = [{"label": p.detector_labels[i], "score": round(sc, 4),
                         "box": [round(v, 4) for v in b]} for i, sc, b in once]
        people = [tuple(d["box"]) for d in full + mirror + nanodet_once
                  if d["label"] == "person" and d["score"] >= 0.2]
        saved, pose.max_people = pose.max_people, len(people)
        poses = [{"box": [round(v, 4) for v in k.box], "centre": round(k.centre, 4),
                  "posture": posture(k.xy, k.scores, k.box, width / height)}
                 for k in pose.keypoints(frame, people)]
        pose.max_people = saved
        # CenterNet on the closer look's crop around each person still unsure after it
        crops = []
        for o in seen.objects:
            if o.kind != "person" or not UNSURE[0] <= o.score < UNSURE[1]:
                continue
            crop = detections.closer_crop(o.box, width, height, look_spec.grow)
            if crop[2] - crop[0] < 8 or crop[3] - crop[1] < 8:
                continue
            found, crop_ms = look(graph, frame[crop[1]:crop[3], crop[0]:crop[2]], args.resize)
            crops.append({"box": [round(v, 4) for v in o.box], "ms": round(crop_ms, 2),
                          "found": [dict(d, box=[round(v, 4) for v in detections.from_crop(
                              tuple(d["box"]), crop, width, height)]) for d in found
                              if d["label"] == "person"]})
        out[name] = {"split": labels[name].get("split"), "clip": "#" in name, "crops": crops,
                     "size": [width, height], "full": full, "mirror": mirror, "pose": poses,
                     "ms": round(ms, 2), "device": device, "nanodet_once": nanodet_once,
                     "device_detector_ms": round(seen.detector_ms, 2)}
        print(name, len(full), f"{ms:.1f} ms", file=sys.stderr)
    Path(args.out).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
