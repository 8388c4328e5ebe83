"""install-service's check that the service can see what it runs: the unit's sandbox hides /home,
/root and /run/user (ProtectHome=) and gives the service a /tmp and /var/tmp of its own
(PrivateTmp=), so an environment there would make a unit that cannot start."""

from __future__ import annotations

import pytest

from edge_captioner.cli.install_service import sandbox_hides, unit_text, why_hidden

UNIT = unit_text("/opt/edge-captioner/venv")


def test_the_shipped_unit_hides_home_and_tmp():
    assert sandbox_hides(UNIT) == {
        "/home": "ProtectHome=yes", "/root": "ProtectHome=yes", "/run/user": "ProtectHome=yes",
        "/tmp": "PrivateTmp=yes", "/var/tmp": "PrivateTmp=yes"}


@pytest.mark.parametrize("path,setting", [
    ("/home/pi/edge-captioner/.venv", "ProtectHome=yes"),
    ("/root/venv", "ProtectHome=yes"),
    ("/run/user/1000/venv", "ProtectHome=yes"),
    ("/tmp/venv", "PrivateTmp=yes"),
    ("/var/tmp/x/venv", "PrivateTmp=yes"),
    ("/tmp", "PrivateTmp=yes"),
])
def test_an_environment_the_sandbox_hides_is_refused_in_one_line(path, setting):
    message = why_hidden({"the virtual environment": path}, sandbox_hides(UNIT))
    assert message is not None and "\n" not in message
    assert path in message and setting in message and "/opt or /srv" in message


@pytest.mark.parametrize("path", ["/opt/edge-captioner/venv", "/srv/ec/venv", "/usr", "/usr/lib/python3.11",
                                  "/homework/venv", "/tmpfs/venv", "/var/lib/ec/venv"])
def test_other_places_are_fine(path):
    assert why_hidden({"the virtual environment": path}, sandbox_hides(UNIT)) is None


def test_the_first_hidden_thing_is_named():
    where = {"the virtual environment": "/opt/ec/venv", "the Python interpreter": "/usr/bin/python3.11",
             "the edge_captioner package": "/home/pi/src/edge_captioner"}
    message = why_hidden(where, sandbox_hides(UNIT))
    assert message is not None and "the edge_captioner package" in message and "/home/pi/src" in message


def test_read_only_home_hides_nothing():
    unit = UNIT.replace("ProtectHome=yes", "ProtectHome=read-only").replace("PrivateTmp=yes", "PrivateTmp=no")
    assert sandbox_hides(unit) == {}
    assert sandbox_hides(UNIT.replace("ProtectHome=yes", "ProtectHome=tmpfs"))["/home"] == "ProtectHome=tmpfs"
