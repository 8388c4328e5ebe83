"""An image's size from its header, before anything is decoded: pure, no OpenCV, no I/O.

A 3 MB JPEG can say it is 16000x16000 pixels; decoding it takes 768 MB before anyone looks at
the result. So every image we decode (a frame pushed over MQTT or by Frigate, a file given to
`caption`) is first measured here and refused when it is over the pixel limit (image_decode.py).

Why hand parsing: OpenCV reads a header only inside `imdecode`, which allocates the whole image
right after (the Python API has no header-only call; its one guard, OPENCV_IO_MAX_IMAGE_PIXELS, is
a single number read once when cv2 is imported, so it cannot carry a per-camera limit: it is
set as a backstop, cli/support.py). The two formats that matter, JPEG (every camera, Frigate, phones)
and PNG, keep their size in fixed places: a JPEG's frame header (SOF), reached by walking the
marker segments before the first scan exactly as libjpeg does, and a PNG's IHDR, which must be the
first chunk. Other formats (BMP, WebP, TIFF, PNM) are left to OpenCV's backstop and checked after
decoding. The input is untrusted: every length is checked against the data, and anything odd is
MalformedHeader (tests/unit/test_image_header.py fuzzes this against OpenCV's own reading).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_SIDE = 8192  # a frame wider or taller than this is garbage from a driver, not a picture
# Default pixel limit: 4096 x 4096 = 16.8 MP, more than a 4K UHD frame (8.3 MP) or a 12 MP still
# from a phone or a Pi HQ camera. Decoded as BGR it is 48 MB; the daemon holds at most a few such
# frames per camera and runs one caption at a time, which keeps a 1 GB Pi well inside its memory
# (README "Memory" has the measured figures).
DEFAULT_MAX_PIXELS = 4096 * 4096
MAX_PIXELS_CEILING = MAX_SIDE * MAX_SIDE  # the most a limit may be set to; OpenCV's own backstop

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


class MalformedHeader(ValueError):
    """The data starts like a JPEG or a PNG but its header is not one (one line, for the log)."""


@dataclass(frozen=True)
class ImageHeader:
    format: str  # "jpeg" | "png"
    width: int
    height: int
    components: int = 3  # JPEG: colour components of the frame; PNG: 1 to 4 channels
    progressive: bool = False  # JPEG: libjpeg keeps the whole image's coefficients while decoding

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes | bytearray | memoryview) -> ImageHeader | None:
    """The size a JPEG or PNG says it has; None for any other format; MalformedHeader for data
    that starts like one of the two but whose header is broken."""
    if not isinstance(data, bytes):
        data = bytes(data)
    if data.startswith(JPEG_SOI):
        return _jpeg_header(data)
    if data.startswith(PNG_SIGNATURE):
        return _png_header(data)
    return None


def size_problem(width: int, height: int, max_pixels: int, limit_name: str = "") -> str | None:
    """None for a size we decode; else why not, in a few words (naming `limit_name`, the option or
    key that sets the pixel limit, where it is the pixel limit)."""
    if width > MAX_SIDE or height > MAX_SIDE:
        return f"{width}x{height} pixels, wider or taller than {MAX_SIDE}"
    if width * height > max_pixels:
        return f"{width}x{height} pixels, over the limit of {max_pixels}" + (
            f" ({limit_name})" if limit_name else "")
    return None


def _jpeg_header(data: bytes) -> ImageHeader:
    """The first SOF segment, reached as libjpeg's marker reader reaches it: after SOI, each marker
    is 0xFF (fill bytes 0xFF allowed) and a code, then a big-endian length that counts itself.
    Stricter than libjpeg (which skips stray bytes between segments with a warning), never looser:
    where this finds a SOF, libjpeg reads the same one."""
    i = len(JPEG_SOI)
    while True:
        if i >= len(data) or data[i] != 0xFF:
            raise MalformedHeader(f"JPEG: no marker at byte {i}")
        while i < len(data) and data[i] == 0xFF:
            i += 1
        if i >= len(data):
            raise MalformedHeader("JPEG: ends before its frame header")
        marker = data[i]
        i += 1
        if marker in STANDALONE_MARKERS:
            continue
        if marker in (0x00, 0xD8, 0xD9, 0xDA):  # stuffing, a second SOI, EOI or a scan before SOF
            raise MalformedHeader(f"JPEG: marker 0x{marker:02X} before the frame header")
        if i + 2 > len(data):
            raise MalformedHeader("JPEG: ends before its frame header")
        (length,) = struct.unpack_from(">H", data, i)
        if length < 2 or i + length > len(data):
            raise MalformedHeader(f"JPEG: segment 0x{marker:02X} of length {length} does not fit")
        if marker in SOF_MARKERS:
            if length < 8:
                raise MalformedHeader(f"JPEG: frame header of length {length}")
            height, width, components = struct.unpack_from(">HHB", data, i + 3)
            if width == 0 or height == 0:  # 0 lines: "defined later by DNL", which libjpeg refuses
                raise MalformedHeader(f"JPEG: frame header says {width}x{height}")
            if components == 0:
                raise MalformedHeader("JPEG: frame header with no components")
            return ImageHeader("jpeg", width, height, components, marker in PROGRESSIVE_SOF)
        i += length


PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # colour type -> channels (3: palette, shown as RGB)


def _png_header(data: bytes) -> ImageHeader:
    """IHDR: the first chunk, 13 bytes: width, height (big-endian, 1..2^31-1), bit depth, colour type..."""
    start = len(PNG_SIGNATURE)
    if len(data) < start + 8 + 13:
        raise MalformedHeader("PNG: ends before its IHDR chunk")
    length, kind = struct.unpack_from(">I4s", data, start)
    if kind != b"IHDR" or length != 13:
        raise MalformedHeader("PNG: the first chunk is not a 13-byte IHDR")
    width, height, _depth, colour = struct.unpack_from(">IIBB", data, start + 8)
    if not 0 < width < 2**31 or not 0 < height < 2**31:
        raise MalformedHeader(f"PNG: IHDR says {width}x{height}")
    if colour not in PNG_CHANNELS:
        raise MalformedHeader(f"PNG: colour type {colour}")
    return ImageHeader("png", width, height, PNG_CHANNELS[colour])
