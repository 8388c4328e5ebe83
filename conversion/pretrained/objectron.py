"""The Open Images SSD-MobileNetV2 detector (23 classes, Box among them) -> a SavedModel.

Source: npm @mediapipe/objectron 0.4.1675468480 (Apache-2.0). MediaPipe Objectron's first stage,
`object_detection_ssd_mobilenetv2_oidv4_fp16.tflite`, and its labelmap travel inside
`objectron_solution_packed_assets.data`, an Emscripten file pack: the files are concatenated, and
the package's loader (`objectron_solution_packed_assets_loader.js`) says where each starts and
ends in a `loadPackage({"files": [...]})` call. `unpack` reads those offsets from the loader.

The graph is a TF Object Detection API SSD-MobileNetV2 export cut before its post-processing:
fp16 constants behind DEQUANTIZE ops, then CONV_2D, DEPTHWISE_CONV_2D, ADD, RESHAPE and
CONCATENATION only. Input `normalized_input_image_tensor` float32 [1, 300, 300, 3], RGB scaled to
-1..1; outputs `raw_outputs/box_encodings` [1, 1917, 4] (ty, tx, th, tw against the anchors) and
`raw_outputs/class_predictions` [1, 1917, 24] (logits; class 0 is the background, "???" in the
labelmap). MediaPipe's own subgraph (ObjectDetectionOidV4Subgraph, serialized in the package's
wasm) stretches the frame to 300x300 (ImageToTensorCalculator keep_aspect_ratio false, range
-1..1), generates the anchors with SsdAnchorsCalculator (6 layers, scales 0.2..0.95, strides
16..512, aspect ratios 1, 2, 0.5, 3, 0.3333, reduced lowest layer) and decodes with
TensorsToDetectionsCalculator (24 classes, 1917 boxes, scales 10/10/5/5, exponential sizes,
sigmoid scores, class 0 ignored, threshold 0.5); NMS at IoU 0.5. edge_captioner/model/ssd.py is
that post-processing.

`read_graph` turns the flatbuffer into a list of ops with float32 weights (the fp16 constants
folded), `export_detector` rebuilds it as TensorFlow ops in a SavedModel whose signature takes
0..255 RGB pixels: the project's own converter (conversion/export/convert.py) then makes the
full-int8 graph with a uint8 input, as for NanoDet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import sources

INPUT_SIZE = 300
COLOUR_ORDER = "RGB"
RESIZE = "stretch"  # what MediaPipe feeds it; measured against letterbox in docs/encoders.md
LABELMAP_FILE = "object_detection_oidv4_labelmap.txt"
GRAPH_FILE = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
GRAPH_SHA256 = "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"
BACKGROUND = "???"
NUM_ANCHORS = 1917
NUM_CLASSES = 24  # with the background
# TF OD API ssd_anchor_generator / MediaPipe SsdAnchorsCalculator options of this model
ANCHORS = {"num_layers": 6, "min_scale": 0.2, "max_scale": 0.95,
           "strides": [16, 32, 64, 128, 256, 512],
           "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333], "offset": 0.5,
           "reduce_boxes_in_lowest_layer": True, "interpolated_scale_aspect_ratio": 1.0}
BOX_SCALES = [10.0, 10.0, 5.0, 5.0]  # y, x, h, w (TF OD API faster_rcnn_box_coder)

# The outputs are clipped, inside the graph, to what can matter: int8 gives each output tensor one
# scale, set by the extremes calibration sees, and unclipped those are size codes of -80 (a box
# e^-16 of its anchor) and background logits of +10, which made the steps 0.34 (box codes) and
# 0.13 (logits). A logit of +-6 is a score of 0.0025 or 0.9975; a code of +-10 moves a box by one
# anchor or scales it by e^+-2: nothing past either changes a detection that passes a threshold.
LOGIT_CLIP = 6.0
CODE_CLIP = 10.0
_INPUT = "normalized_input_image_tensor"
_BOXES = "raw_outputs/box_encodings"
_SCORES = "raw_outputs/class_predictions"
_ACTIVATIONS = {0: None, 1: "relu", 3: "relu6"}  # TFLite ActivationFunctionType
_PADDING = {0: "SAME", 1: "VALID"}


def pack_index(loader_js: bytes) -> dict[str, tuple[int, int]]:
    """The Emscripten loader's `loadPackage({...})` -> {file name: (start, end)} in the pack."""
    match = re.search(rb"loadPackage\((\{.*?\})\)", loader_js, re.S)
    if match is None:
        raise ValueError("the pack's loader has no loadPackage({...}) call")
    try:
        files = json.loads(match.group(1))["files"]
        return {Path(f["filename"]).name: (int(f["start"]), int(f["end"])) for f in files}
    except (ValueError, KeyError, TypeError, OverflowError) as exc:  # int(1e999): OverflowError
        raise ValueError(f"the pack's loader lists its files in an unknown form: {exc}") from None


def unpack(pack: bytes, loader_js: bytes) -> tuple[list[str], bytes]:
    """The package's pack and loader -> (the 24 labels, background first; the fp16 graph)."""
    index = pack_index(loader_js)
    out = {}
    for name in (LABELMAP_FILE, GRAPH_FILE):
        if name not in index:
            raise ValueError(f"the pack has no {name} (it has {sorted(index)})")
        start, end = index[name]
        if not 0 <= start < end <= len(pack):
            raise ValueError(f"{name}: bytes {start}..{end} are outside the {len(pack)}-byte pack")
        out[name] = pack[start:end]
    if sources.sha256_of(out[GRAPH_FILE]) != GRAPH_SHA256:
        raise ValueError(f"{GRAPH_FILE} in the pack is not the pinned graph")
    labels = out[LABELMAP_FILE].decode("utf-8").splitlines()
    if len(labels) != NUM_CLASSES or labels[0] != BACKGROUND:
        raise ValueError(f"{LABELMAP_FILE}: {len(labels)} lines, expected {NUM_CLASSES} with "
                         f"{BACKGROUND!r} first")
    return labels, out[GRAPH_FILE]


@dataclass
class Op:
    kind: str  # TFLite builtin name
    inputs: list[int]
    outputs: list[int]
    options: dict


@dataclass
class TfliteGraph:
    ops: list[Op]
    constants: dict[int, np.ndarray]  # tensor index -> float32 (fp16 folded) or int32 value
    names: dict[int, str]
    input: int
    outputs: dict[str, int]  # "boxes", "scores"


def read_graph(model: bytes) -> TfliteGraph:
    """The fp16 flatbuffer -> its ops, with every DEQUANTIZE of a constant folded to float32."""
    from tensorflow.lite.python import schema_py_generated as schema

    root = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    if len(root.subgraphs) != 1:
        raise ValueError(f"{len(root.subgraphs)} subgraphs, expected 1")
    graph = root.subgraphs[0]
    builtin = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16,
              schema.TensorType.INT32: np.int32}
    names = {i: t.name.decode() for i, t in enumerate(graph.tensors)}
    constants: dict[int, np.ndarray] = {}
    for i, t in enumerate(graph.tensors):
        data = root.buffers[t.buffer].data if t.buffer else None
        if data is not None and len(data):
            if t.type not in dtypes:
                raise ValueError(f"{names[i]}: constant of TFLite type {t.type}")
            constants[i] = np.frombuffer(bytes(data), dtypes[t.type]).reshape(t.shape)
    ops = []
    for op in graph.operators:
        code = root.operatorCodes[op.opcodeIndex]
        kind = builtin[max(code.builtinCode, code.deprecatedBuiltinCode)]
        inputs, outputs = [int(i) for i in op.inputs], [int(i) for i in op.outputs]
        if kind == "DEQUANTIZE" and inputs[0] in constants:
            constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
            continue
        if kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESHAPE", "CONCATENATION"):
            raise ValueError(f"op {kind} is not one this port knows")
        options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        if options.get("fusedActivationFunction", 0) not in _ACTIVATIONS:
            raise ValueError(f"{kind}: fused activation {options['fusedActivationFunction']}")
        ops.append(Op(kind, inputs, outputs, options))
    by_name = {name: i for i, name in names.items()}
    if [names[i] for i in graph.inputs] != [_INPUT] or {names[i] for i in graph.outputs} != {
            _BOXES, _SCORES}:
        raise ValueError("not the Objectron SSD graph: unexpected input or output names")
    return TfliteGraph(ops, constants, names, by_name[_INPUT],
                       {"boxes": by_name[_BOXES], "scores": by_name[_SCORES]})


def run_ops(graph: TfliteGraph, x):
    """The graph as TensorFlow ops on a normalised (-1..1) NHWC batch -> {"boxes", "scores"}."""
    import tensorflow as tf

    values = {graph.input: x}

    def value(i):
        return values[i] if i in values else tf.constant(graph.constants[i])

    for op in graph.ops:
        o = op.options
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            if (o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)) != (1, 1):
                raise ValueError(f"{op.kind}: dilated convolutions are not ported")
            weights = graph.constants[op.inputs[1]]
            strides = [1, o["strideH"], o["strideW"], 1]
            if op.kind == "CONV_2D":  # TFLite [out, h, w, in] -> TF [h, w, in, out]
                y = tf.nn.conv2d(value(op.inputs[0]), np.transpose(weights, (1, 2, 3, 0)),
                                 strides, _PADDING[o["padding"]])
            else:  # TFLite [1, h, w, in * m] -> TF [h, w, in, m]
                m = o["depthMultiplier"]
                kernel = weights[0].reshape(weights.shape[1], weights.shape[2], -1, m)
                y = tf.nn.depthwise_conv2d(value(op.inputs[0]), kernel, strides,
                                           _PADDING[o["padding"]])
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                y = tf.nn.bias_add(y, graph.constants[op.inputs[2]])
        elif op.kind == "ADD":
            y = value(op.inputs[0]) + value(op.inputs[1])
        elif op.kind == "RESHAPE":
            y = tf.reshape(value(op.inputs[0]), graph.constants[op.inputs[1]].tolist())
        else:
            y = tf.concat([value(i) for i in op.inputs], axis=o["axis"])
        activation = _ACTIVATIONS[o.get("fusedActivationFunction", 0)]
        if activation == "relu":
            y = tf.nn.relu(y)
        elif activation == "relu6":
            y = tf.nn.relu6(y)
        values[op.outputs[0]] = y
    return {name: values[i] for name, i in graph.outputs.items()}


def export_detector(graph: TfliteGraph, out_dir: Path) -> Path:
    """A SavedModel (serving_default) to out_dir:
        image  float32 [1, 300, 300, 3]: RGB pixel values 0..255 (the -1..1 scaling is inside)
        boxes  float32 [1, 1917, 4]: the raw box encodings (ty, tx, th, tw), anchor order,
               clipped to +-CODE_CLIP
        scores float32 [1, 1917, 24]: class logits, background first (no sigmoid applied),
               clipped to +-LOGIT_CLIP
    """
    import tensorflow as tf

    class Detector(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([1, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name="image")])
        def serve(self, image):
            outs = run_ops(graph, image * (1 / 127.5) - 1.0)
            return {"boxes": tf.clip_by_value(outs["boxes"], -CODE_CLIP, CODE_CLIP, name="boxes"),
                    "scores": tf.clip_by_value(outs["scores"], -LOGIT_CLIP, LOGIT_CLIP,
                                               name="scores")}

    module = Detector()
    out_dir = Path(out_dir)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})
    return out_dir


# ---- building the full-int8 graph ----------------------------------------------------------------

BOXES_FILE = "boxes.tflite"
LABELS_FILE = "labels/oidv4.txt"
# Held out of calibration: the int8 graph is also checked on photos its ranges were not set from.
CALIBRATION_PHOTOS = ("astronaut", "coffee", "rocket", "china", "motorcycle_right", "brick",
                      "grass", "page", "moon")
# score: above the highest Box on a box-free photo of the labelled real photos' tune split (0.22,
# a potted plant; conversion/pretrained/real_photos.py), as NanoDet's was set above its highest
# false person. Held out, it passes the one labelled carton (0.25 int8) and one box-free photo
# (toys and fabric, 0.40); docs/box-detector.md has the figures. MediaPipe's own 0.5 passes no Box
# on any of them. iou: MediaPipe's NonMaxSuppressionCalculator.
THRESHOLDS = {"score": 0.25, "iou": 0.5, "max_detections": 20}
KINDS = {"box": ["Box"]}


def boxes_section(tensors: dict | None = None, resize: str = RESIZE,
                  score: float = THRESHOLDS["score"]) -> dict:
    """The manifest's `perception.boxes` for this graph (tensors from checks.graph_report)."""
    a = ANCHORS
    grids = [-(-INPUT_SIZE // s) for s in a["strides"]]  # 19, 10, 5, 3, 2, 1: the network's maps
    return {
        "file": BOXES_FILE,
        "labels": LABELS_FILE,
        "image": {"size": [INPUT_SIZE, INPUT_SIZE], "colour_order": COLOUR_ORDER, "resize": resize},
        "head": {"type": "ssd", "feature_maps": grids, "min_scale": a["min_scale"],
                 "max_scale": a["max_scale"], "aspect_ratios": a["aspect_ratios"],
                 "interpolated_scale_aspect_ratio": a["interpolated_scale_aspect_ratio"],
                 "reduce_boxes_in_lowest_layer": a["reduce_boxes_in_lowest_layer"],
                 "anchor_offset": a["offset"], "box_scales": BOX_SCALES, "background": 0},
        "thresholds": {"score": score, "iou": THRESHOLDS["iou"],
                       "max_detections": THRESHOLDS["max_detections"]},
        "kinds": KINDS,
        "tensors": tensors or {},
        "sources": [sources.OBJECTRON.key],
    }


def build(out: Path, cache: Path | None = None, offline: bool = False, photo_crops: int = 64,
          seed: int = 0, resize: str = RESIZE) -> dict:
    """Port and convert: OUT/boxes.tflite (full int8, uint8 image in), OUT/float32/boxes.tflite
    (its float twin), the labels in both, the licence texts; returns the section, the provenance
    and the licence file names."""
    import tempfile

    from conversion.export.checks import graph_report
    from conversion.export.convert import convert_saved_model
    from edge_captioner.model.preprocess import model_input

    from . import photos

    raw = sources.read_files(sources.OBJECTRON, cache, offline)
    labels, model = unpack(raw["pack"], raw["loader"])
    real = list(photos.load_photos(list(CALIBRATION_PHOTOS)).values())
    frames = real + photos.augmented(real, photo_crops, seed)
    samples = {"image": np.stack([model_input(f, INPUT_SIZE, resize, COLOUR_ORDER)
                                  for f in frames]).astype(np.float32)}
    (out / "float32").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_detector(read_graph(model), Path(tmp) / "boxes")
        (out / BOXES_FILE).write_bytes(convert_saved_model(saved, "int8", samples, True))
        (out / "float32" / BOXES_FILE).write_bytes(convert_saved_model(saved, "float", None))
    for directory in (out, out / "float32"):
        (directory / LABELS_FILE).parent.mkdir(parents=True, exist_ok=True)
        (directory / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
    texts = sources.licence_texts(sources.OBJECTRON, raw["licence"])
    for name, text in texts.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(text)
    pretrained = [sources.OBJECTRON.manifest_entry(role, sorted(texts)) for role in ("pack",)]

    def tensors(path: Path) -> dict:
        report = graph_report(path)
        return {"inputs": report["inputs"], "outputs": report["outputs"], "ops": report["ops"]}

    int8, float32 = tensors(out / BOXES_FILE), tensors(out / "float32" / BOXES_FILE)
    return {"section": boxes_section({k: int8[k] for k in ("inputs", "outputs")}, resize),
            "float_section": boxes_section({k: float32[k] for k in ("inputs", "outputs")}, resize),
            "ops": int8["ops"], "pretrained": pretrained, "licence_files": sorted(texts)}


def main(argv: list[str] | None = None) -> int:
    """python -m conversion.pretrained.objectron OUT [--packages DIR] [--offline] [--crops N]:
    build the box detector into OUT (boxes.json: the `perception.boxes` section for the int8
    graph and its float32 twin, the provenance, the ops)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--packages", type=Path, help="the package cache (default ~/.cache/...)")
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--crops", type=int, default=64, help="augmented calibration crops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resize", choices=("stretch", "letterbox"), default=RESIZE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = build(args.out, args.packages, args.offline, args.crops, args.seed, args.resize)
    (args.out / "boxes.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    sizes = {p: (args.out / p).stat().st_size for p in (BOXES_FILE, f"float32/{BOXES_FILE}")}
    print(f"{args.out}: ops {', '.join(result['ops'])}; " + ", ".join(
        f"{name} {size / 1e6:.2f} MB" for name, size in sizes.items()))
    return 0


if __name__ == "__main__":
    from edge_captioner.errors import BadInput

    try:
        raise SystemExit(main())
    except BadInput as exc:
        raise SystemExit(f"error: {exc}") from None
