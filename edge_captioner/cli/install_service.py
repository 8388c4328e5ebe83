"""`edge-captioner install-service [--root DIR]`: install the systemd service from this install.

On a Raspberry Pi (or any systemd machine), as root, after the package is in a virtual
environment: writes /etc/systemd/system/edge-captioner.service with ExecStart pointing at THIS
environment's `edge-captioner`, /etc/edge-captioner/config.yaml (the commented example, only if
there is none: a user's file is never overwritten) readable by the service's group only, and
creates the `edge-captioner` system user. It then says what to edit and which two commands start
the service. `--root DIR` writes the same files under DIR (a scratch root, for a look or a test)
and leaves users alone.

The unit and the example configuration are the repository's own files (systemd/, config.yaml),
installed with the package as data (setup.cfg `data_files`), or read from the checkout of an
editable install.

What the service runs must be visible inside its sandbox: the unit's ProtectHome= hides /home,
/root and /run/user, and PrivateTmp= gives it a /tmp and /var/tmp of its own. An environment there
(a developer's `~/edge-captioner/.venv`, a pyenv interpreter under /root, an editable install of a
checkout in a home directory, anything in /tmp) would make a unit that cannot start (203/EXEC), so
install-service refuses it (exit 2, one line) rather than open the sandbox for it: see
systemd/README.md "Where the environment lives".
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import EXIT_OK, BadInput

USER = "edge-captioner"
UNIT_NAME = "edge-captioner.service"
PLACEHOLDER_PREFIX = "/opt/edge-captioner/venv"  # what the repository's unit says


def _shipped(name: str, in_checkout: str) -> Path:
    for path in (Path(sys.prefix) / "share" / "edge-captioner" / name,
                 Path(__file__).resolve().parents[2] / in_checkout):
        if path.is_file():
            return path
    raise BadInput(f"{name}: not found with this install (reinstall edge-captioner)")


def unit_text(prefix: str) -> str:
    """The repository's unit, its ExecStart pointing at the environment under `prefix`."""
    text = _shipped(UNIT_NAME, f"systemd/{UNIT_NAME}").read_text(encoding="utf-8")
    return text.replace(PLACEHOLDER_PREFIX, prefix)


# What each hiding setting hides (systemd.exec(5)); ProtectHome=read-only hides nothing.
HIDDEN_BY = {
    "ProtectHome": {"yes": ("/home", "/root", "/run/user"), "tmpfs": ("/home", "/root", "/run/user")},
    "PrivateTmp": {"yes": ("/tmp", "/var/tmp"), "disconnected": ("/tmp", "/var/tmp")},
}
# what to do instead, for each thing the service must see
ADVICE = {
    "the virtual environment": "make it under /opt or /srv (sudo python3 -m venv "
                               "/opt/edge-captioner/venv, systemd/README.md)",
    "the Python interpreter": "make the virtual environment under /opt or /srv with the system's "
                              "python3 (sudo /usr/bin/python3 -m venv /opt/edge-captioner/venv)",
    "the edge_captioner package": "install it, not as an editable (-e) install of a checkout "
                                  "there, into a virtual environment under /opt or /srv",
}


def sandbox_hides(unit: str) -> dict[str, str]:
    """{directory: the setting that hides it} under the unit's sandbox (its last value wins, as
    in systemd)."""
    values: dict[str, str] = {}
    for line in unit.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in HIDDEN_BY:
            values[key.strip()] = value.strip().lower()
    hidden: dict[str, str] = {}
    for key, value in values.items():
        value = {"true": "yes", "on": "yes", "1": "yes"}.get(value, value)
        for directory in HIDDEN_BY[key].get(value, ()):
            hidden[directory] = f"{key}={value}"
    return hidden


def why_hidden(where: Mapping[str, str] | Iterable[tuple[str, str]],
               hides: dict[str, str]) -> str | None:
    """One line naming the first of `where` ((what, path) pairs) that lies in a directory of
    `hides`, and what to do instead; None when the service sees them all."""
    for what, path in where.items() if isinstance(where, Mapping) else where:
        for directory, setting in hides.items():
            if path == directory or path.startswith(directory.rstrip("/") + "/"):
                return (f"{what} {path} is under {directory}, which the service's sandbox hides "
                        f"({setting}): the unit could not start; "
                        f"{ADVICE.get(what, 'install under /opt or /srv')}")
    return None


def what_the_service_runs() -> list[tuple[str, str]]:
    """The paths the unit's ExecStart needs, each as given and resolved (a symlink into /home is
    as hidden as /home): the environment (its edge-captioner script), the interpreter its python
    links to and its standard library, and the package's code (a checkout, if editable)."""
    import edge_captioner

    found = [("the virtual environment", sys.prefix),
             ("the Python interpreter", sys.executable),
             ("the Python interpreter", sys.base_prefix),
             ("the edge_captioner package", str(Path(edge_captioner.__file__).parent))]
    return [(what, form) for what, path in found
            for form in dict.fromkeys((os.path.abspath(path), os.path.realpath(path)))]


def hidden_from_the_service(unit: str | None = None) -> str | None:
    """Why the unit written for this environment could not start, or None."""
    return why_hidden(what_the_service_runs(), sandbox_hides(unit or unit_text(sys.prefix)))


def install(root: Path, prefix: str, create_user: bool) -> list[str]:
    """Write the files (and the user); returns what was done, one line each."""
    done = []
    unit = root / "etc" / "systemd" / "system" / UNIT_NAME
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(unit_text(prefix), encoding="utf-8")
    unit.chmod(0o644)
    done.append(f"wrote {unit} (ExecStart: {prefix}/bin/edge-captioner)")
    if create_user:
        try:
            pwd.getpwnam(USER)
            done.append(f"user {USER} exists")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", USER], check=True)
            done.append(f"created the system user {USER}")
    config_dir = root / "etc" / "edge-captioner"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "config.yaml"
    if config.exists():
        done.append(f"kept {config} (it exists)")
    else:
        shutil.copyfile(_shipped("config.yaml", "config.yaml"), config)
        done.append(f"wrote {config} (the commented example)")
    try:  # readable by the service's group only: it may hold the broker's details
        gid = grp.getgrnam(USER).gr_gid
        os.chown(config_dir, 0, gid)
        os.chown(config, 0, gid)
        config_dir.chmod(0o750)
        config.chmod(0o640)
    except (KeyError, PermissionError):
        config.chmod(0o600)  # no such group here (a scratch root): root's alone
    return done


def cmd_install_service(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else Path("/")
    system = root == Path("/")
    hidden = hidden_from_the_service()
    if hidden and system:  # first: as root it would still not start
        raise BadInput(hidden)
    if hidden:  # a look at the files, not an install: write them, and say what is wrong
        print(f"edge-captioner: warning: {hidden}", file=sys.stderr)
    if system and os.geteuid() != 0:
        raise BadInput("install-service writes /etc and creates a system user: run it as root "
                       f"(sudo {sys.argv[0]} install-service)")
    if not shutil.which("useradd") and system:
        raise BadInput("useradd not found: install-service needs a system with shadow-utils")
    for line in install(root, sys.prefix, create_user=system):
        print(line)
    config = root / "etc" / "edge-captioner" / "config.yaml"
    exe = Path(sys.prefix) / "bin" / "edge-captioner"
    print(f"next: in {config}, set the values marked SET (device_id, mqtt.host, the camera's "
          "source; until then the service refuses to start) and each camera's place,")
    print(f"  check it as the service will read it: sudo -u {USER} {exe} check-config "
          f"--config /etc/edge-captioner/config.yaml")
    print("  then: sudo systemctl daemon-reload && sudo systemctl enable --now edge-captioner")
    return EXIT_OK
