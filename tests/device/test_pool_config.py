"""A pool's configuration through `edge-captioner check-config`: a bad one is exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import yaml

from support.paths import REPO as ROOT

CAMERA = {"name": "a", "source": "mqtt:cams/a"}


def test_a_bad_pool_configuration_is_exit_2_with_one_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"device_id": "house", "workers": {"group": "g"},
                                    "cameras": [CAMERA]}))
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "check-config", "--config",
                           str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'edge-captioner: error: {path}: workers: needs mqtt.protocol "5" (sessions that outlive a crash)']
