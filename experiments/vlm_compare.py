"""What the small VLMs a user could run instead cost here, against the default bundle (issue 29).

Florence-2-base (DaViT + BART-base, 0.23 B) and SmolVLM-256M-Instruct (SigLIP-B/16-512 +
SmolLM2-135M) are built with transformers' native classes (Florence2ForConditionalGeneration,
SmolVLMForConditionalGeneration; no remote code) from configurations written below with the
published checkpoints' hyper-parameters, and random weights: the same arithmetic, and so the same
time and memory, as the real weights, which this machine cannot download. No tokenizer either: the
prompts are token ids of the real prompts' lengths, with the image placeholders where the real
processors put them. Each captions the same photograph (skimage's astronaut), preprocessed by
transformers' own image processors with the published settings and counted in the caption time,
and generates exactly --tokens new tokens greedily (min = max, so random weights cannot stop
early), torch CPU, one thread, each configuration in a child process of its own so that its peak
RSS (VmHWM) is its own. Our default bundle is timed on the same photograph by
`edge-captioner bench --threads 1` in the same run, before and after the VLMs. This reuses
transformer_compare.py's approach (and its `bench_ours`).

Each caption's CPU time is measured beside its wall time: on a shared 2-core machine whose load
is above 2, wall time is stretched by the other processes and CPU time is the fairer ratio. The
ratios in the table are of CPU time. For the Raspberry Pi estimate the run also times an int8
MobileNetV2 1.0 (224 px, random weights, built with Keras and converted here) on one thread with
our runtime: XNNPACK's README gives the same model on a Pi 4, so the two make a scale factor.

    python3 -m venv /work/venv-vlm && /work/venv-vlm/bin/pip install torch==2.13.0 transformers \\
        pillow scikit-image
    nice /work/venv-vlm/bin/python experiments/vlm_compare.py \\
        --ours /path/to/.venv/bin/edge-captioner [--runs 5] [--tokens 20]

(torch and transformers are not dependencies of edge-captioner: this is a one-off measurement.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transformer_compare import ROOT, bench_ours  # noqa: E402

# florence-2-base: DaViT (the transformers defaults are its shapes) with projection_dim 768, and
# BART-base (6 + 6 layers, d_model 768); the vocabulary is the checkpoint's 51289 tokens plus the
# <image> placeholder the native port adds (id 51289).
FLORENCE_TEXT = dict(vocab_size=51290, d_model=768, encoder_layers=6, decoder_layers=6,
                     encoder_attention_heads=12, decoder_attention_heads=12,
                     encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024,
                     activation_function="gelu", bos_token_id=0, pad_token_id=1, eos_token_id=2,
                     decoder_start_token_id=2, forced_bos_token_id=None,
                     forced_eos_token_id=None, no_repeat_ngram_size=0, num_beams=1)
FLORENCE_VISION = dict(depths=[1, 1, 9, 1], embed_dim=[128, 256, 512, 1024],
                       num_heads=[4, 8, 16, 32], num_groups=[4, 8, 16, 32], window_size=12,
                       projection_dim=768)
FLORENCE_PROMPT = 6  # "<CAPTION>" is "What does the image describe?": 6 BPE tokens
# SmolVLM-256M-Instruct (an Idefics3): SigLIP-B/16 at 512 px, pixel shuffle 4 (64 tokens a tile),
# SmolLM2-135M (30 layers, 576 wide, 9 heads / 3 KV heads), untied head.
SMOL_TEXT = dict(model_type="llama", vocab_size=49280, hidden_size=576, intermediate_size=1536,
                 num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, head_dim=64,
                 max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                 bos_token_id=1, eos_token_id=49279, pad_token_id=2, tie_word_embeddings=False)
SMOL_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                   num_attention_heads=12, image_size=512, patch_size=16, layer_norm_eps=1e-6)
SMOL_IMAGE_TOKEN, SMOL_FAKE, SMOL_GLOBAL, SMOL_END = 49190, 49189, 49152, 49279


def _photo():
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut())  # 512 x 512 RGB photograph


def _florence(size: int):
    import torch
    from transformers import (
        BartConfig,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2VisionConfig,
    )

    config = Florence2Config(text_config=BartConfig(**FLORENCE_TEXT),
                             vision_config=Florence2VisionConfig(**FLORENCE_VISION),
                             image_token_id=51289)
    net = Florence2ForConditionalGeneration(config).eval()
    processor = CLIPImageProcessorPil(do_resize=True, size={"height": size, "width": size},
                                      resample=3, do_center_crop=False, do_rescale=True,
                                      do_normalize=True, image_mean=[0.485, 0.456, 0.406],
                                      image_std=[0.229, 0.224, 0.225])
    image_tokens = (size // 32) ** 2 + 1  # the last stage's grid, plus one pooled token
    ids = ([config.image_token_id] * image_tokens + [0] + list(range(100, 100 + FLORENCE_PROMPT))
           + [2])
    input_ids = torch.tensor([ids])

    def inputs(photo):
        pixels = processor(images=photo, return_tensors="pt")["pixel_values"]
        return {"pixel_values": pixels, "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids)}

    return net, inputs, len(ids)


def _smolvlm():
    import torch
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMVisionConfig
    from transformers.models.llama import LlamaConfig
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

    config = SmolVLMConfig(text_config=LlamaConfig(**SMOL_TEXT),
                           vision_config=SmolVLMVisionConfig(**SMOL_VISION), scale_factor=4,
                           image_token_id=SMOL_IMAGE_TOKEN, tie_word_embeddings=False)
    net = SmolVLMForConditionalGeneration(config).eval()
    # image splitting off: one 512 px tile, no extra crops
    processor = SmolVLMImageProcessorPil(do_image_splitting=False, size={"longest_edge": 512},
                                         max_image_size={"longest_edge": 512}, resample=1,
                                         image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    # "<|im_start|>User:<fake><global-img><image>*64<fake>Can you describe this image?
    # <end_of_utterance>\nAssistant:" as the chat template lays it out
    ids = ([1, 4093, 42] + [SMOL_FAKE, SMOL_GLOBAL] + [SMOL_IMAGE_TOKEN] * 64 + [SMOL_FAKE]
           + [4094, 346, 3446, 451, 2443, 47] + [SMOL_END, 198, 9519, 42])
    input_ids = torch.tensor([ids])

    def inputs(photo):
        out = processor(images=[[photo]], return_tensors="pt")
        return {"pixel_values": out["pixel_values"],
                "pixel_attention_mask": out["pixel_attention_mask"], "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids)}

    return net, inputs, len(ids)


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field}")


def _child(model: str, runs: int, tokens: int) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    if model.startswith("florence2"):
        size = int(model.split("-")[-1])
        net, make_inputs, prompt = _florence(size)
        name = f"Florence-2-base, {size} px"
    else:
        size = 512
        net, make_inputs, prompt = _smolvlm()
        name = "SmolVLM-256M, 512 px, 1 tile"
    params = sum(p.numel() for p in net.parameters())  # tied weights count once
    built_mb = _status_mb("VmRSS")  # the weights and torch, before any caption
    photo = _photo()
    times, cpu = [], []
    with torch.inference_mode():
        for k in range(runs + 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            out = net.generate(**make_inputs(photo), max_new_tokens=tokens,
                               min_new_tokens=tokens, do_sample=False, num_beams=1)
            if k >= 1:  # one warm-up run
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
    new = out.shape[1] - (1 if net.config.is_encoder_decoder else prompt)
    return {"model": name, "parameters_m": round(params / 1e6, 1),
            "fp32_mb": round(params * 4 / 1e6, 1), "image_size": size,
            "prompt_tokens": prompt, "tokens": new,
            "caption_p50_ms": round(statistics.median(times), 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1),
            "caption_all_ms": [round(t) for t in times],
            "rss_built_mb": round(built_mb, 1), "peak_rss_mb": round(_status_mb("VmHWM"), 1)}


# Run by the edge-captioner venv's python: (1) the stored weight values (int8, biases int32) of
# the default bundle's graphs; (2) the CPU time of a whole caption of the photograph (the bench
# reports wall time, which a busy shared machine stretches); (3) the Raspberry Pi anchor: an int8
# MobileNetV2 1.0 at 224 px with random weights, the model XNNPACK's README times on a Pi 4, built
# and timed here on one thread with the same runtime.
_OURS_EXTRA = """
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path
import numpy as np
try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tensorflow.lite import Interpreter
from edge_captioner.model.captioner import Captioner
from edge_captioner.sources.image_decode import decode_image

photo, runs = sys.argv[1], int(sys.argv[2])
captioner = Captioner("default", threads=1)
weights = 0
for path in sorted(Path(captioner.bundle.path).glob("*.tflite")):
    it = Interpreter(model_path=str(path))
    for d in it.get_tensor_details():
        try:
            weights += it.get_tensor(d["index"]).size  # constants only: the rest has no data yet
        except ValueError:
            pass
frame, _ = decode_image(Path(photo).read_bytes())
for _ in range(10):
    result = captioner.caption(frame)
wall, cpu = [], []
for _ in range(runs):
    t0, c0 = time.perf_counter(), time.process_time()
    captioner.caption(frame)
    wall.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)

import tensorflow as tf
tf.keras.utils.set_random_seed(0)
model = tf.keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, weights=None)
converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
rng = np.random.default_rng(0)
converter.representative_dataset = lambda: (
    [rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)] for _ in range(8))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = converter.inference_output_type = tf.int8
it = Interpreter(model_content=converter.convert(), num_threads=1)
it.allocate_tensors()
detail = it.get_input_details()[0]
it.set_tensor(detail["index"], rng.integers(-128, 127, detail["shape"], dtype=np.int8))
for _ in range(5):
    it.invoke()
mwall, mcpu = [], []
for _ in range(50):
    t0, c0 = time.perf_counter(), time.process_time()
    it.invoke()
    mwall.append((time.perf_counter() - t0) * 1000)
    mcpu.append((time.process_time() - c0) * 1000)
print(json.dumps({"weights": weights, "caption": result.text,
                  "wall_p50_ms": float(np.median(wall)), "cpu_p50_ms": float(np.median(cpu)),
                  "mobilenet_v2_int8_wall_p50_ms": float(np.median(mwall)),
                  "mobilenet_v2_int8_cpu_p50_ms": float(np.median(mcpu))}))
"""


def _ours_extra(executable: Path, photo: Path, runs: int) -> dict:
    python = executable.parent / "python"
    done = subprocess.run([str(python), "-c", _OURS_EXTRA, str(photo), str(runs)],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed captions after one warm-up")
    parser.add_argument("--tokens", type=int, default=20, help="tokens each VLM generates")
    parser.add_argument("--ours", type=Path, default=ROOT / ".venv" / "bin" / "edge-captioner",
                        help="the edge-captioner executable to bench")
    parser.add_argument("--ours-runs", type=int, default=100)
    parser.add_argument("--only", action="append", help="run only these VLM configurations")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.runs, args.tokens)))
        return
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "astronaut.png"
        _photo().save(photo)
        before = bench_ours(args.ours_runs, images=folder, executable=args.ours)
        extra = _ours_extra(args.ours, photo, args.ours_runs)
        rows = [{"model": "default-en (ours, int8 TFLite)", "tokens": before["tokens"],
                 "caption_p50_ms": before["caption_p50_ms"],
                 "cpu_p50_ms": round(extra["cpu_p50_ms"], 1),
                 "peak_rss_mb": before["peak_rss_mb"],
                 "parameters_m": round(extra["weights"] / 1e6, 1),
                 "fp32_mb": round(extra["weights"] * 4 / 1e6, 1)}]
        print(json.dumps(extra), file=sys.stderr)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        for model in args.only or ("florence2-768", "florence2-384", "smolvlm-512"):
            loads.append(os.getloadavg())
            done = subprocess.run([sys.executable, __file__, "--child", model, "--runs",
                                   str(args.runs), "--tokens", str(args.tokens)],
                                  capture_output=True, text=True, env=env)
            if done.returncode:
                sys.exit(f"{model}: {done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr)
        after = bench_ours(args.ours_runs, images=folder, executable=args.ours)
    loads.append(os.getloadavg())
    rows[0]["caption_p50_ms_after"] = after["caption_p50_ms"]
    base = rows[0]
    print("1-min load average at each step: " + ", ".join(f"{load[0]:.1f}" for load in loads))
    print(f"ours, bench wall p50 before / after the VLMs: {before['caption_p50_ms']} / "
          f"{after['caption_p50_ms']} ms; int8 MobileNetV2 (Pi anchor), 1 thread: "
          f"{extra['mobilenet_v2_int8_wall_p50_ms']:.1f} ms wall, "
          f"{extra['mobilenet_v2_int8_cpu_p50_ms']:.1f} ms CPU")
    print("| captioner | caption p50, wall | CPU time | x ours (CPU) | tokens out | peak RSS "
          "| x ours | parameters | fp32 size | x ours |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['model']} | {row['caption_p50_ms']:.1f} ms | {row['cpu_p50_ms']:.1f} ms | "
              f"{row['cpu_p50_ms'] / base['cpu_p50_ms']:.0f} | {row['tokens']} | "
              f"{row['peak_rss_mb']:.0f} MB | {row['peak_rss_mb'] / base['peak_rss_mb']:.1f} | "
              f"{row['parameters_m']} M | {row['fp32_mb']:.0f} MB | "
              f"{row['parameters_m'] / base['parameters_m']:.0f} |")
    print(json.dumps({"rows": rows, "ours_extra": extra, "loads": loads}))

if __name__ == "__main__":
    main()
