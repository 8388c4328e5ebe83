#!/usr/bin/env python3
"""Show-and-Tell against the attention decoder, with the same data, budget and measurements.

    python experiments/compare_decoders.py [--work runs/compare-decoders] [--count 8000]
        [--test-count 300] [--epochs 15] [--image-size 64] [--runs 1000]

Renders one synthetic training set and one held-out test set (other seed), trains both decoder
types with identical settings (same CNN, sizes, epochs, seed), converts each to its int8 bundle
and float32 twin, evaluates the int8 bundle greedily against its float32 twin on the test set,
and benchmarks both int8 bundles (`edge-captioner bench`, 1 thread, the sample clip's frames;
both bundles in each of --bench-rounds processes, the median of their p50s). Prints the
comparison as a Markdown table (also written to WORK/compare.md, the raw figures to
WORK/compare.json). Every step runs through the real console commands in its own process and is
skipped when its output exists (except the benchmark), so an interrupted run continues where it
stopped and a rerun only re-measures latency.

The defaults are the quick version (10 to 15 minutes on 2 cores); the README's table says which
command made it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DECODERS = ("show_and_tell", "attention")


def run(*args: object) -> str:
    """A console command in its own process (a fresh interpreter for timing); its stdout."""
    done = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, args))}\n{done.stderr[-3000:]}")
    return done.stdout


def convert_cli(*args: object) -> str:
    return run("-m", "conversion.cli", *args)


def device_cli(*args: object) -> str:
    return run("-m", "edge_captioner.cli", *args)


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def bundle_kb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1024


def measure(decoder: str, args: argparse.Namespace, train: Path, test: Path) -> dict:
    work = Path(args.work)
    model, int8, flt = work / f"model-{decoder}", work / f"{decoder}-int8", work / f"{decoder}-float"
    result_path = work / f"{decoder}.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    started = time.perf_counter()
    convert_cli("train", train, model, "--decoder", decoder, "--epochs", args.epochs,
                "--image-size", args.image_size, "--width", args.width, "--units", args.units,
                "--feature-dim", args.feature_dim, "--embedding-dim", args.embedding_dim,
                "--attention-dim", args.attention_dim, "--batch-size", args.batch_size,
                "--lr", args.lr, "--seed", args.seed, "--resume")
    train_s = time.perf_counter() - started
    state = json.loads((model / "state.json").read_text())
    if not (int8 / "manifest.json").is_file() or not (flt / "manifest.json").is_file():
        convert_cli("convert", model, int8, "--representative", train, "--float", flt,
                    "--name", f"compare-{decoder}")
    evaluation = last_json(convert_cli("evaluate", int8, test, "--reference", flt, "--json"))
    result = {
        "decoder": decoder,
        "train_s": train_s,
        "final_val_loss": state["history"][-1].get("val_loss"),
        "int8": evaluation["metrics"],
        "float": evaluation["reference_metrics"],
        "delta": evaluation["delta"],
        "identical_captions": evaluation["identical_captions"],
        "int8_kb": bundle_kb(int8),
        "float_kb": bundle_kb(flt),
        "quantization": json.loads((int8 / "manifest.json").read_text())["quantization"],
    }
    result_path.write_text(json.dumps(result, indent=2))
    return result


def bench_rounds(work: Path, runs: int, rounds: int) -> dict[str, dict]:
    """Latency of both int8 bundles: `rounds` bench processes, each running both bundles one
    after the other (the order alternating), so that both see the same machine load; the median
    of the rounds' p50s (never cached: cheap, and the figure that varies most on a shared
    machine)."""
    per_round = []
    for k in range(rounds):
        order = DECODERS if k % 2 == 0 else DECODERS[::-1]
        bundles = [arg for d in order for arg in ("--bundle", work / f"{d}-int8")]
        out = last_json(device_cli("bench", *bundles, "--runs", runs, "--json"))["results"]
        per_round.append(dict(zip(order, out, strict=True)))
    merged = {}
    for decoder in DECODERS:
        figures = dict(per_round[0][decoder])
        for key in ("encoder", "decoder_step", "decoder_invoke", "caption"):
            figures[key] = {"p50_ms": statistics.median(r[decoder][key]["p50_ms"]
                                                        for r in per_round),
                            "rounds": [r[decoder][key]["p50_ms"] for r in per_round]}
        merged[decoder] = figures
    return merged


ROWS = [
    # (label, how to read it from a result, format, higher is better?)
    ("object-mention F1", lambda r: r["int8"]["object_f1"], "{:.3f}", True),
    ("CHAIR-i (lower is better)", lambda r: r["int8"]["chair_i"], "{:.3f}", False),
    ("count accuracy", lambda r: r["int8"]["count_accuracy"], "{:.3f}", True),
    ("place accuracy", lambda r: r["int8"]["place_accuracy"], "{:.3f}", True),
    ("scene-exact", lambda r: r["int8"]["scene_exact"], "{:.3f}", True),
    ("BLEU-4", lambda r: r["int8"]["BLEU-4"], "{:.3f}", True),
    ("CIDEr", lambda r: r["int8"]["CIDEr"], "{:.3f}", True),
    ("object F1, float32", lambda r: r["float"]["object_f1"], "{:.3f}", True),
    ("object F1, int8 - float32", lambda r: r["delta"]["object_f1"], "{:+.4f}", None),
    ("BLEU-4, int8 - float32", lambda r: r["delta"]["BLEU-4"], "{:+.4f}", None),
    ("CIDEr, int8 - float32", lambda r: r["delta"]["CIDEr"], "{:+.4f}", None),
    ("captions identical to float32", lambda r: r["identical_captions"], "{:.3f}", True),
    ("int8 bundle size (KB)", lambda r: r["int8_kb"], "{:.0f}", False),
    ("float32 bundle size (KB)", lambda r: r["float_kb"], "{:.0f}", None),
    ("latency per caption, p50 (ms)", lambda r: r["bench"]["caption"]["p50_ms"], "{:.2f}", False),
    ("  encoder, p50 (ms)", lambda r: r["bench"]["encoder"]["p50_ms"], "{:.3f}", False),
    ("  decoder step, p50 (ms)", lambda r: r["bench"]["decoder_step"]["p50_ms"], "{:.3f}", False),
    ("  tokens per caption (sample clip)", lambda r: r["bench"]["tokens_per_caption"], "{:.1f}",
     None),
    ("training time (s, same epochs)", lambda r: r["train_s"], "{:.0f}", False),
]


def table(results: dict[str, dict]) -> str:
    """Markdown: one row per measurement, one column per decoder type, the better one in bold."""
    names = list(results)
    lines = ["| | " + " | ".join(f"`{n}`" for n in names) + " |",
             "| --- |" + " --- |" * len(names)]
    for label, read, fmt, higher in ROWS:
        values = [read(results[n]) for n in names]
        cells = [fmt.format(v) for v in values]
        if higher is not None and len(set(cells)) > 1:
            best = max(values) if higher else min(values)
            cells = [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="runs/compare-decoders", help="working directory")
    parser.add_argument("--count", type=int, default=8000, help="training images")
    parser.add_argument("--test-count", type=int, default=300, help="held-out test images")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--image-size", type=int, default=64,
                        help="64 gives a 4x4 attention grid, 128 an 8x8 one")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--feature-dim", type=int, default=128)
    parser.add_argument("--embedding-dim", type=int, default=48)
    parser.add_argument("--attention-dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1000, help="bench runs per bundle and round")
    parser.add_argument("--bench-rounds", type=int, default=5,
                        help="bench processes; the table has the median of their p50s")
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train, test = work / "synth-train", work / "synth-test"
    for out, count, seed in ((train, args.count, 100 + args.seed), (test, args.test_count, 999)):
        if not (out / "captions_en.json").is_file():
            convert_cli("synth", out, "--count", count, "--seed", seed, "--size", args.image_size,
                        "--lang", "en", "--force")
    results = {}
    for decoder in DECODERS:
        print(f"{decoder}: train, convert, evaluate ...", file=sys.stderr, flush=True)
        results[decoder] = measure(decoder, args, train, test)
    print("bench ...", file=sys.stderr, flush=True)
    for decoder, figures in bench_rounds(work, args.runs, args.bench_rounds).items():
        results[decoder]["bench"] = figures
    markdown = table(results)
    command = "python experiments/compare_decoders.py " + " ".join(sys.argv[1:])
    (work / "compare.md").write_text(f"`{command.strip()}`\n\n{markdown}\n")
    (work / "compare.json").write_text(json.dumps({"args": vars(args), "results": results},
                                                  indent=2))
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
