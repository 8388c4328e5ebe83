"""An image's size from its header (sources/image_header.py): read where OpenCV reads it, checked
against what OpenCV decodes, and fuzzed, because the bytes come from anyone who can publish."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_captioner.sources.image_decode import capture_stderr
from edge_captioner.sources.image_header import (
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    ImageHeader,
    MalformedHeader,
    read_header,
    size_problem,
)
from support.hostile_images import jpeg, jpeg_claiming, noisy_jpeg, png, png_claiming

EXIF_APP1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + 40) + b"Exif\x00\x00" + bytes(range(40))


def decoded_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as OpenCV decodes it, its libjpeg and libpng lines kept off the terminal."""
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        image, _ = capture_stderr(lambda: cv2.imdecode(np.frombuffer(data, np.uint8), flags))
    except cv2.error:
        return None
    return None if image is None else (image.shape[1], image.shape[0])


def encoded(ext: str, image: np.ndarray, *params: int) -> bytes:
    return cv2.imencode(ext, image, list(params))[1].tobytes()


RGB = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
GRAY = RGB[..., 0].copy()
REAL = {
    "baseline": encoded(".jpg", RGB),
    "progressive": encoded(".jpg", RGB, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    "grayscale": encoded(".jpg", GRAY),
    "restart markers": encoded(".jpg", RGB, cv2.IMWRITE_JPEG_RST_INTERVAL, 1),
    "exif before the frame header": b"\xff\xd8" + EXIF_APP1 + encoded(".jpg", RGB)[2:],
    "fill bytes before a marker": b"\xff\xd8\xff\xff\xff" + encoded(".jpg", RGB)[3:],
    "png": encoded(".png", RGB),
    "png gray": encoded(".png", GRAY),
    "png rgba": encoded(".png", np.dstack([RGB, GRAY])),
    "png 16-bit": encoded(".png", RGB.astype(np.uint16) * 257),
}


@pytest.mark.parametrize("name", REAL)
def test_the_header_gives_the_size_opencv_decodes(name):
    header = read_header(REAL[name])
    assert header is not None and (header.width, header.height) == (53, 37)
    assert decoded_size(REAL[name]) == (53, 37)
    assert header.format == ("png" if name.startswith("png") else "jpeg")
    assert header.progressive == (name == "progressive")


def test_a_small_file_that_claims_a_huge_size_is_read_as_huge():
    assert read_header(jpeg_claiming(16000, 16000)) == ImageHeader("jpeg", 16000, 16000, 3)
    assert read_header(png_claiming(20000, 20000)) == ImageHeader("png", 20000, 20000, 3)
    assert read_header(memoryview(png_claiming(9000, 10))).pixels == 90000


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"BM\x00\x00", b'{"battery": 80}', b"\xff\xd9"])
def test_other_formats_have_no_header_here(data):
    assert read_header(data) is None


@pytest.mark.parametrize("data", [
    b"\xff\xd8",  # SOI and nothing
    b"\xff\xd8 not really a jpeg",
    b"\xff\xd8\xff" + b"\x00" * 50 + b"\xff\xd9",  # stuffing where a marker should be
    b"\xff\xd8\xff\xd9",  # EOI before any frame header
    b"\xff\xd8\xff\xda\x00\x08" + bytes(6),  # a scan before the frame header
    b"\xff\xd8\xff\xe0\x00\x10JFIF",  # a segment longer than the data
    b"\xff\xd8\xff\xe0\x00\x01",  # a length that does not count itself
    b"\xff\xd8\xff\xc0\x00\x06\x08\x00",  # a frame header too short to hold a size
    b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x00\x00\x10\x01\x01\x11\x00",  # 0 lines (DNL)
    b"\xff\xd8\xff\xc0\x00\x08\x08\x00\x10\x00\x10\x00",  # no components
    jpeg()[:40],  # cut inside the tables, before SOF
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDX" + bytes(17),
    png_claiming(0, 16),
    png_claiming(2**31, 16),
])
def test_a_broken_header_is_malformed(data):
    with pytest.raises(MalformedHeader):
        read_header(data)


def test_size_problem_names_the_side_limit_and_the_pixel_limit():
    assert size_problem(MAX_SIDE, 2048, DEFAULT_MAX_PIXELS) is None
    assert size_problem(4097, 4096, DEFAULT_MAX_PIXELS, "--max-pixels") == (
        "4097x4096 pixels, over the limit of 16777216 (--max-pixels)")
    assert size_problem(MAX_SIDE + 1, 16, DEFAULT_MAX_PIXELS, "--max-pixels") == (
        "8193x16 pixels, wider or taller than 8192")


# -- fuzzing: untrusted bytes ------------------------------------------------------------------------
SEEDS = [*REAL.values(), jpeg(), png(), noisy_jpeg(64, 48)]


@st.composite
def mutated(draw) -> bytes:
    """A real JPEG or PNG with a few bytes of its first 250 changed, inserted or deleted (where
    the segment walk and the size are), or cut short."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        if len(data) < 4:
            break
        at = draw(st.integers(2, min(len(data), 250) - 1))  # mostly past the magic bytes
        action = draw(st.sampled_from(["set", "set", "insert", "delete", "cut"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at: at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_where_the_header_reader_and_opencv_both_answer_they_agree(data):
    """The limit is only as good as this: a header that reads small while OpenCV decodes large
    would let a huge image through. The reader may refuse what libjpeg would tolerate (stray bytes
    between segments), never the other way round."""
    try:
        header = read_header(data)
    except MalformedHeader:
        return
    size = decoded_size(data)
    if header is not None and size is not None:
        assert (header.width, header.height) == size


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"\xff\xd8", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b""]), st.binary(max_size=300))
def test_fuzz_any_bytes_give_a_header_none_or_malformed(prefix, rest):
    try:
        header = read_header(prefix + rest)
    except MalformedHeader as exc:
        assert "\n" not in str(exc)
        return
    if header is not None:
        assert header.width > 0 and header.height > 0 and header.format in ("jpeg", "png")
