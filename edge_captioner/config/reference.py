"""docs/configuration.md, written from the schema so that the reference cannot drift from what the
loader accepts. After changing schema.py, regenerate it:

    python -m edge_captioner.config.reference docs/configuration.md

(tests/unit/test_config.py fails while the committed file differs from `render()`.)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from .checks import wanted
from .files import PASSWORD_ENV
from .loader import CONFIG_ENV, DEFAULT_CONFIG_PATHS
from .schema import Config, keys

COMMAND = "python -m edge_captioner.config.reference docs/configuration.md"


def _sections(kind: type, path: str = "") -> list[tuple[str, type]]:
    """(key path, dataclass) of every section, each followed by its subsections."""
    found = [(path, kind)]
    for key in keys(kind):
        sub = key.metadata.get("section")
        if sub is not None:
            name = f"{path}.{key.name}" if path else key.name
            found += _sections(sub, name + ("[]" if key.metadata["many"] else ""))
    return found


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value(key: dataclasses.Field) -> str:
    if "check" in key.metadata:
        return wanted(key.metadata["check"])
    if key.metadata["many"]:
        return "a list of mappings"
    return "a mapping" + (" or null" if key.default is None else "")


def _default(key: dataclasses.Field) -> str:
    if key.metadata.get("required"):
        return "required"
    if key.default is dataclasses.MISSING:  # a section: its keys' defaults
        return "its defaults"
    return f"`{_yaml(key.default)}`"


def _blanks() -> str:
    """The keys the schema marks `blank`, as paths: `device_id`, `mqtt.host`, ..."""
    names = [f"`{path}.{key.name}`" if path else f"`{key.name}`"
             for path, kind in _sections(Config) for key in keys(kind) if key.metadata.get("blank")]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _row(*cells: str) -> str:
    assert not any("|" in cell for cell in cells), cells  # a | would break the table
    return "| " + " | ".join(cells) + " |"


def render() -> str:
    lines = [
        "# Configuration reference (config.yaml)",
        "",
        f"<!-- Written by `{COMMAND}` from edge_captioner/config/schema.py: edit there, not here. -->",
        "",
        f"Which file: `--config FILE`, else `${CONFIG_ENV}`, else "
        f"{' or '.join(f'`{p}`' for p in DEFAULT_CONFIG_PATHS)} if it exists; with none of them "
        "`run` and `check-config` refuse (exit 2): the built-in demo (the bundled sample clip, a "
        "broker on this machine, no discovery) runs only with `--demo`. `edge-captioner "
        "check-config` prints the configuration as loaded, secrets masked.",
        "",
        f"Given as null, {_blanks()} are not set yet (the example that `install-service` "
        "installs leaves `device_id`, `mqtt.host` and its camera's `source` so, for you to fill "
        "in): the file is refused with one line naming every one of them (exit 2), so that "
        "nothing is published before the board, the broker and a camera are named.",
        "",
        "Unknown keys and wrong values are errors naming the key (exit 2). Relative paths in a file "
        "(`password_file`, the `tls` files, file sources, a bundle directory) are relative to the "
        "file's directory. The MQTT password comes from the environment variable "
        f"`{PASSWORD_ENV}` if it is set, else from `password_file`, else from `password`.",
    ]
    for path, kind in _sections(Config):
        lines += ["", f"## {f'`{path}`' if path else 'Top level'}", "",
                  _row("key", "value", "default", "what it is"), _row("---", "---", "---", "---")]
        lines += [_row(f"`{key.name}`", _value(key), _default(key), key.metadata["doc"])
                  for key in keys(kind)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv:
        Path(argv[0]).write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
