"""Images that lie about their size, and images with damaged data, made in milliseconds.

A hostile sender does not need to encode a 16000x16000 picture: a small JPEG whose frame header
(SOF) says 16000x16000, or a small PNG whose IHDR does, makes a decoder that trusts the header
allocate the whole image (768 MB, 1.2 GB) before it finds the data short. That is the case the
pixel limit exists for, so the tests use exactly that.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

SOF0 = b"\xff\xc0"


def jpeg(width: int = 64, height: int = 48, value: int = 128, quality: int = 90) -> bytes:
    image = np.full((height, width, 3), value, np.uint8)
    image[: height // 2, : width // 2] = (0, 0, 255)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def noisy_jpeg(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    """A JPEG with real entropy-coded data to damage (a flat one has almost none)."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (5, 5), 0)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small baseline JPEG whose frame header says width x height."""
    data = bytearray(jpeg(16, 16))
    at = data.index(SOF0)
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def png(width: int = 16, height: int = 16, value: int = 90) -> bytes:
    return cv2.imencode(".png", np.full((height, width, 3), value, np.uint8))[1].tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose IHDR says width x height (its CRC made right, so only the size lies)."""
    data = bytearray(png())
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def with_extraneous_bytes(data: bytes, count: int = 64) -> bytes:
    """A JPEG with junk between its last scan and EOI: libjpeg says "Corrupt JPEG data: N
    extraneous bytes before marker 0xd9" and still returns a picture. (A few bytes go unnoticed:
    libjpeg-turbo reads up to 8 bytes ahead into its bit buffer and takes them for data.)"""
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + bytes(i % 255 + 1 for i in range(count)) + b"\xff\xd9"


def cut_with_end_marker(data: bytes, keep: float = 0.6) -> bytes:
    """The first part of a JPEG's data, closed with EOI (what a lost Wi-Fi packet and a firmware
    that always ends a frame make): libjpeg says "Corrupt JPEG data: premature end of data
    segment" and fills the rest with grey."""
    return data[: int(len(data) * keep)] + b"\xff\xd9"


def black_png(width: int, height: int, rows_per_block: int = 64) -> bytes:
    """A real, whole PNG of width x height black RGB pixels, made in well under a second for any
    size: the deflate stream of `rows_per_block` zero rows is compressed once, after a full flush
    (which byte-aligns it and forgets the history), so the same bytes repeated are the deflate
    stream of the whole image; the Adler-32 of n zero bytes is (n mod 65521) << 16 | 1."""
    row = 1 + 3 * width  # the filter byte (0: none), then the pixels
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(row * rows_per_block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(bytes(row * (height % rows_per_block))) + compressor.flush(zlib.Z_FINISH)
    total = row * height
    idat = (b"\x78\xda" + block * (height // rows_per_block) + tail
            + struct.pack(">I", (total % 65521) << 16 | 1))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))
