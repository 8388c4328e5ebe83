"""Which TFLite runtime and numpy an install picks on each board (issue 21, item 3): the
requirements' environment markers, evaluated as pip evaluates them."""

from __future__ import annotations

import configparser

import pytest
from packaging.requirements import Requirement

from support.paths import REPO

SETUP_CFG = REPO / "setup.cfg"


def requirements_for(machine: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    lines = [x.strip() for x in parser["options"]["install_requires"].splitlines()]
    env = {"platform_machine": machine, "platform_system": "Linux", "sys_platform": "linux",
           "python_version": "3.11"}
    picked = {}
    for line in lines:
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(env):
            picked[requirement.name] = str(requirement.specifier)
    return picked


def test_32_bit_raspberry_pi_os_gets_tflite_runtime_and_numpy_below_2():
    picked = requirements_for("armv7l")
    assert "ai-edge-litert" not in picked and "tflite-runtime" in picked
    assert "<2" in picked["numpy"]


@pytest.mark.parametrize("machine", ["aarch64", "x86_64"])
def test_64_bit_boards_get_ai_edge_litert_and_any_numpy(machine):
    picked = requirements_for(machine)
    assert "ai-edge-litert" in picked and "tflite-runtime" not in picked
    assert "<2" not in picked["numpy"]
