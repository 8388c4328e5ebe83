"""config.yaml's schema: the typed dataclasses the daemon reads, one field per key of the file.

Each key is declared once, here: its type, its default, its check (checks.py) and a one-line
description. The loader validates against these declarations (parse.py) and the configuration
reference, docs/configuration.md, is written from them (reference.py). A field without a
description (`Config.source_path`) is not a key of the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..bundle.choices import DELEGATES, FALLBACKS, RUNTIME_CHOICES
from ..bundle.loader import DEFAULT_BUNDLE_NAMES
from ..sources.image_header import DEFAULT_MAX_PIXELS, MAX_PIXELS_CEILING
from ..sources.spec import MAX_JPEG_BYTES
from .checks import (
    Validator,
    valid_boolean,
    valid_choice,
    valid_clock,
    valid_group,
    valid_host,
    valid_http_url,
    valid_integer,
    valid_log_level,
    valid_member,
    valid_name,
    valid_number,
    valid_optional,
    valid_place,
    valid_resolution,
    valid_source,
    valid_text,
    valid_topic,
    valid_zones,
)

MQTT_TLS_PORT = 8883  # the port a TLS broker listens on when the file gives none


# `blank`: a key the installed example (config.yaml) leaves null for the user to fill in; null
# there means "not set yet", and the file is refused, naming every such key, until it is set.
# Nothing is published before the user has named the board, the broker and a camera.


def setting(default: Any, check: Validator, doc: str, *, blank: bool = False, **options: Any) -> Any:
    """A key with a plain value."""
    return field(default=default, metadata={"check": check, "doc": doc, "blank": blank}, **options)


def required(check: Validator, doc: str, *, blank: bool = False) -> Any:
    """A key the file must give: it has no default."""
    return field(metadata={"check": check, "doc": doc, "required": True, "blank": blank})


def section(kind: type, doc: str, *, optional: bool = False, many: bool = False,
            needed: bool = False, blank: bool = False) -> Any:
    """A key whose value is a section of its own: a mapping of `kind`'s keys (null when `optional`),
    or with `many` a list of them; `needed`: the file must give it."""
    metadata = {"section": kind, "doc": doc, "many": many, "required": needed, "blank": blank}
    if optional:
        return field(default=None, metadata=metadata)
    return field(default_factory=list if many else kind, metadata=metadata)


def keys(kind: type) -> list[dataclasses.Field]:
    """The keys of a section, in the order the dataclass declares (and errors list) them."""
    return [f for f in dataclasses.fields(kind) if "doc" in f.metadata]


@dataclass
class TLSConfig:
    ca_certs: str | None = setting(None, valid_text(optional=True),
                                   "the CA bundle that signed the broker's certificate")
    certfile: str | None = setting(None, valid_text(optional=True), "the client certificate (mutual TLS)")
    keyfile: str | None = setting(None, valid_text(optional=True),
                                  "the client certificate's private key (needs `certfile`)")
    insecure: bool = setting(False, valid_boolean, "skip checking the broker's host name against its "
                                              "certificate (logged as a warning)")


@dataclass
class DiscoveryConfig:
    enabled: bool = setting(True, valid_boolean, "announce the entities to Home Assistant (MQTT discovery)")
    prefix: str = setting("homeassistant", valid_topic, "Home Assistant's discovery prefix")


@dataclass
class MQTTConfig:
    host: str = setting("127.0.0.1", valid_host, "the broker", blank=True)
    port: int = setting(1883, valid_integer(1, 65535),
                        f"the broker's port ({MQTT_TLS_PORT} when `tls` is given and `port` is not)")
    client_id: str | None = setting(None, valid_text(optional=True),
                                    "null: `edge-captioner-<device_id>`, with `-<member_id>` in a "
                                    "pool (`workers`)")
    username: str | None = setting(None, valid_text(optional=True),
                                   "needed with a password under MQTT 3.1.1")
    password: str | None = setting(None, valid_text(optional=True, secret=True),
                                   "the password, never logged or printed (see above for the "
                                   "other places it may come from)", repr=False)
    password_file: str | None = setting(None, valid_text(optional=True),
                                        "a file holding the password (a trailing newline is ignored)")
    tls: TLSConfig | None = section(TLSConfig, "connect with TLS (`mqtt.tls` below); null: plain TCP",
                                    optional=True)
    # MQTT's keep-alive is a 16-bit number of seconds
    keepalive: int = setting(60, valid_integer(5, 65535), "seconds between keep-alive pings")
    protocol: str = setting("3.1.1", valid_choice("3.1.1", "5", aliases={5: "5", "3.1.1": "3.1.1"}),
                            "the MQTT protocol version")
    qos: int = setting(1, valid_integer(0, 2), "QoS of captions; status and state are always QoS 1")
    retain: bool = setting(True, valid_boolean, "retain captions")
    base_topic: str = setting("edge_captioner", valid_topic, "the topic everything is published under")
    discovery: DiscoveryConfig = section(DiscoveryConfig, "Home Assistant MQTT discovery "
                                                          "(`mqtt.discovery` below)")
    queue_limit: int = setting(1000, valid_integer(1), "captions kept while the broker is away; the "
                                                  "oldest are dropped first")
    spool_dir: str | None = setting(None, valid_text(optional=True),
                                    "the caption journal: captions on disk from queued to acknowledged, "
                                    "delivered first by the next start; null: `$STATE_DIRECTORY`")


@dataclass
class ModelConfig:
    bundle: str = setting("default", valid_text(), f"a bundle shipped in the package "
                                              f"({', '.join(DEFAULT_BUNDLE_NAMES)}) or a bundle directory")
    runtime: str = setting("auto",
                           valid_choice(*RUNTIME_CHOICES),
                           "the TFLite interpreter; auto: the first installed of the others, in this order")
    delegate: str = setting("none", valid_choice(*DELEGATES),
                            "edgetpu: the encoder on a Coral Edge TPU (the decoder stays on the CPU)")
    fallback: str = setting("none", valid_choice(*FALLBACKS),
                            "cpu: run on the CPU, with a warning, when the Edge TPU cannot be used")
    threads: int = setting(1, valid_integer(1), "interpreter threads")
    beam_size: int = setting(1, valid_integer(1, 10), "beam search width; 1: greedy")
    max_length: int | None = setting(None, valid_optional(valid_integer(2, 64)),
                                     "the longest caption in tokens; null: the bundle's own")


@dataclass
class EventsConfig:
    """What happened over time (service/tracks.py, events.py, docs/events.md)."""

    enabled: bool | None = setting(
        None, valid_optional(valid_boolean),
        "follow objects across frames and publish events; null: on, except for `frigate:` "
        "cameras (Frigate tracks them) and cameras whose frames a pool (`workers`) shares "
        "(tracking needs one owner per camera); true there is an error")
    present_after_frames: int = setting(2, valid_integer(1, 10),
                                        "an object is present once seen in this many of its first "
                                        "`present_window_frames` frames")
    present_window_frames: int = setting(3, valid_integer(1, 10),
                                         "see `present_after_frames` (>= it)")
    absent_after_s: float = setting(5.0, valid_number(0, 3600, lo_inclusive=False),
                                    "a present object missing this long (seconds) is gone")
    passing_s: float = setting(5.0, valid_number(0, 3600),
                               "an arrival is announced once present this long; a person gone "
                               "sooner who moved across the frame passed by")
    fall_after_s: float = setting(30.0, valid_number(1, 3600),
                                  "a person lying (not on a sofa or bed) this long without getting "
                                  "up: possible fall")
    linger_after_s: float = setting(60.0, valid_number(1, 86400),
                                    "a person in one zone this long: lingering")
    box_after_s: float = setting(10.0, valid_number(0, 86400),
                                 "a box present this long before a person came and gone when "
                                 "they leave: taken")
    track_interval_s: float = setting(1.0, valid_number(0.05, 60),
                                      "while anything is tracked, a frame is captioned at least "
                                      "this often even if the scene did not change (seconds)")


@dataclass
class CameraConfig:
    name: str = required(valid_name, "part of the MQTT topics and Home Assistant ids")
    source: str | int = required(valid_source, "where frames come from; `sample`: the bundled demo clip",
                                 blank=True)
    interval_s: float = setting(1.0, valid_number(0, lo_inclusive=False),
                                "at most one caption per interval (seconds)")
    resolution: tuple[int, int] | None = setting(
        None, valid_resolution, "larger frames are shrunk to fit; null: the source's own size")
    scene_change_threshold: float = setting(0.02, valid_number(0, 1),
                                            "the share of changed pixels that wakes the captioner")
    heartbeat_s: float = setting(300.0, valid_number(0, lo_inclusive=False),
                                 "re-publish an unchanged caption at least this often (seconds, "
                                 ">= `interval_s`)")
    snapshot: bool = setting(False, valid_boolean, "publish the captioned frame as a JPEG")
    loop: bool = setting(True, valid_boolean, "files: play again from the start at the end")
    stall_timeout_s: float = setting(10.0, valid_number(0, lo_inclusive=False),
                                     "no frame for this long (seconds): the source is lost and reopened")
    place: str | None = setting(
        None, valid_optional(valid_place),
        "where the camera looks: a place the bundle knows (front_door, living_room, kitchen, "
        "driveway, backyard; \"front door\" works too) goes into its captions, other text comes "
        "before them")
    min_confidence: float = setting(0.0, valid_number(0, 1),
                                    "a caption less sure than this is not published as the "
                                    "camera's caption")
    max_frame_bytes: int = setting(MAX_JPEG_BYTES, valid_integer(1024, 64 * 1024 * 1024),
                                   "`mqtt:` and `frigate:` sources: a larger payload is dropped (one "
                                   "log line)")
    max_frame_pixels: int = setting(DEFAULT_MAX_PIXELS, valid_integer(64 * 64, MAX_PIXELS_CEILING),
                                    "a frame of more pixels (width x height) is refused: `mqtt:` "
                                    "and `frigate:` frames by their header, before decoding (one "
                                    "log line); other sources when they open, by the size they "
                                    "report (the camera goes `lost`). Bounds the memory a frame "
                                    "takes (README \"Memory\")")
    zones: dict = setting(None, valid_zones,
                          "named areas of the frame, e.g. `door: [[0.3, 0.5], [0.7, 0.5], [0.7, 1], "
                          "[0.3, 1]]`: an object is in a zone by the bottom centre of its box; a "
                          "zone named after a place (front_door, driveway, ...) is that place in "
                          "captions and events, and with zones the camera's `place` is said only "
                          "of objects inside a zone (docs/events.md); the box detector also looks "
                          "at a crop round each zone, one more run per zone per captioned frame "
                          "(a parcel on a doormat: draw the zone tight round the mat, "
                          "docs/box-detector.md); null: none")
    events: EventsConfig = section(EventsConfig, "tracking and events (`cameras[].events` below)")


@dataclass
class WorkersConfig:
    group: str = required(valid_group, "the share group: `$share/<group>/<frame topic>`; the same on "
                                  "every member")
    member_id: str | None = setting(None, valid_member, "this member, different on each; null: the "
                                                   "host name")
    # Longer than a systemd restart (RestartSec=5 plus start-up), so a crashed member gets back
    # the frames it had not acknowledged; short, because on Mosquitto a member that never comes
    # back keeps being dealt its share of the frames until its session expires (docs/topology.md).
    session_expiry_s: int = setting(60, valid_integer(0, 4294967295),
                                    "keep the frame sessions this long after a crash (longer than a "
                                    "restart); 0: a killed member's unacknowledged frames are lost")


@dataclass
class FrigateConfig:
    topic_prefix: str = setting("frigate", valid_topic, "Frigate's `mqtt.topic_prefix`")
    pair_window_s: float = setting(5.0, valid_number(0, 60, lo_inclusive=False),
                                   "an event and its snapshot arrive this close together (seconds)")
    api_url: str | None = setting(None, valid_http_url,
                                  "e.g. `http://frigate:5000`: each caption becomes its event's "
                                  "description in Frigate; null: not sent")


HISTORY_SYNCS = ("normal", "full")


@dataclass
class HistoryConfig:
    enabled: bool = setting(True, valid_boolean,
                            "keep every published caption and event in a SQLite store on the board "
                            "(docs/history.md); on only where there is a state directory or `path`")
    path: str | None = setting(None, valid_text(optional=True),
                               "the store's file; null: `history.sqlite3` in `mqtt.spool_dir`, "
                               "else `$STATE_DIRECTORY`, else no history (one info line)")
    keep_days: int = setting(365, valid_integer(1, 36500),
                             "captions and events older than this many days are deleted")
    max_mb: int = setting(200, valid_integer(1, 1_000_000),
                          "the store and its event snapshots together stay under this many MB: "
                          "the oldest snapshots go first, then the oldest rows")
    sync: str = setting("normal", valid_choice(*HISTORY_SYNCS),
                        "normal: a kill -9 loses nothing recorded, a power cut may lose the last "
                        "moments; full: an fsync per caption, a power cut loses nothing recorded")
    snapshots: bool = setting(True, valid_boolean,
                              "keep each event's snapshot as a JPEG under `<state dir>/snapshots/`")
    summary_at: str | None = setting("21:00", valid_clock,
                                     "local time of the daily summary on `<base>/summary` "
                                     "(retained); null: no summary")


@dataclass
class LoggingConfig:
    level: str = setting("INFO", valid_log_level, "the log level")


@dataclass
class Config:
    device_id: str = required(valid_name, "part of every topic and Home Assistant id", blank=True)
    mqtt: MQTTConfig = section(MQTTConfig, "the broker and the topics (`mqtt` below)")
    model: ModelConfig = section(ModelConfig, "the captioning model (`model` below)")
    cameras: list[CameraConfig] = section(CameraConfig, "at least one camera (`cameras[]` below)",
                                          many=True, needed=True, blank=True)
    logging: LoggingConfig = section(LoggingConfig, "`logging` below")
    workers: WorkersConfig | None = section(WorkersConfig, "a pool of daemons sharing the frames that "
                                                           "arrive over MQTT (`workers` below); null: "
                                                           "no pool", optional=True)
    frigate: FrigateConfig = section(FrigateConfig, "how `frigate:` cameras reach Frigate (`frigate` "
                                                    "below)")
    history: HistoryConfig = section(HistoryConfig, "caption and event history, search and the "
                                                    "daily summary (`history` below)")
    source_path: str | None = None  # the file it was read from
