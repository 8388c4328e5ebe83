"""`edge-captioner bench`: latency of the encoder, one decoder step and a whole caption.

Frames come from the bundled sample clip (or --images DIR), so the decoder runs real captions of
realistic length. After a warm-up, each figure is the p50/p95 of --runs measurements. The decoder
step is also split into the interpreter's `invoke` and the Python around it (setting and reading
tensors, the log-softmax), because on a small model that overhead is what is left to optimise;
"greedy loop per token" is the whole search loop (the step, argmax, bookkeeping) divided by the
tokens it produced, so its Python share is everything a caption pays beyond the invokes.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInput
from ..model.captioner import Captioner
from ..model.search import greedy
from ..sources.image_decode import decode_image
from ..sources.spec import SAMPLE_CLIP

IMAGES_LIMIT = 200


class ImageFrames(Sequence):
    """The readable images of a folder, each decoded when asked for and only the last one kept:
    a folder of camera photos (a few megapixels each) would otherwise hold hundreds of MB, and
    the peak RSS the benchmark reports would be the folder's, not the captioner's."""

    def __init__(self, folder: str, limit: int):
        self.paths: list[Path] = []
        for path in sorted(Path(folder).glob("*")):
            if len(self.paths) >= limit:
                break
            # what `caption` would refuse is skipped
            if path.is_file() and decode_image(path.read_bytes())[0] is not None:
                self.paths.append(path)
        if not self.paths:
            raise BadInput(f"{folder}: no readable images")
        self._last: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if self._last is None or self._last[0] != index:
            self._last = (index, decode_image(self.paths[index].read_bytes())[0])
        return self._last[1]


def load_frames(images: str | None, limit: int = 16) -> Sequence[np.ndarray]:
    """Frames of the sample clip, spread over it (`limit` of them), or the first `limit` images
    of a folder (IMAGES_LIMIT for `bench --images`), decoded one at a time."""
    if images:
        return ImageFrames(images, limit)
    frames: list[np.ndarray] = []
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 130
    wanted = set(np.linspace(0, total - 1, limit).astype(int).tolist())
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        raise BadInput(f"{SAMPLE_CLIP}: cannot read the sample clip")
    return frames


def _percentiles(samples: list[float]) -> dict:
    arr = np.asarray(samples) * 1000.0
    return {"p50_ms": float(np.percentile(arr, 50)), "p95_ms": float(np.percentile(arr, 95)),
            "n": len(samples)}


def peak_rss_mb() -> float:
    """The process's peak resident memory. VmHWM belongs to this program's own address space;
    ru_maxrss survives execve, so a process started from a big parent would report the parent's."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def bench_bundle(bundle: str, frames: list[np.ndarray], runs: int, warmup: int, runtime: str,
                 threads: int | None, beam: int) -> dict:
    captioner = Captioner(bundle, runtime=runtime, threads=threads, beam_size=beam)
    model = captioner.model
    images = [captioner.encoder_input(f) for f in frames]
    for k in range(warmup):
        captioner.caption(frames[k % len(frames)])

    vocab = captioner.bundle.vocab
    encode, caption, step, invoke, loop, lengths = [], [], [], [], [], []
    seen: dict[str, list[float]] = {"detector": [], "classifier": [], "boxes": [], "pose": []}
    for k in range(runs):
        frame = frames[k % len(frames)]
        t0 = time.perf_counter()
        result = captioner.caption(frame)
        caption.append(time.perf_counter() - t0)
        if result.findings is not None:  # each graph's time, its preprocessing included
            seen["detector"].append(result.findings.detector_ms / 1000)
            seen["classifier"].append(result.findings.classifier_ms / 1000)
            seen["boxes"].append(result.findings.boxes_ms / 1000)
            seen["pose"].append(result.findings.pose_ms / 1000)
        lengths.append(len(result.tokens) + 1)
        t0 = time.perf_counter()
        state = model.encode(images[k % len(images)])
        encode.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        greedy(model.step, state, vocab.start_id, vocab.end_id, captioner.max_length)
        loop.append((time.perf_counter() - t0) / (len(result.tokens) + 1))
        token = vocab.start_id
        for _ in range(len(result.tokens) + 1):
            t0 = time.perf_counter()
            logprobs, state = model.step(token, state)
            step.append(time.perf_counter() - t0)
            token = int(np.argmax(logprobs))
            t0 = time.perf_counter()
            model.decoder.invoke()
            invoke.append(time.perf_counter() - t0)
    step_p = _percentiles(step)
    invoke_p = _percentiles(invoke)
    caption_p = _percentiles(caption)
    loop_p = _percentiles(loop)
    return {
        "bundle": captioner.bundle.name,
        "path": str(captioner.bundle.path),
        "quantization": captioner.bundle.manifest.quantization,
        "runtime": model.runtime.name,
        "threads": threads,
        "beam": beam,
        "encoder": _percentiles(encode),
        # the real-world graphs (bundles with a perception section), each from the raw frame
        "perception": {role: _percentiles(times) for role, times in seen.items()
                       if times and getattr(captioner.perception, role, None) is not None},
        "decoder_step": step_p,
        "decoder_invoke": invoke_p,
        "python_overhead_per_step_ms": step_p["p50_ms"] - invoke_p["p50_ms"],
        "greedy_loop_per_token": loop_p,
        "python_overhead_per_token_in_loop_ms": loop_p["p50_ms"] - invoke_p["p50_ms"],
        "caption": caption_p,
        "tokens_per_caption": float(np.mean(lengths)),
        "fps": 1000.0 / caption_p["p50_ms"],
        "peak_rss_mb": peak_rss_mb(),
        # how many frames the figures are of: --runs under the frame count leaves some out
        "frames": {"given": len(frames), "captioned": min(runs, len(frames))},
    }


def format_result(r: dict) -> str:
    def row(name: str, p: dict, unit: str = "ms") -> str:
        k = 1000.0 if unit == "us" else 1.0  # a decoder step is microseconds
        return (f"  {name:<28}{p['p50_ms'] * k:>9.3f} {unit} p50 "
                f"{p['p95_ms'] * k:>9.3f} {unit} p95")

    return "\n".join([
        f"{r['bundle']} ({r['path']}) on {r['runtime']}, {r['threads']} thread(s), beam {r['beam']}"
        f", quantization {r['quantization']}",
        *[row(f"{role} (+ preprocessing)", p) for role, p in r["perception"].items()],
        row("encoder", r["encoder"]),
        row("decoder step", r["decoder_step"], "us"),
        row("  of which invoke", r["decoder_invoke"], "us"),
        row("greedy loop per token", r["greedy_loop_per_token"], "us"),
        row("whole caption", r["caption"]),
        f"  {'tokens per caption':<28}{r['tokens_per_caption']:>9.1f}",
        f"  {'python per step':<28}{r['python_overhead_per_step_ms'] * 1000:>9.3f} us",
        f"  {'python per token in loop':<28}"
        f"{r['python_overhead_per_token_in_loop_ms'] * 1000:>9.3f} us",
        f"  {'captions per second':<28}{r['fps']:>9.1f}",
        f"  {'peak RSS so far':<28}{r['peak_rss_mb']:>9.1f} MB",
        f"  {'frames captioned':<28}{r['frames']['captioned']:>9d} of {r['frames']['given']}"
        + (" (--runs is under the frame count)"
           if r["frames"]["captioned"] < r["frames"]["given"] else ""),
    ])


def cmd_bench(args: argparse.Namespace) -> int:
    frames = load_frames(args.images, IMAGES_LIMIT if args.images else 16)
    results = [bench_bundle(b, frames, args.runs, args.warmup, args.runtime, args.threads,
                            args.beam) for b in (args.bundle or ["default"])]
    if args.json:
        print(json.dumps({"results": results, "peak_rss_mb": peak_rss_mb()}))
    else:
        print("\n".join(format_result(r) for r in results))
        if len(results) > 1:
            base = results[-1]["caption"]["p50_ms"]
            for r in results[:-1]:
                print(f"{r['bundle']} vs {results[-1]['bundle']}: "
                      f"{base / r['caption']['p50_ms']:.2f}x per caption")
    return 0
