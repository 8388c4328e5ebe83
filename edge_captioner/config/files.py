"""The files and secrets a configuration names: checked to exist, made absolute, the password read.

Relative paths (password_file, tls files, file sources, a bundle directory) are relative to the
configuration file's directory, and are stored resolved: under systemd the working directory is
`/`, so "relative to where I started it" would mean something else in the service.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import socket
import stat
from pathlib import Path

from ..bundle.loader import DEFAULT_BUNDLE_NAMES
from ..sources.spec import looks_like_file
from .checks import bad_value
from .schema import CameraConfig, Config, MQTTConfig, WorkersConfig

PASSWORD_ENV = "EDGE_CAPTIONER_MQTT_PASSWORD"
PASSWORD_FILE_MAX_BYTES = 4096  # a password, not a file to slurp (think of /dev/zero by mistake)


def _resolve(path_text: str, key: str, base_dir: Path) -> Path:
    if "\0" in path_text:
        raise bad_value(key, "a path cannot contain a NUL character")
    path = Path(path_text)
    try:
        path = path.expanduser()
    except RuntimeError:  # no home directory to expand ~ to (a system user): leave it as written
        pass
    return path if path.is_absolute() else base_dir / path


def kind_of(path: Path) -> str:
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
    kind = kind_of(path)
    if kind == "missing":
        raise bad_value(key, f"{path}: no such file")
    if kind != "file":
        raise bad_value(key, f"{path}: not a regular file" if kind in ("dir", "other") else f"{path}: {kind}")
    return str(path)


def _camera_source(camera: CameraConfig, key: str, base_dir: Path) -> CameraConfig:
    if not looks_like_file(camera.source):
        return camera
    path = _resolve(str(camera.source), key, base_dir)
    if kind_of(path) not in ("file", "other"):  # "other": a FIFO fed by another program is fine
        raise bad_value(key, f"{path}: no such video file")
    return dataclasses.replace(camera, source=str(path))


def _bundle(bundle: str, base_dir: Path) -> str:
    if bundle in DEFAULT_BUNDLE_NAMES:
        return bundle
    path = _resolve(bundle, "model.bundle", base_dir)
    if kind_of(path) != "dir":
        raise bad_value("model.bundle", f"{path}: no such bundle directory (or use default, default-en, "
                                   "default-zh)")
    return str(path)


def read_password_file(path: str, key: str = "mqtt.password_file") -> str:
    """The password in `path`, without the trailing newline an editor or `echo` adds."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(PASSWORD_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise bad_value(key, f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > PASSWORD_FILE_MAX_BYTES:
        raise bad_value(key, f"{path}: longer than {PASSWORD_FILE_MAX_BYTES} bytes, not a password file")
    try:
        password = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise bad_value(key, f"{path}: not UTF-8 text") from None
    if not password:
        raise bad_value(key, f"{path}: empty")
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


def host_member_id() -> str:
    """This machine's name as a pool member id (`workers.member_id: null`)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:63]
    return name or "member"


def _resolve_workers(workers: WorkersConfig | None) -> WorkersConfig | None:
    if workers is None or workers.member_id is not None:
        return workers
    return dataclasses.replace(workers, member_id=host_member_id())


def _resolve_mqtt(mqtt: MQTTConfig, device_id: str, base_dir: Path,
                  member_id: str | None = None) -> MQTTConfig:
    tls = mqtt.tls
    if tls is not None:
        tls = dataclasses.replace(
            tls, **{key: _existing_file(getattr(tls, key), f"mqtt.tls.{key}", base_dir)
                    for key in ("ca_certs", "certfile", "keyfile")})
    resolved = dataclasses.replace(
        mqtt, tls=tls,
        # pool members share the device id; a broker drops a client whose id another one takes
        client_id=mqtt.client_id or f"edge-captioner-{device_id}" + (f"-{member_id}" if member_id else ""),
        password_file=_existing_file(mqtt.password_file, "mqtt.password_file", base_dir))
    resolved.password = _password(resolved)
    if resolved.password is not None and resolved.username is None and resolved.protocol == "3.1.1":
        # MQTT 3.1.1 only sends a password together with a user name: it would be silently unused.
        raise bad_value("mqtt.username", "required when a password is set (MQTT 3.1.1 sends a password "
                                    "only with a user name)")
    return resolved


def resolve_files_and_secrets(config: Config, base_dir: Path) -> Config:
    """Check the files the configuration names, make their paths absolute, read the password."""
    workers = _resolve_workers(config.workers)
    return dataclasses.replace(
        config,
        workers=workers,
        mqtt=_resolve_mqtt(config.mqtt, config.device_id, base_dir,
                           workers.member_id if workers else None),
        model=dataclasses.replace(config.model, bundle=_bundle(config.model.bundle, base_dir)),
        cameras=[_camera_source(camera, f"cameras[{i}].source", base_dir)
                 for i, camera in enumerate(config.cameras)],
        history=dataclasses.replace(config.history, path=(
            None if config.history.path is None
            else str(_resolve(config.history.path, "history.path", base_dir)))),
    )
