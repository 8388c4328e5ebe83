"""The systemd unit: it parses cleanly (`systemd-analyze verify`) and stays locked down
(`systemd-analyze security` exposure <= 2.0). Both run offline: no running systemd needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.paths import REPO

UNIT = REPO / "systemd" / "edge-captioner.service"
EXEC_START = ("ExecStart=/opt/edge-captioner/venv/bin/edge-captioner run "
              "--config /etc/edge-captioner/config.yaml")
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze not found: install the Debian/Ubuntu package `systemd` "
                    "(apt-get install systemd; scripts/setup.sh does it)")
    return found


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([systemd_analyze(), "--no-pager", *args], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "SYSTEMD_LOG_COLOR": "0"})


def settings(unit_text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in unit_text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_exposure_level_is_at_most_2():
    done = analyze("security", "--offline=true", str(UNIT))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    assert match, f"no exposure line in:\n{done.stdout}\n{done.stderr}"
    assert float(match.group(1)) <= MAX_EXPOSURE, done.stdout


def test_verify_is_clean(tmp_path):
    """`verify` also checks that ExecStart's binary exists, and /opt/edge-captioner is not installed
    here: verify a copy whose ExecStart names an existing binary, everything else unchanged.
    verify exits 0 even for an unknown or misspelt key, so clean means: no output at all."""
    text = UNIT.read_text()
    assert text.count(EXEC_START) == 1
    stand_in = shutil.which("true") or "/bin/true"
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("ExecStart=/opt/edge-captioner/venv/bin/edge-captioner",
                                 f"ExecStart={stand_in}"))
    done = analyze("verify", "--man=no", str(copy))
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).strip() == ""


def test_what_the_daemon_relies_on():
    unit = settings(UNIT.read_text())
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]  # notify.ready()
    assert unit["WatchdogSec"] == ["30"]  # notify.Watchdog pings every 15 s
    assert unit["Restart"] == ["on-failure"] and "2" in unit["RestartPreventExitStatus"][0].split()
    assert "char-video4linux rw" in unit["DeviceAllow"]
    assert "video" in unit["SupplementaryGroups"][0].split()
    assert "ProcSubset" not in unit  # XNNPACK needs /proc/cpuinfo


def test_install_service_writes_a_unit_that_verifies_and_keeps_a_users_config(tmp_path):
    """The documented install path, in a scratch root: the unit runs THIS environment's
    edge-captioner and verifies clean; the example config is written once, never over a user's."""
    import sys

    root = tmp_path / "root"
    command = [sys.executable, "-m", "edge_captioner.cli", "install-service", "--root", str(root)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    unit = root / "etc" / "systemd" / "system" / "edge-captioner.service"
    exe = Path(sys.prefix) / "bin" / "edge-captioner"
    assert f"ExecStart={exe} run --config /etc/edge-captioner/config.yaml" in unit.read_text()
    assert exe.is_file()
    verified = analyze("verify", "--man=no", str(unit))
    assert verified.returncode == 0 and (verified.stdout + verified.stderr).strip() == "", \
        verified.stderr
    config = root / "etc" / "edge-captioner" / "config.yaml"
    assert config.read_text() == (UNIT.parent.parent / "config.yaml").read_text()
    assert config.stat().st_mode & 0o077 == 0  # not world- or group-readable without the group
    config.write_text("device_id: mine\n")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "kept" in done.stdout
    assert config.read_text() == "device_id: mine\n"
    assert "systemctl enable --now edge-captioner" in done.stdout
