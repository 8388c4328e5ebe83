"""The daemon's configuration (config.yaml): typed dataclasses, validated once at start-up.

SPEC.md fixes the sections: device_id, mqtt, model, cameras, logging. Unknown keys and wrong types
are errors (BadInput -> exit 2) naming the key, e.g. `cameras[1].interval_s: expected a number > 0`.
Secrets (the MQTT password) may come from the file, from `password_file`, or from the environment
variable EDGE_CAPTIONER_MQTT_PASSWORD, and are never logged or printed (see `to_dict(masked=True)`).

The loading and validation code is in `load_config`; the dataclasses below are the contract the
rest of the daemon reads.

Which file: `--config FILE`, else $EDGE_CAPTIONER_CONFIG, else /etc/edge-captioner/config.yaml if
it exists, else the built-in default (`default_config()`: the demo on the bundled sample clip).
Relative paths inside a file (password_file, tls files, file sources, a bundle directory) are
relative to that file's directory, and are stored resolved: under systemd the working directory is
`/`, so "relative to where I started it" would mean something else in the service.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .bundle import DEFAULT_BUNDLE_NAMES
from .errors import BadInput
from .manifest.choices import RUNTIME_CHOICES

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATHS = ("/etc/edge-captioner/config.yaml",)
CONFIG_ENV = "EDGE_CAPTIONER_CONFIG"
PASSWORD_ENV = "EDGE_CAPTIONER_MQTT_PASSWORD"


@dataclass
class TLSConfig:
    ca_certs: str | None = None  # CA bundle that signed the broker's certificate
    certfile: str | None = None  # client certificate (mutual TLS)
    keyfile: str | None = None
    insecure: bool = False  # skip hostname verification: must be explicit, logged as a warning


@dataclass
class DiscoveryConfig:
    enabled: bool = True
    prefix: str = "homeassistant"


@dataclass
class MQTTConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str | None = None  # None: "edge-captioner-<device_id>"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # resolved secret, never logged
    password_file: str | None = None
    tls: TLSConfig | None = None
    keepalive: int = 60
    protocol: str = "3.1.1"  # "3.1.1" | "5"
    qos: int = 1  # captions; status and state are always QoS 1
    retain: bool = True  # captions
    base_topic: str = "edge_captioner"
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    queue_limit: int = 1000  # captions kept while the broker is away; oldest dropped first
    # where captions still queued at stop wait for the next run (spool.py); None: $STATE_DIRECTORY
    spool_dir: str | None = None


@dataclass
class ModelConfig:
    bundle: str = "default"
    runtime: str = "auto"  # auto | ai_edge_litert | tflite_runtime | tensorflow
    delegate: str = "none"  # none | edgetpu
    fallback: str = "none"  # none | cpu (when the Edge TPU cannot be used)
    threads: int = 1
    beam_size: int = 1
    max_length: int | None = None  # None: the bundle's


@dataclass
class CameraConfig:
    name: str  # [a-z0-9_-]+: part of the MQTT topics and Home Assistant ids
    source: str | int  # device index | /dev/videoN | file | rtsp:// http:// URL | GStreamer
    interval_s: float = 1.0  # at most one caption per interval
    resolution: tuple[int, int] | None = None
    scene_change_threshold: float = 0.02  # share of changed pixels that wakes the captioner
    heartbeat_s: float = 300.0  # re-publish an unchanged caption at least this often
    snapshot: bool = False
    loop: bool = True  # files: play again from the start at the end
    stall_timeout_s: float = 10.0  # no frame for this long: the source is lost and reopened
    # where the camera looks: a place the bundle knows (front_door, living_room, kitchen, driveway,
    # backyard; "front door" works too) goes into its captions; other text is put before them
    place: str | None = None
    # a caption less sure than this is not published as the camera's caption (see the README)
    min_confidence: float = 0.0


@dataclass
class LoggingConfig:
    level: str = "INFO"


@dataclass
class Config:
    device_id: str
    mqtt: MQTTConfig = field(default_factory=MQTTConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    cameras: list[CameraConfig] = field(default_factory=list)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    source_path: str | None = None  # the file it was read from


# -- loading -----------------------------------------------------------------------------------------
MASK = "***"
# the camera URLs OpenCV opens through FFmpeg (camera.classify_source)
NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
MQTT_TLS_PORT = 8883  # the port a TLS broker listens on when the file gives none
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".h264",
                  ".h265", ".mjpeg", ".mjpg", ".y4m", ".flv", ".wmv")
PASSWORD_FILE_MAX_BYTES = 4096  # a password, not a file to slurp (think of /dev/zero by mistake)
DEFAULT_DOCUMENT: dict[str, Any] = {
    "device_id": "demo-house",
    # the bundled clip, looped
    "cameras": [{"name": "front_door", "source": "sample", "place": "front_door"}],
}

Validator = Callable[[Any, str], Any]


def _describe(value: Any, secret: bool = False) -> str:
    """A value as an error message shows it: YAML spelling, short, and never a secret."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if secret:
        return f"a {type(value).__name__}"
    if isinstance(value, str | int | float):
        shown = repr(value)
        return shown if len(shown) <= 42 else shown[:40] + "..."
    return f"a {type(value).__name__}"


def _join(path: str, key: object) -> str:
    # a key is the file's own text: one that is not a plain printable name is shown quoted, so
    # the error stays one line
    name = str(key) if isinstance(key, str) and key.isprintable() else repr(key)
    return f"{path}.{name}" if path else name


def _bad(path: str, message: str) -> BadInput:
    return BadInput(f"{path}: {message}")


# -- scalar validators: each takes (value, key path) and returns the clean value or raises BadInput
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML true is not 1 here


def _finite(value: Any) -> float | None:
    """`value` as a float if it is a finite YAML number (not a bool, not .nan/.inf, not 10**400)."""
    if not (_is_int(value) or isinstance(value, float)):
        return None
    try:
        as_float = float(value)
    except OverflowError:
        return None
    return as_float if math.isfinite(as_float) else None


def _integer(lo: int, hi: int | None = None) -> Validator:
    wanted = f"an integer {lo}..{hi}" if hi is not None else f"an integer >= {lo}"

    def check(value: Any, path: str) -> int:
        if not _is_int(value) or value < lo or (hi is not None and value > hi):
            raise _bad(path, f"expected {wanted}, got {_describe(value)}")
        return value

    return check


def _number(lo: float, hi: float | None = None, *, lo_inclusive: bool = True) -> Validator:
    if hi is not None:
        wanted = f"a number {lo:g}..{hi:g}"
    else:
        wanted = f"a number {'>=' if lo_inclusive else '>'} {lo:g}"

    def check(value: Any, path: str) -> float:
        as_float = _finite(value)
        ok = as_float is not None and (as_float >= lo if lo_inclusive else as_float > lo)
        if not ok or (hi is not None and as_float > hi):
            raise _bad(path, f"expected {wanted}, got {_describe(value)}{_float_text_hint(value)}")
        return as_float

    return check


def _float_text_hint(value: Any) -> str:
    """PyYAML follows YAML 1.1, where 1e-3 (no dot) is a string, not a number: say so."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (a string: write numbers like 1e-3 as 1.0e-3 or 0.001)"
    return ""


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, f"expected true or false, got {_describe(value)}")
    return value


def _text(*, optional: bool = False, secret: bool = False) -> Validator:
    wanted = "a non-empty string" + (" or null" if optional else "")

    def check(value: Any, path: str) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise _bad(path, f"expected {wanted}, got {_describe(value, secret)}")
        return value

    return check


def _choice(*choices: str, aliases: Mapping[Any, str] | None = None) -> Validator:
    def check(value: Any, path: str) -> str:
        if aliases and isinstance(value, str | int | float) and not isinstance(value, bool) \
                and value in aliases:
            return aliases[value]
        if isinstance(value, str) and value in choices:
            return value
        raise _bad(path, f"expected one of {', '.join(choices)}, got {_describe(value)}")

    return check


def _name(value: Any, path: str) -> str:
    """device_id and camera names: they become MQTT topic levels and Home Assistant ids, so a `/`,
    `+` or `#` (topic syntax) or upper case / spaces (entity ids) would break things downstream."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise _bad(path, "expected a name of lower-case letters, digits, '_' and '-' (starting "
                         f"with a letter or digit, at most 63), got {_describe(value)}")
    return value


def _topic(value: Any, path: str) -> str:
    """A topic prefix we publish under: no wildcards, no empty levels."""
    if not isinstance(value, str) or not value:
        raise _bad(path, f"expected a non-empty MQTT topic, got {_describe(value)}")
    if "+" in value or "#" in value or "\0" in value:
        raise _bad(path, f"{value!r} contains a wildcard (+ or #): not allowed in a topic we publish to")
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise _bad(path, f"{value!r}: no leading, trailing or doubled '/'")
    return value


def _host(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise _bad(path, f"expected a host name or IP address, got {_describe(value)}")
    return value


def _source(value: Any, path: str) -> str | int:
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        value = value.strip()
        scheme = value.split("://", 1)[0].lower() + "://"
        # a URL the camera module would not open as one (it would try it as a file name, and
        # fail at run time only): a typo such as htp:// is caught here
        if "://" in value and " ! " not in value and scheme not in NETWORK_SCHEMES:
            raise _bad(path, f"{value!r}: not a URL a camera can be opened from (the schemes "
                       f"are {', '.join(s[:-3] for s in NETWORK_SCHEMES)})")
        return value
    raise _bad(path, "expected a device index >= 0, /dev/videoN, a file, an rtsp:// or http:// URL "
                     f"or a GStreamer pipeline, got {_describe(value)}")


def _resolution(value: Any, path: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (isinstance(value, list) and len(value) == 2
            and all(_is_int(v) and v > 0 for v in value)):
        return value[0], value[1]
    raise _bad(path, f"expected [width, height] (two positive integers) or null, got {_describe(value)}")


def _log_level(value: Any, path: str) -> str:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    if isinstance(value, str) and value.upper() in levels:
        return value.upper()
    raise _bad(path, f"expected one of {', '.join(levels)}, got {_describe(value)}")


# -- sections ---------------------------------------------------------------------------------------------
def _mapping(value: Any, path: str, *, null_ok: bool = False) -> Mapping:
    if value is None and null_ok:
        return {}  # `mqtt:` with everything under it commented out: the defaults
    if not isinstance(value, Mapping):
        raise _bad(path or "top level", f"expected a mapping, got {_describe(value)}")
    return value


def _section(raw: Any, path: str, fields: Mapping[str, Validator], *, null_ok: bool = True,
            required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a mapping's keys against `fields` (unknown keys are errors) and validate each value."""
    mapping = _mapping(raw, path, null_ok=null_ok)
    for key in mapping:
        if key not in fields:
            raise _bad(_join(path, key), f"unknown key (known: {', '.join(fields)})")
    for key in required:
        if key not in mapping:
            raise _bad(_join(path, key), "required")
    return {key: fields[key](value, _join(path, key)) for key, value in mapping.items()}


def _tls(value: Any, path: str) -> TLSConfig | None:
    if value is None:
        return None
    tls = TLSConfig(**_section(value, path, TLS_FIELDS))
    if tls.keyfile and not tls.certfile:
        raise _bad(_join(path, "keyfile"), f"needs {_join(path, 'certfile')} (the client certificate)")
    return tls


def _discovery(value: Any, path: str) -> DiscoveryConfig:
    return DiscoveryConfig(**_section(value, path, DISCOVERY_FIELDS))


TLS_FIELDS: dict[str, Validator] = {
    "ca_certs": _text(optional=True), "certfile": _text(optional=True), "keyfile": _text(optional=True),
    "insecure": _boolean,
}
DISCOVERY_FIELDS: dict[str, Validator] = {"enabled": _boolean, "prefix": _topic}
MQTT_FIELDS: dict[str, Validator] = {
    "host": _host,
    "port": _integer(1, 65535),
    "client_id": _text(optional=True),
    "username": _text(optional=True),
    "password": _text(optional=True, secret=True),
    "password_file": _text(optional=True),
    "tls": _tls,
    "keepalive": _integer(5, 65535),  # MQTT's keep-alive is a 16-bit number of seconds
    "protocol": _choice("3.1.1", "5", aliases={5: "5", "3.1.1": "3.1.1"}),
    "qos": _integer(0, 2),
    "retain": _boolean,
    "base_topic": _topic,
    "discovery": _discovery,
    "queue_limit": _integer(1),
    "spool_dir": _text(optional=True),
}
MODEL_FIELDS: dict[str, Validator] = {
    "bundle": _text(),
    "runtime": _choice(*RUNTIME_CHOICES),
    "delegate": _choice("none", "edgetpu"),
    "fallback": _choice("none", "cpu"),
    "threads": _integer(1),
    "beam_size": _integer(1, 10),
    "max_length": lambda value, path: None if value is None else _integer(2, 64)(value, path),
}
CAMERA_FIELDS: dict[str, Validator] = {
    "name": _name,
    "source": _source,
    "interval_s": _number(0, lo_inclusive=False),
    "resolution": _resolution,
    "scene_change_threshold": _number(0, 1),
    "heartbeat_s": _number(0, lo_inclusive=False),
    "snapshot": _boolean,
    "loop": _boolean,
    "stall_timeout_s": _number(0, lo_inclusive=False),
    "place": lambda value, path: _place(value, path),
    "min_confidence": _number(0, 1),
}
LOGGING_FIELDS: dict[str, Validator] = {"level": _log_level}
TOP_FIELDS: dict[str, Validator] = {
    "device_id": _name,
    "mqtt": lambda value, path: value,  # sections are validated by their own builders below
    "model": lambda value, path: value,
    "cameras": lambda value, path: value,
    "logging": lambda value, path: value,
}


PLACE_MAX_CHARS = 40


def _place(value: Any, path: str) -> str | None:
    """A short one-line text (it goes into captions and MQTT payloads), or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > PLACE_MAX_CHARS \
            or not value.isprintable():
        raise _bad(path, f"expected a place: one line of 1..{PLACE_MAX_CHARS} printable "
                   f"characters, got {_describe(value)}")
    return value.strip()


def _mqtt(raw: Any) -> MQTTConfig:
    values = _section(raw, "mqtt", MQTT_FIELDS)
    if values.get("tls") is not None and "port" not in values:
        values["port"] = MQTT_TLS_PORT
    return MQTTConfig(**values)


def _camera(raw: Any, path: str) -> CameraConfig:
    camera = CameraConfig(**_section(raw, path, CAMERA_FIELDS, null_ok=False, required=("name", "source")))
    if camera.heartbeat_s < camera.interval_s:
        raise _bad(_join(path, "heartbeat_s"),
                   f"expected a number >= interval_s ({camera.interval_s:g}), got {camera.heartbeat_s:g}")
    return camera


def _cameras(raw: Any) -> list[CameraConfig]:
    if not isinstance(raw, list):
        raise _bad("cameras", f"expected a list of cameras, got {_describe(raw)}")
    if not raw:
        raise _bad("cameras", "at least one camera is required")
    cameras = [_camera(item, f"cameras[{i}]") for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, camera in enumerate(cameras):
        if camera.name in seen:
            raise _bad(f"cameras[{i}].name", f"duplicate camera name {camera.name!r}")
        seen.add(camera.name)
    return cameras


def parse_document(document: Any) -> Config:
    """The typed configuration of a YAML document; no file system access, no environment."""
    top = _section(document, "", TOP_FIELDS, null_ok=False, required=("device_id", "cameras"))
    return Config(
        device_id=top["device_id"],
        mqtt=_mqtt(top.get("mqtt")),
        model=ModelConfig(**_section(top.get("model"), "model", MODEL_FIELDS)),
        cameras=_cameras(top["cameras"]),
        logging=LoggingConfig(**_section(top.get("logging"), "logging", LOGGING_FIELDS)),
    )


# -- files and secrets ------------------------------------------------------------------------------------
def _resolve(path_text: str, key: str, base_dir: Path) -> Path:
    if "\0" in path_text:
        raise _bad(key, "a path cannot contain a NUL character")
    path = Path(path_text)
    try:
        path = path.expanduser()
    except RuntimeError:  # no home directory to expand ~ to (a system user): leave it as written
        pass
    return path if path.is_absolute() else base_dir / path


def _kind(path: Path) -> str:
    """What is at `path`: "file", "dir", "other" (a device, a FIFO...), "missing", or why it
    cannot be looked at."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:  # ENOENT, but also EACCES on a parent, ENAMETOOLONG...
        return "missing" if exc.errno == errno.ENOENT else (exc.strerror or "cannot be read")
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def _existing_file(path_text: str | None, key: str, base_dir: Path) -> str | None:
    if path_text is None:
        return None
    path = _resolve(path_text, key, base_dir)
    kind = _kind(path)
    if kind == "missing":
        raise _bad(key, f"{path}: no such file")
    if kind != "file":
        raise _bad(key, f"{path}: not a regular file" if kind in ("dir", "other") else f"{path}: {kind}")
    return str(path)


def looks_like_file(value: str | int) -> bool:
    """A source that names a file on this machine (so it can be checked now) rather than a device,
    a URL or a pipeline, which are only known to work when opened."""
    if not isinstance(value, str) or value.startswith("/dev/video") or "://" in value or " ! " in value:
        return False
    return value.startswith(("/", "./", "../", "~/")) or value.lower().endswith(VIDEO_SUFFIXES)


def _camera_source(camera: CameraConfig, key: str, base_dir: Path) -> CameraConfig:
    if not looks_like_file(camera.source):
        return camera
    path = _resolve(str(camera.source), key, base_dir)
    if _kind(path) not in ("file", "other"):  # "other": a FIFO fed by another program is fine
        raise _bad(key, f"{path}: no such video file")
    return dataclasses.replace(camera, source=str(path))


def _bundle(bundle: str, base_dir: Path) -> str:
    if bundle in DEFAULT_BUNDLE_NAMES:
        return bundle
    path = _resolve(bundle, "model.bundle", base_dir)
    if _kind(path) != "dir":
        raise _bad("model.bundle", f"{path}: no such bundle directory (or use default, default-en, "
                                   "default-zh)")
    return str(path)


def read_password_file(path: str, key: str = "mqtt.password_file") -> str:
    """The password in `path`, without the trailing newline an editor or `echo` adds."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(PASSWORD_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise _bad(key, f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > PASSWORD_FILE_MAX_BYTES:
        raise _bad(key, f"{path}: longer than {PASSWORD_FILE_MAX_BYTES} bytes, not a password file")
    try:
        password = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _bad(key, f"{path}: not UTF-8 text") from None
    if not password:
        raise _bad(key, f"{path}: empty")
    return password


def _password(mqtt: MQTTConfig) -> str | None:
    """Precedence: the environment (systemd's Environment=/EnvironmentFile=, containers), then the
    password file, then the password written in the configuration."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:  # set but empty counts as unset: `Environment=EDGE_CAPTIONER_MQTT_PASSWORD=`
        return from_env
    if mqtt.password_file is not None:
        return read_password_file(mqtt.password_file)
    return mqtt.password


def _resolve_mqtt(mqtt: MQTTConfig, device_id: str, base_dir: Path) -> MQTTConfig:
    tls = mqtt.tls
    if tls is not None:
        tls = dataclasses.replace(
            tls, **{key: _existing_file(getattr(tls, key), f"mqtt.tls.{key}", base_dir)
                    for key in ("ca_certs", "certfile", "keyfile")})
    resolved = dataclasses.replace(
        mqtt, tls=tls,
        client_id=mqtt.client_id or f"edge-captioner-{device_id}",
        password_file=_existing_file(mqtt.password_file, "mqtt.password_file", base_dir))
    resolved.password = _password(resolved)
    if resolved.password is not None and resolved.username is None and resolved.protocol == "3.1.1":
        # MQTT 3.1.1 only sends a password together with a user name: it would be silently unused.
        raise _bad("mqtt.username", "required when a password is set (MQTT 3.1.1 sends a password "
                                    "only with a user name)")
    return resolved


def resolve_files_and_secrets(config: Config, base_dir: Path) -> Config:
    """Check the files the configuration names, make their paths absolute, read the password."""
    return dataclasses.replace(
        config,
        mqtt=_resolve_mqtt(config.mqtt, config.device_id, base_dir),
        model=dataclasses.replace(config.model, bundle=_bundle(config.model.bundle, base_dir)),
        cameras=[_camera_source(camera, f"cameras[{i}].source", base_dir)
                 for i, camera in enumerate(config.cameras)],
    )


# -- YAML -------------------------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error: PyYAML silently keeps
    the last one, so a second `mqtt:` section would quietly replace the first."""

    def construct_mapping(self, node, deep=False):
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key_node.value!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    """The document in `path`; every way of failing is BadInput naming the file (and line)."""
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = yaml.load(content, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        # Not str(exc): it quotes the offending line, which may be the one holding the password.
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: invalid YAML: {type(exc).__name__}") from None
    except (ValueError, OverflowError):
        # PyYAML's implicit types can fail to convert, e.g. the date 2024-13-45.
        raise BadInput(f"{path}: invalid YAML: a value that cannot be converted (an impossible date?)") \
            from None
    except RecursionError:
        raise BadInput(f"{path}: invalid YAML: nested too deeply") from None
    if document is None:
        raise BadInput(f"{path}: empty configuration (no settings in the file)")
    if not isinstance(document, dict):
        raise BadInput(f"{path}: expected a mapping of sections ({', '.join(TOP_FIELDS)}) at the top "
                       f"level, got {_describe(document)}")
    return document


# -- the API ----------------------------------------------------------------------------------------------
def _must_exist(path: Path, given_by: str) -> Path:
    kind = _kind(path)
    if kind == "missing":
        raise BadInput(f"{path}: no such configuration file (from {given_by})")
    if kind == "dir":
        raise BadInput(f"{path}: is a directory, expected a configuration file (from {given_by})")
    if kind not in ("file", "other"):
        raise BadInput(f"{path}: {kind} (from {given_by})")
    return path


def resolve_config_path(path: str | Path | None) -> Path | None:
    """The configuration file to read, or None for the built-in default (see the module doc)."""
    if path is not None and str(path):
        return _must_exist(Path(path).expanduser(), "--config")
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return _must_exist(Path(from_env).expanduser(), f"${CONFIG_ENV}")
    for candidate in DEFAULT_CONFIG_PATHS:
        if _kind(Path(candidate)) != "missing":  # present but unreadable: say so, don't run the demo
            return Path(candidate)
    return None


def build_config(document: Any, base_dir: Path, source_path: str | None = None) -> Config:
    config = resolve_files_and_secrets(parse_document(document), base_dir)
    return dataclasses.replace(config, source_path=source_path)


def default_config() -> Config:
    """The demo: the shipped bundle, the bundled sample clip as `front_door`, a local broker."""
    try:
        return build_config(DEFAULT_DOCUMENT, Path.cwd())
    except BadInput as exc:  # only the environment can make it fail (a password without a user)
        raise BadInput(f"built-in default configuration: {exc}") from None


def load_config(path: str | Path | None = None) -> Config:
    """The validated configuration (see the module doc for which file); BadInput names the file and
    the key on any problem."""
    config_path = resolve_config_path(path)
    if config_path is None:
        log.debug("no configuration file: using the built-in default")
        return default_config()
    document = read_yaml(config_path)
    absolute = config_path.absolute()
    try:
        config = build_config(document, absolute.parent, str(absolute))
    except BadInput as exc:
        raise BadInput(f"{config_path}: {exc}") from None
    log.debug("configuration from %s", absolute)
    return config


def to_dict(config: Config, masked: bool = True) -> dict[str, Any]:
    """The configuration as plain data in config.yaml's shape (it loads back as the same config).
    With `masked`, a set password shows as '***'; the password file's content never appears."""
    data = dataclasses.asdict(config)
    data.pop("source_path")
    if masked and data["mqtt"]["password"] is not None:
        data["mqtt"]["password"] = MASK
    for camera in data["cameras"]:
        if camera["resolution"] is not None:
            camera["resolution"] = list(camera["resolution"])  # YAML has lists, not tuples
    return data
