"""The console scripts as a user runs them: help, captions of files/videos/directories, bad
input (exit 2 with one line per problem, never a traceback), bench output."""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conversion.cli import build_parser as convert_parser
from edge_captioner.cli import build_parser as device_parser
from edge_captioner.cli import main as device_main
from edge_captioner.errors import BadInput

SAMPLE_CLIP = "edge_captioner/data/sample_porch.mp4"


def subcommands(parser):
    return list(parser._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("script,parser", [("edge_captioner.cli", device_parser),
                                           ("conversion.cli", convert_parser)])
def test_every_command_has_help(script, parser):
    names = subcommands(parser())
    assert names
    for name in [None, *names]:
        args = ["-m", script] + ([name] if name else []) + ["--help"]
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (name, done.stderr)
        assert "usage:" in done.stdout


def test_convert_commands_present():
    assert {"synth", "stats", "train", "convert", "evaluate"} <= set(subcommands(convert_parser()))
    assert {"caption", "bench"} <= set(subcommands(device_parser()))


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "edge_captioner.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_caption_images_videos_directories_and_bad_files(tiny_bundles, tiny_test_data, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("000001.jpg", "000002.jpg"):
        shutil.copy(tiny_test_data / "images" / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    done = run("caption", folder, SAMPLE_CLIP, tmp_path / "missing.png", "--bundle",
               tiny_bundles[0])
    assert done.returncode == 2
    lines = done.stdout.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        str(folder / "000001.jpg"), str(folder / "000002.jpg"), f"{SAMPLE_CLIP}@0"]
    assert all(len(line.split(": ", 1)[1]) > 3 for line in lines)
    errors = [e for e in done.stderr.splitlines() if "error:" in e]
    assert len(errors) == 2
    assert "broken.jpg: not a readable image" in errors[0] and "missing.png: no such file" in errors[1]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_caption_json_lines_and_every_nth_frame(tiny_bundles):
    done = run("caption", SAMPLE_CLIP, "--every", "50", "--json", "--beam", "2", "--bundle",
               tiny_bundles[0])
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["frame"] for r in records] == [0, 50, 100]
    assert [r["time_s"] for r in records] == [0.0, 5.0, 10.0]
    for r in records:
        assert set(r) >= {"file", "caption", "confidence", "language", "model", "latency_ms"}
        assert 0 < r["confidence"] <= 1 and r["language"] == "en"


@pytest.mark.slow
def test_a_bundle_that_fails_validation_is_exit_2_with_one_line(tiny_bundles, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundles[0], bundle)
    with open(bundle / "decoder.tflite", "r+b") as fh:
        fh.truncate(1000)
    done = run("caption", SAMPLE_CLIP, "--bundle", bundle)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"edge-captioner: error: {bundle / 'decoder.tflite'}: SHA-256 does not match the manifest "
        "(corrupt, truncated or replaced)"]


@pytest.mark.slow
def test_edgetpu_missing_is_a_clear_error_or_a_cpu_fallback(tiny_bundles):
    done = run("caption", SAMPLE_CLIP, "--bundle", tiny_bundles[0], "--delegate", "edgetpu")
    assert done.returncode == 2
    assert "libedgetpu.so.1" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = run("caption", SAMPLE_CLIP, "--bundle", tiny_bundles[0], "--delegate", "edgetpu",
               "--fallback", "cpu")
    assert done.returncode == 0, done.stderr
    assert "falling back to the CPU" in done.stderr and done.stdout.strip()


@pytest.mark.slow
def test_bench_json(tiny_bundles):
    done = run("bench", "--bundle", tiny_bundles[0], "--bundle", tiny_bundles[1], "--runs", "5",
               "--warmup", "1", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["results"]) == 2
    for r in out["results"]:
        for key in ("encoder", "decoder_step", "decoder_invoke", "caption"):
            assert 0 < r[key]["p50_ms"] <= r[key]["p95_ms"]
        assert r["fps"] > 0 and r["tokens_per_caption"] >= 1
        assert r["frames"] == {"given": 16, "captioned": 5}  # --runs 5 of the clip's 16 frames
    assert out["peak_rss_mb"] > 10


def test_bad_option_value_is_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        device_main(["caption", "x.jpg", "--beam", "0"])
    assert info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_the_start_up_line_says_cpu_not_none(tiny_bundles):
    """No delegate means the CPU: the info line names it so ("encoder on none" read as no encoder)."""
    done = run("-v", "caption", SAMPLE_CLIP, "--bundle", tiny_bundles[0])
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if " decoder): runtime " in line)
    assert "encoder on CPU, decoder on CPU" in line and "none" not in line


@pytest.mark.tensorflow
@pytest.mark.slow
def test_the_tensorflow_runtime_prints_no_banners():
    """`--runtime tensorflow` (a workstation): the caption and nothing else; TensorFlow's start-up
    lines (oneDNN, CPU features, absl's pre-init warning) are not the user's business."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "EDGE_CAPTIONER_"))}
    image = "edge_captioner/data/bundles/default-en/self_check.jpg"
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "caption", image,
                           "--runtime", "tensorflow"], capture_output=True, text=True, timeout=180,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{image}: ")
    assert done.stderr == ""


def test_bench_images_are_decoded_one_at_a_time_and_unreadable_files_skipped(tmp_path):
    from edge_captioner.cli.bench import load_frames

    for i, value in enumerate((10, 200)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((30, 40, 3), value, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    frames = load_frames(str(tmp_path), limit=5)
    assert len(frames) == 2 and frames[1][0, 0, 0] == 200 and frames[0].shape == (30, 40, 3)
    assert frames[0] is frames[0]  # the last one is kept, not decoded again
    assert len(load_frames(str(tmp_path), limit=1)) == 1
    (tmp_path / "0.png").unlink()
    (tmp_path / "1.png").unlink()
    with pytest.raises(BadInput, match="no readable images"):
        load_frames(str(tmp_path))
