"""What a transformer captioner a user could run instead costs here, against the default bundle.

BLIP-base and GIT-base are built from their configurations (transformers' defaults are the base
models' shapes) with random weights: the same arithmetic, and so the same time and memory, as the
real weights, which this machine cannot download. Each generates a fixed number of tokens greedily
(min = max new tokens, so random weights cannot stop early) from one image, on torch's CPU
backend with one thread, in a child process of its own so that its peak RSS is its own. The
default bundle is timed by `edge-captioner bench` in the same run.

    python3 -m venv /tmp/cmp && /tmp/cmp/bin/pip install "torch==2.13.0+cpu" transformers pillow
    /tmp/cmp/bin/python experiments/transformer_compare.py [--runs 20] [--tokens 10]

(torch and transformers are not dependencies of edge-captioner: this is a one-off measurement.)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_ours(runs: int, images: str | None = None,
               executable: Path = ROOT / ".venv" / "bin" / "edge-captioner") -> dict:
    """`edge-captioner bench --json` on the default bundle, one thread, as one table row."""
    command = [str(executable), "bench", "--json", "--threads", "1", "--runs", str(runs)]
    if images:
        command += ["--images", images]
    ours = json.loads(subprocess.run(command, capture_output=True, text=True,
                                     check=True).stdout)
    result = ours["results"][0]
    return {"model": f"{result['bundle']} (edge-captioner, int8 TFLite)",
            "caption_p50_ms": round(result["caption"]["p50_ms"], 1),
            "tokens": round(result["tokens_per_caption"], 1),
            "peak_rss_mb": round(ours["peak_rss_mb"], 1)}


def _child(model: str, runs: int, tokens: int) -> dict:
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, GitConfig, GitForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if model == "blip-base":
        config = BlipConfig()  # ViT-B/16 at 384 px + a 12-layer BERT-base text decoder
        net = BlipForConditionalGeneration(config).eval()
        size = config.vision_config.image_size
        inputs = {"pixel_values": torch.rand(1, 3, size, size)}  # generate() adds [BOS]
    else:
        config = GitConfig()  # CLIP ViT-B/16 at 224 px + a 6-layer decoder
        net = GitForCausalLM(config).eval()
        size = config.vision_config.image_size
        inputs = {"pixel_values": torch.rand(1, 3, size, size)}
    params = sum(p.numel() for p in net.parameters())
    times = []
    with torch.inference_mode():
        for k in range(runs + 2):
            started = time.perf_counter()
            net.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                         num_beams=1)
            if k >= 2:  # two warm-up runs
                times.append((time.perf_counter() - started) * 1000)
    return {"model": model, "parameters_m": round(params / 1e6, 1), "image_size": size,
            "tokens": tokens, "caption_p50_ms": round(statistics.median(times), 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=10, help="tokens each transformer generates")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.runs, args.tokens)))
        return
    rows = [bench_ours(max(args.runs, 100))]
    for model in ("blip-base", "git-base"):
        done = subprocess.run([sys.executable, __file__, "--child", model, "--runs", str(args.runs),
                               "--tokens", str(args.tokens)], capture_output=True, text=True,
                              check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]["caption_p50_ms"]
    print("| captioner | caption p50 (1 thread) | tokens | peak RSS | x default |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['model']} | {row['caption_p50_ms']} ms | {row['tokens']} | "
              f"{row['peak_rss_mb']} MB | {row['caption_p50_ms'] / base:.0f} |")


if __name__ == "__main__":
    main()
