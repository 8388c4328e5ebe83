"""Which OpenCV capture a configured camera `source` means, and how to open it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..config import NETWORK_SCHEMES

SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "data" / "sample_porch.mp4"


@dataclass(frozen=True)
class Source:
    kind: str  # "device" | "network" | "gstreamer" | "file"
    target: object  # what cv2.VideoCapture gets: an int or a str
    api: int  # cv2.CAP_*


def classify_source(source: str | int) -> Source:
    """What kind of source `source` is, and how to open it (see `resolve_source`)."""
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return Source("device", int(source), _device_api())
    text = str(source).strip()
    if text.startswith("/dev/video"):
        return Source("device", text, cv2.CAP_V4L2)
    if text == "sample":
        return Source("file", str(SAMPLE_CLIP), _file_api())
    if text.lower().startswith(NETWORK_SCHEMES):
        return Source("network", text, cv2.CAP_FFMPEG)
    if " ! " in text:
        return Source("gstreamer", text, cv2.CAP_GSTREAMER)
    return Source("file", text, _file_api())


def resolve_source(source: str | int) -> tuple[object, int]:
    """What to hand cv2.VideoCapture for a configured `source`, and with which API preference.

    * an int or a digit string ("0") -> that device index, CAP_V4L2 on Linux (else CAP_ANY)
    * "/dev/videoN" -> that device path, CAP_V4L2
    * "sample" -> the clip bundled with the package (edge_captioner/data/sample_porch.mp4)
    * rtsp://, rtsps://, http://, https:// -> CAP_FFMPEG (MJPEG over HTTP is read by FFmpeg too;
      FFmpeg options such as `rtsp_transport;tcp` go in OPENCV_FFMPEG_CAPTURE_OPTIONS)
    * a string containing " ! " -> a GStreamer pipeline, CAP_GSTREAMER, e.g. for the Pi camera:
      "libcamerasrc ! video/x-raw,width=1280,height=720 ! videoconvert ! appsink drop=true".
      This needs an OpenCV built with GStreamer: opencv-python(-headless) from PyPI is NOT; the
      Pi's python3-opencv from Debian is.
    * anything else -> a video file path (CAP_FFMPEG where this OpenCV has it, else CAP_ANY)
    """
    resolved = classify_source(source)
    return resolved.target, resolved.api


def missing_backend_hint(source: Source) -> str:
    """Why a source may have failed to open when this OpenCV lacks its backend ("" if it has it)."""
    if source.kind == "gstreamer" and not _has_backend(cv2.CAP_GSTREAMER):
        return " (this OpenCV has no GStreamer support: use the distribution's python3-opencv)"
    return ""


def _device_api() -> int:
    return cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY


def _file_api() -> int:
    return cv2.CAP_FFMPEG if _has_backend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


def _has_backend(api: int) -> bool:
    try:
        return bool(cv2.videoio_registry.hasBackend(api))
    except (AttributeError, cv2.error):  # very old OpenCV: assume yes and let open() tell
        return True
