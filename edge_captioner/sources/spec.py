"""What a configured camera `source:` string means: the one place that says it.

    an int or "0", "/dev/videoN"        a local device (V4L2)
    "sample"                            the clip bundled with the package
    rtsp://, rtsps://, http://, https://  a network stream (FFmpeg)
    "... ! ..."                         a GStreamer pipeline
    mqtt:<topic>                        JPEG payloads PUSHED on <topic> (ESP32-CAM style); wildcards allowed
    frigate:<camera>[/<label>[,<label>...]]  the snapshots of Frigate's events on that Frigate camera
    anything else                       a video file path

The configuration's checks, the daemon's source factory (factory.py), the OpenCV reader and
`caption PATH` (which images and videos a directory holds) all ask here. Pushed sources are not
`mqtt://`: that reads as a broker URL, and the broker is `mqtt.host`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".h264",
                  ".h265", ".mjpeg", ".mjpg", ".y4m", ".flv", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
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


# Pushed sources: frames arrive over MQTT

MQTT_PREFIX = "mqtt:"
FRIGATE_PREFIX = "frigate:"
# a 4K JPEG at high quality is ~2 MB; more is not a camera frame (cameras[].max_frame_bytes)
MAX_JPEG_BYTES = 4 * 1024 * 1024
FRIGATE_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")  # Frigate's own rule for camera names and labels


@dataclass(frozen=True)
class TopicFrames:
    topic: str  # a subscription filter


@dataclass(frozen=True)
class FrigateFrames:
    camera: str  # the camera's name in Frigate
    labels: tuple[str, ...]  # () for every label


def is_pushed(source: object) -> bool:
    return isinstance(source, str) and source.startswith((MQTT_PREFIX, FRIGATE_PREFIX))


def parse_pushed(source: object) -> TopicFrames | FrigateFrames | None:
    """What a pushed source names; None for any other source; ValueError (one line) for a bad one."""
    if not is_pushed(source):
        return None
    assert isinstance(source, str)
    if source.startswith(MQTT_PREFIX):
        return TopicFrames(_topic_filter(source[len(MQTT_PREFIX):]))
    camera, _, labels = source[len(FRIGATE_PREFIX):].partition("/")
    if not FRIGATE_NAME_RE.fullmatch(camera):
        raise ValueError(f"{source!r}: expected frigate:<camera>[/<label>,...] with a Frigate camera "
                         "name of letters, digits, '_' and '-'")
    names = tuple(label.strip() for label in labels.split(",")) if labels else ()
    if any(not FRIGATE_NAME_RE.fullmatch(label) for label in names):
        raise ValueError(f"{source!r}: labels are Frigate's object names (person, car...), "
                         "separated by commas")
    return FrigateFrames(camera, names)


def _topic_filter(topic: str) -> str:
    if not topic or "\0" in topic:
        raise ValueError(f"{MQTT_PREFIX + topic!r}: expected mqtt:<topic>, e.g. mqtt:esp32cam/porch/jpeg")
    if topic.startswith("//"):
        raise ValueError(f"{MQTT_PREFIX}{topic}: write mqtt:<topic>, not mqtt://...: the broker is "
                         "mqtt.host")
    if topic.startswith("$"):
        raise ValueError(f"{MQTT_PREFIX}{topic}: $-topics are the broker's; a pool's shared "
                         "subscription comes from `workers.group`")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise ValueError(f"{MQTT_PREFIX}{topic}: a wildcard must be a whole level, and # the last")
    return topic


def looks_like_file(value: str | int) -> bool:
    """A source that names a file on this machine (so it can be checked now) rather than a device,
    a URL or a pipeline, which are only known to work when opened."""
    if not isinstance(value, str) or value.startswith("/dev/video") or "://" in value or " ! " in value \
            or is_pushed(value):
        return False
    return value.startswith(("/", "./", "../", "~/")) or value.lower().endswith(VIDEO_SUFFIXES)


def is_video_file(path: str) -> bool:
    return path.lower().endswith(VIDEO_SUFFIXES)


def is_image_file(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)
