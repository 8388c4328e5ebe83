#!/usr/bin/env python3
"""Compare, on the same frames, what a user could run to caption a frame:

- the int8 bundle and the float32 bundle through the device runtime (edge_captioner.Captioner),
- the same trained Keras model under TensorFlow, as tf.functions (its fastest eager-free form):
  the exported encoder once, then the exported one-step decoder per token, greedy.

Reports p50/p95 per whole caption (preprocessing + encoder + greedy decode) for each, and the peak
RSS of a fresh process that imports the runtime, loads the int8 AND the float bundle and captions
(TensorFlow never enters that process).

    python benchmarks/runtimes.py --model runs/model-en --int8 edge_captioner/data/bundles/default-en \
        --float runs/default-en-float [--runs 200] [--json]

With --json the result has the keys int8_vs_keras_speedup, int8_vs_float_speedup and
int8_peak_rss_mb (plus the per-runtime figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from edge_captioner.cli.bench import load_frames
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.preprocess import prepare_image

RSS_PROBE = """
import json, sys, cv2
from edge_captioner.cli.bench import peak_rss_mb
from edge_captioner.model.captioner import Captioner
frame = cv2.imread(sys.argv[3]) if len(sys.argv) > 3 else None
a = Captioner(sys.argv[1]); b = Captioner(sys.argv[2])
import numpy as np
frame = np.zeros((240, 320, 3), np.uint8) if frame is None else frame
a.caption(frame); b.caption(frame)
print(json.dumps({"peak_rss_mb": peak_rss_mb(),
                  "tensorflow_loaded": any(m.startswith("tensorflow") for m in sys.modules)}))
"""


def timed(fn, frames, runs, warmup=5):
    for k in range(warmup):
        fn(frames[k % len(frames)])
    samples = []
    for k in range(runs):
        t0 = time.perf_counter()
        fn(frames[k % len(frames)])
        samples.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(samples, 50)), "p95_ms": float(np.percentile(samples, 95))}


def keras_captioner(model_dir: Path, threads: int):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from conversion.export.convert import load_trained

    captioner, train_config, vocab = load_trained(model_dir)
    encoder, decoder = captioner.export_models(batch_size=1)
    wiring = captioner.decoder_wiring()  # either decoder type, as the device runtime runs it
    input_names = [t.name for t in decoder.inputs]
    encode = tf.function(lambda x: encoder(x, training=False), reduce_retracing=True)
    step = tf.function(lambda inputs: decoder(inputs, training=False), reduce_retracing=True)
    size = captioner.config.image_size
    eye = np.eye(captioner.config.vocab_size, dtype=np.float32)
    resize = train_config.get("resize", "center_crop")

    def caption(frame):
        image = prepare_image(frame, size, resize)[np.newaxis].astype(np.float32)
        out = encode(tf.constant(image))
        state = {name: out[source] for name, source in wiring["initial"].items()}
        token, tokens = vocab.start_id, []
        for _ in range(captioner.config.max_length - 1):
            feed = {**state, wiring["token"]: tf.constant(eye[token: token + 1])}
            res = step([feed[name] for name in input_names])
            state.update({name: res[source] for name, source in wiring["state"].items()})
            token = int(np.argmax(res[wiring["logits"]].numpy()))
            if token == vocab.end_id:
                break
            tokens.append(token)
        return vocab.decode(tokens)

    return caption


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the `train` output directory")
    parser.add_argument("--int8", required=True, help="int8 bundle of that model")
    parser.add_argument("--float", required=True, help="float32 bundle of that model")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    frames = load_frames(None)
    int8 = Captioner(args.int8, threads=args.threads)
    flt = Captioner(args.float, threads=args.threads)
    results = {
        "int8": timed(lambda f: int8.caption(f), frames, args.runs),
        "float32": timed(lambda f: flt.caption(f), frames, args.runs),
    }
    keras = keras_captioner(Path(args.model), args.threads)
    results["keras_tf_function"] = timed(keras, frames, args.runs)
    probe = subprocess.run([sys.executable, "-c", RSS_PROBE, args.int8, args.float],
                           capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1])
    rss = json.loads(probe.stdout.strip().splitlines()[-1])
    out = {
        "runs": args.runs,
        "threads": args.threads,
        "per_caption": results,
        "int8_vs_keras_speedup": results["keras_tf_function"]["p50_ms"] / results["int8"]["p50_ms"],
        "int8_vs_float_speedup": results["float32"]["p50_ms"] / results["int8"]["p50_ms"],
        "int8_peak_rss_mb": rss["peak_rss_mb"],
        "tensorflow_in_runtime_process": rss["tensorflow_loaded"],
    }
    if args.json:
        print(json.dumps(out))
    else:
        for name, r in results.items():
            print(f"{name:<20}{r['p50_ms']:>9.3f} ms p50 {r['p95_ms']:>9.3f} ms p95 per caption")
        print(f"int8 vs Keras/TF: {out['int8_vs_keras_speedup']:.1f}x; int8 vs float32 TFLite: "
              f"{out['int8_vs_float_speedup']:.2f}x; a process with both bundles loaded: "
              f"{out['int8_peak_rss_mb']:.1f} MB peak RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
