"""Which configuration file, reading its YAML, and the whole load: `load_config`.

Which file: `--config FILE`, else $EDGE_CAPTIONER_CONFIG, else /etc/edge-captioner/config.yaml if
it exists; with none of them, BadInput saying what to give. The built-in demo (`demo_config()`: the
bundled sample clip, a broker on this machine) is never a fallback: only `--demo` asks for it.
Every failure is BadInput (-> exit 2) naming the file, and the key where there is one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..sources.spec import is_pushed
from .checks import describe_value
from .files import kind_of, resolve_files_and_secrets
from .parse import PUSHED_ONLY, TOP_FIELDS, parse_document
from .schema import Config
from .strict_yaml import read_yaml_file

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATHS = ("/etc/edge-captioner/config.yaml",)
CONFIG_ENV = "EDGE_CAPTIONER_CONFIG"
MASK = "***"
DEMO_DEVICE_ID = "edge-captioner-demo"
# `--demo`: the bundled clip, looped, on a broker on this machine; under a device id no one takes
# for a real one, and without Home Assistant discovery (no fake device in a real Home Assistant)
DEMO_DOCUMENT: dict[str, Any] = {
    "device_id": DEMO_DEVICE_ID,
    "mqtt": {"host": "127.0.0.1", "port": 1883, "client_id": DEMO_DEVICE_ID,
             "discovery": {"enabled": False}},
    "cameras": [{"name": "front_door", "source": "sample", "place": "front_door"}],
}
NO_CONFIG = ("no configuration: give --config FILE (or {env}, or {paths}: install-service writes "
             "it), or --demo for the built-in demo")


def read_yaml(path: Path) -> Any:
    """The document in `path`; every way of failing is BadInput naming the file (and line)."""
    document = read_yaml_file(path)
    if document is None:
        raise BadInput(f"{path}: empty configuration (no settings in the file)")
    if not isinstance(document, dict):
        raise BadInput(f"{path}: expected a mapping of sections ({', '.join(TOP_FIELDS)}) at the top "
                       f"level, got {describe_value(document)}")
    return document


def _must_exist(path: Path, given_by: str) -> Path:
    kind = kind_of(path)
    if kind == "missing":
        raise BadInput(f"{path}: no such configuration file (from {given_by})")
    if kind == "dir":
        raise BadInput(f"{path}: is a directory, expected a configuration file (from {given_by})")
    if kind not in ("file", "other"):
        raise BadInput(f"{path}: {kind} (from {given_by})")
    return path


def resolve_config_path(path: str | Path | None) -> Path | None:
    """The configuration file to read, or None when there is none (see the module doc)."""
    if path is not None and str(path):
        return _must_exist(Path(path).expanduser(), "--config")
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return _must_exist(Path(from_env).expanduser(), f"${CONFIG_ENV}")
    for candidate in DEFAULT_CONFIG_PATHS:
        if kind_of(Path(candidate)) != "missing":  # present but unreadable: say so, don't run the demo
            return Path(candidate)
    return None


def build_config(document: Any, base_dir: Path, source_path: str | None = None) -> Config:
    config = resolve_files_and_secrets(parse_document(document), base_dir)
    return dataclasses.replace(config, source_path=source_path)


def demo_config() -> Config:
    """`--demo`: the shipped bundle, the bundled sample clip as `front_door`, the broker on this
    machine, discovery off."""
    try:
        return build_config(DEMO_DOCUMENT, Path.cwd())
    except BadInput as exc:  # only the environment can make it fail (a password without a user)
        raise BadInput(f"built-in demo configuration: {exc}") from None


def load_config(path: str | Path | None = None) -> Config:
    """The validated configuration (see the module doc for which file); BadInput names the file and
    the key on any problem."""
    config_path = resolve_config_path(path)
    if config_path is None:  # not the demo: it would publish to whatever broker is on this machine
        raise BadInput(NO_CONFIG.format(env=f"${CONFIG_ENV}",
                                        paths=" or ".join(DEFAULT_CONFIG_PATHS)))
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
        if camera["zones"] is not None:
            camera["zones"] = {name: [list(p) for p in points]
                               for name, points in camera["zones"].items()}
        if not is_pushed(camera["source"]):
            for key in PUSHED_ONLY:  # an error for other sources: not printed for them
                del camera[key]
    return data
