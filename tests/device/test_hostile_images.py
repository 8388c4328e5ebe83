"""`edge-captioner caption` on files made to hurt: a 675-byte JPEG whose frame header says
16000x16000 (libjpeg allocates 768 MB and fills what the data does not cover), a real 1.2 MB PNG of
20000x20000 black pixels (1.2 GB decoded), and JPEGs that libjpeg decodes to a picture while saying
the data is damaged. Each is refused with exit 2 and one line
naming the file, quickly and in little memory; nothing else reaches stderr.

The shipped default bundle is used (the command as a user runs it); peak memory is the child's
own, measured by a wrapper process that runs nothing else."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from support.hostile_images import (
    black_png,
    cut_with_end_marker,
    jpeg_claiming,
    noisy_jpeg,
    with_extraneous_bytes,
)
from support.paths import SAMPLE_CLIP

MEASURE = """
import json, resource, subprocess, sys, time
start = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stdout": done.stdout, "stderr": done.stderr}))
"""
# well above a start of the CLI on a loaded two-core machine, well under decoding 256 megapixels
MAX_SECONDS = 10.0
MAX_PEAK_MB = 300


def caption(*args) -> dict:
    """Run `edge-captioner caption ARGS` in a process of its own: exit code, wall time, peak RSS."""
    command = [sys.executable, "-m", "edge_captioner.cli", "caption", *map(str, args)]
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                          timeout=120)
    return json.loads(done.stdout)


def error_lines(result: dict) -> list[str]:
    return result["stderr"].strip().splitlines()


@pytest.mark.parametrize(("name", "data", "size"), [
    ("huge.jpg", jpeg_claiming(16000, 16000), "16000x16000"),
    ("huge.png", black_png(20000, 20000), "20000x20000"),
])
def test_an_image_claiming_a_huge_size_is_exit_2_fast_and_small(tmp_path, name, data, size):
    path = tmp_path / name
    path.write_bytes(data)
    result = caption(path)
    print(f"{name} ({len(data)} bytes, says {size}): exit {result['rc']}, "
          f"{result['seconds']:.2f} s, peak RSS {result['peak_mb']:.0f} MB")
    assert result["rc"] == 2 and result["stdout"] == ""
    assert error_lines(result) == [
        f"edge-captioner: error: {path}: {size} pixels, wider or taller than 8192"]
    assert result["seconds"] < MAX_SECONDS
    assert result["peak_mb"] < MAX_PEAK_MB


def test_the_pixel_limit_is_an_option_and_the_line_names_it(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_claiming(8000, 8000))
    result = caption(path)
    assert result["rc"] == 2 and error_lines(result) == [
        f"edge-captioner: error: {path}: 8000x8000 pixels, over the limit of 16777216 (--max-pixels)"]
    assert result["peak_mb"] < MAX_PEAK_MB
    small = tmp_path / "small.jpg"
    small.write_bytes(noisy_jpeg(320, 240))
    result = caption(small, "--max-pixels", 320 * 240 - 1)
    assert result["rc"] == 2 and "320x240 pixels, over the limit of 76799 (--max-pixels)" in result["stderr"]


def test_opencvs_own_limit_guards_formats_without_a_header_reader(tmp_path):
    """A BMP that says 8193x8193: no parser of ours reads BMP, OpenCV's OPENCV_IO_MAX_IMAGE_PIXELS
    (set by the command before cv2 is imported) refuses it before allocating 200 MB."""
    data = bytearray(cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    struct.pack_into("<ii", data, 18, 8193, 8193)
    path = tmp_path / "huge.bmp"
    path.write_bytes(bytes(data))
    result = caption(path)
    assert result["rc"] == 2 and len(error_lines(result)) == 1, result
    assert error_lines(result)[0].startswith(f"edge-captioner: error: {path}: over OpenCV's own size limit")
    assert result["peak_mb"] < MAX_PEAK_MB


def test_damaged_jpeg_data_is_refused_with_one_line_and_no_libjpeg_noise(tmp_path):
    good = noisy_jpeg()
    files = {"good.jpg": good, "extraneous.jpg": with_extraneous_bytes(good),
             "cut.jpg": cut_with_end_marker(good)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = caption(*(tmp_path / name for name in files))
    assert result["rc"] == 2
    assert [line.split(": ")[0] for line in result["stdout"].splitlines()] == [str(tmp_path / "good.jpg")]
    assert error_lines(result) == [
        f"edge-captioner: error: {tmp_path / 'extraneous.jpg'}: damaged JPEG data (libjpeg: Corrupt "
        "JPEG data: 58 extraneous bytes before marker 0xd9)",
        f"edge-captioner: error: {tmp_path / 'cut.jpg'}: damaged JPEG data (libjpeg: Corrupt JPEG "
        "data: premature end of data segment)",
    ]


def test_a_video_whose_frames_are_over_the_limit_is_refused_before_a_frame_is_read():
    result = caption(SAMPLE_CLIP, "--max-pixels", 10000)
    assert result["rc"] == 2 and error_lines(result) == [
        f"edge-captioner: error: {SAMPLE_CLIP}: video frames of 320x240 pixels, over the limit of "
        "10000 (--max-pixels)"]
