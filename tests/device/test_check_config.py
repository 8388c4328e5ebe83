"""`edge-captioner check-config` as a user runs it: the resolved configuration, the built-in demo
(only with --demo), no file or the unfilled example as exit 2, a bad file as exit 2 with one line,
and secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_captioner.config import CONFIG_ENV, PASSWORD_ENV, load_config, to_dict
from support.config_files import BASE, SECRET, patched, write
from support.paths import REPO


def run_cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, PASSWORD_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "edge_captioner.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


def test_bad_file_through_the_cli_is_exit_2_and_one_line(tmp_path):
    path = write(tmp_path, patched(**{"cameras.0.interval_s": "fast"}))
    done = run_cli("check-config", "--config", path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cameras[0].interval_s: expected a number > 0, got 'fast'" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("changes, expected", [
    ({"cameras.0.zones": {"door": [[0.1, 0.5], [0.9, 0.5], [0.5, 1.2]]}},
     "cameras[0].zones.door[2]: expected [x, y], two numbers 0..1"),
    ({"cameras.0.source": "frigate:porch", "cameras.0.events": {"enabled": True}},
     "cameras[0].events.enabled: true is not possible here: Frigate tracks"),
])
def test_bad_zones_and_events_through_the_cli_are_exit_2_and_one_line(tmp_path, changes,
                                                                       expected):
    done = run_cli("check-config", "--config", write(tmp_path, patched(**changes)))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr


def test_check_config_prints_the_resolved_configuration(tmp_path):
    path = write(tmp_path, BASE)
    done = run_cli("check-config", "--config", path)
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    assert first.startswith("#") and str(path) in first
    printed = yaml.safe_load(rest)
    assert printed["mqtt"]["client_id"] == "edge-captioner-test-house"
    assert printed == to_dict(load_config(path))


def no_etc_config():
    if Path("/etc/edge-captioner/config.yaml").exists():
        pytest.skip("this machine has /etc/edge-captioner/config.yaml: the subprocess would read it")


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_without_a_configuration_file_nothing_runs(command):
    """No file: not the demo on whatever broker listens on 1883, but one line saying what to give."""
    no_etc_config()
    done = run_cli(command)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no configuration" in lines[0] and "--config" in lines[0] and "--demo" in lines[0]


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_the_shipped_example_refuses_until_broker_and_camera_are_set(command):
    """config.yaml is what install-service installs: `run` (the service's ExecStart) and
    `check-config` refuse it alike, one line naming the keys, before loading any model."""
    done = run_cli(command, "--config", REPO / "config.yaml")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "device_id, mqtt.host, cameras[0].source: not set" in lines[0]


def test_the_demo_is_asked_for():
    done = run_cli("check-config", "--demo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# edge-captioner built-in demo configuration (--demo)")
    printed = yaml.safe_load(done.stdout)
    assert printed["device_id"] == "edge-captioner-demo"
    assert printed["mqtt"]["discovery"]["enabled"] is False
    assert printed["cameras"][0]["source"] == "sample"
    done = run_cli("check-config", "--demo", "--config", REPO / "config.yaml")
    assert done.returncode == 2 and "not allowed with" in done.stderr


@pytest.mark.parametrize("where", ["yaml", "file", "env"])
def test_secret_is_never_shown(tmp_path, monkeypatch, where):
    changes, env = {}, {}
    if where == "yaml":
        changes["mqtt.password"] = SECRET
    elif where == "file":
        (tmp_path / "pw").write_text(SECRET + "\n")
        changes["mqtt.password_file"] = "pw"
    else:
        env[PASSWORD_ENV] = SECRET
        monkeypatch.setenv(PASSWORD_ENV, SECRET)
    path = write(tmp_path, patched(**changes))
    config = load_config(path)
    assert config.mqtt.password == SECRET
    masked = to_dict(config, masked=True)
    assert masked["mqtt"]["password"] == "***"
    assert SECRET not in yaml.safe_dump(masked) and SECRET not in repr(config)
    done = run_cli("-v", "-v", "check-config", "--config", path, env_extra=env)
    assert done.returncode == 0, done.stderr
    assert "password: '***'" in done.stdout
    assert SECRET not in done.stdout and SECRET not in done.stderr


@pytest.mark.parametrize("text", [
    f"device_id: x\nmqtt:\n  username: u\n  password: \"{SECRET}\n",  # unterminated quote
    f"device_id: x\nmqtt:\n  username: u\n  password: [{SECRET}]\ncameras: [{{name: a, source: 0}}]\n",
    "device_id: x\nmqtt:\n  username: u\n  password: 987654321\ncameras: [{name: a, source: 0}]\n",
])
def test_errors_do_not_echo_the_secret(tmp_path, text):
    path = write(tmp_path, text)
    done = run_cli("check-config", "--config", path)
    assert done.returncode == 2
    assert SECRET not in done.stderr and "987654321" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
