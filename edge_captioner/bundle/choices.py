"""The bundle format's names and lists of choices: defined here once, imported everywhere else
(the loader, the runtime, the converter, the command lines, the configuration)."""

from __future__ import annotations

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1  # the one format this runtime reads and the converter writes

ENCODER_FILE = "encoder.tflite"
DECODER_FILE = "decoder.tflite"
VOCAB_FILE = "vocab.txt"
BUNDLE_FILES = (ENCODER_FILE, DECODER_FILE, VOCAB_FILE)  # every bundle has these, hashed

GRAPHS = ("encoder", "decoder")  # the keys of 'tensors', 'ops' and 'quantization'
TENSOR_KINDS = ("inputs", "outputs")
IMAGE_INPUT = "image"  # an image encoder's one input (and each perception graph's)
EVIDENCE_INPUT = "evidence"  # a grounded encoder's one input: the findings vector (evidence.py)

COLOUR_ORDERS = ("RGB", "BGR")
RESIZE_MODES = ("center_crop", "letterbox", "stretch")  # preprocess.model_input's modes

# TFLite runtimes, in the order `auto` tries them (model/runtime.pick_runtime)
RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
RUNTIME_CHOICES = ("auto", *RUNTIMES)
# where the encoder runs (`--delegate`, model.delegate), and what to do when that is missing
DELEGATES = ("none", "edgetpu")
FALLBACKS = ("none", "cpu")

PERCEPTION_ROLES = ("detector", "classifier", "boxes")  # boxes: optional, an SSD with a Box class
HEAD_TYPES = ("gfl",)  # NanoDet's generalized-focal-loss head: class scores + side distributions
BOX_HEAD_TYPES = ("ssd",)  # TF OD API SSD: anchors, box encodings, per-class logits
DETECTOR_SCORES, DETECTOR_BOXES = "scores", "boxes"  # the detector's outputs
CLASSIFIER_PROBABILITIES = "probabilities"  # the classifier's output

# The top-level keys in the order the converter writes them (and the shipped bundles hold them);
# to_json keeps this order, and keys the runtime does not know after them as they came.
KEYS = ("format_version", "name", "language", "decoder_type", "decoder", "image",
        "special_tokens", "max_length", "vocab_size", "quantization", "tensors", "ops", "files",
        "metrics", "training", "created", "test_time_mirror", "evidence", "perception",
        "pretrained", "self_check")
