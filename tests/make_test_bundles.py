"""Regenerate the tiny bundles committed under tests/data/bundles, which the device tests (runtime,
daemon, CLI, bundle loading, faults, fuzzing) load instead of training a model in every test run.

    PYTHONPATH=. python tests/make_test_bundles.py     # 1 to 3 minutes on 2 cores

The recipe is fixed (data seeds, training seed with TensorFlow's op determinism, calibration
images): on one machine and TensorFlow, a run writes the Show-and-Tell bundles' graphs and
vocabularies byte for byte again, and manifests that differ only in "created" (the attention
model's training came out slightly different in one of three runs on a busy machine).

The conversion tests train and convert the same recipe themselves (conftest's tiny_model,
converted_tiny_bundles), and test_committed_bundles checks that what they get has the committed
bundles' form, so a conversion change that alters it shows there: run this script then.

Bundles written (each int8 bundle with its float32 twin):
  tiny-int8, tiny-float                   Show-and-Tell, int16x8 decoder (the converter's default)
  tiny-int8-decoder, tiny-int8-decoder-float   the same model, pure-int8 decoder (as the shipped)
  tiny-attention-int8, tiny-attention-float    the attention decoder
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = Path(__file__).resolve().parent / "data" / "bundles"

# The tiny model: 600 synthetic 64 px images, a quarter-width CNN, a 48-unit LSTM, 15 epochs.
TRAIN_SYNTH = ["--count", "600", "--seed", "11", "--size", "64"]
TEST_SYNTH = ["--count", "60", "--seed", "12", "--size", "64"]
TINY_TRAIN = [
    "--epochs", "15", "--batch-size", "32", "--width", "0.25", "--units", "48",
    "--embedding-dim", "24", "--feature-dim", "64", "--image-size", "64", "--seed", "3",
    "--lr", "5e-3",
]
ATTENTION_TRAIN = [*TINY_TRAIN, "--decoder", "attention", "--attention-dim", "32"]
CALIBRATION = ["--calibration-images", "80"]

# name of each committed bundle pair: (int8, float32)
TINY = ("tiny-int8", "tiny-float")
TINY_INT8_DECODER = ("tiny-int8-decoder", "tiny-int8-decoder-float")
TINY_ATTENTION = ("tiny-attention-int8", "tiny-attention-float")


def committed(pair: tuple[str, str]) -> tuple[Path, Path]:
    return BUNDLES / pair[0], BUNDLES / pair[1]


def run_convert_cli(*args: object) -> int:
    from conversion.cli import main

    return main([str(a) for a in args])


def synth(out: Path, recipe: list[str], workers: int = 1) -> Path:
    assert run_convert_cli("synth", out, *recipe, "--workers", str(workers)) == 0, out
    return out


def train(data: Path, out: Path, recipe: list[str]) -> Path:
    assert run_convert_cli("train", data, out, *recipe) == 0, out
    return out


def convert(model: Path, data: Path, int8: Path, flt: Path, *extra: str) -> tuple[Path, Path]:
    """(int8 bundle, float32 twin) of a trained model, calibrated on 80 of its training images."""
    assert run_convert_cli("convert", model, int8, "--representative", data, *CALIBRATION,
                           "--float", flt, *extra) == 0, int8
    return int8, flt


def convert_tiny(model: Path, data: Path, root: Path, stem: str) -> tuple[Path, Path]:
    """(int8 bundle, float32 bundle) of a tiny model, under `root` as <stem>-int8 and <stem>-float."""
    return convert(model, data, root / f"{stem}-int8", root / f"{stem}-float")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BUNDLES, help="where to write the bundles")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="tiny-bundles-") as tmp:
        # relative paths from here on: the manifests record the training data's path as given
        os.chdir(tmp)
        data = synth(Path("train"), TRAIN_SYNTH, workers=2)
        models = {"tiny": train(data, Path("tiny"), TINY_TRAIN),
                  "attention": train(data, Path("tiny-attention"), ATTENTION_TRAIN)}
        built = Path("bundles")
        built.mkdir()
        for model, pair, extra in ((models["tiny"], TINY, ()),
                                   (models["tiny"], TINY_INT8_DECODER, ("--decoder", "int8")),
                                   (models["attention"], TINY_ATTENTION, ())):
            convert(model, data, built / pair[0], built / pair[1], *extra)
        # only now replace the committed ones, so a failed run leaves them as they were
        out.mkdir(parents=True, exist_ok=True)
        for bundle in sorted(built.iterdir()):
            shutil.rmtree(out / bundle.name, ignore_errors=True)
            shutil.copytree(bundle, out / bundle.name)
            size = sum(f.stat().st_size for f in (out / bundle.name).iterdir())
            print(f"{out / bundle.name}: {size / 1024:.0f} KiB")
        os.chdir(ROOT)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
