"""Failures that must be exit 2 with one line (issue 21, item 4): a missing workstation extra, a
bundle the service's user may not read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_captioner.bundle.loader import load_bundle
from support.paths import REPO as ROOT


def test_a_workstation_command_without_the_convert_extra_says_what_to_install(tmp_path):
    # TensorFlow and Keras made unimportable, as on a device that installed the package alone
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "from conversion.cli import main\n"
            f"raise SystemExit(main(['train-grounded', {str(tmp_path / 'out')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "install edge-captioner[convert]" in lines[0], done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root (and setpriv) to take away root's read-anything rights")
def test_a_bundle_the_service_user_cannot_read_is_exit_2(tmp_path):
    """As the service's user would see it: the file is there, unreadable. Root reads anything,
    so the command runs as root without the capabilities that let it (setpriv)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(load_bundle("default-en").path, bundle)
    (bundle / "decoder.tflite").chmod(0o000)
    image = tmp_path / "black.png"
    image.write_bytes(_png())
    done = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--",
                           sys.executable, "-m", "edge_captioner.cli", "caption", "--bundle",
                           str(bundle), str(image)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "decoder.tflite: cannot read: Permission denied" in lines[0], \
        done.stderr


def _png() -> bytes:
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))[1].tobytes()


def test_check_config_loads_the_bundle_as_run_would(tmp_path):
    """A bundle whose graph was replaced passes the configuration's own checks; check-config
    loads it as `run` does and says what `run` would say."""
    import yaml

    bundle = tmp_path / "bundle"
    shutil.copytree(load_bundle("default-en").path, bundle)
    graph = bundle / "detector.tflite"
    graph.write_bytes(graph.read_bytes()[:1000])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"device_id": "house", "model": {"bundle": str(bundle)},
                                      "cameras": [{"name": "door", "source": "sample"}]}))
    for command in ("check-config", "run"):
        done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", command, "--config",
                               str(config)], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 2, (command, done.stderr)
        assert "detector.tflite: SHA-256 does not match" in done.stderr.strip().splitlines()[-1]


def test_quiet_by_default_and_v_in_either_position(tmp_path):
    """A bad file: its one error line and nothing else (no runtime banner, no summary); -v
    before or after the sub-command gives the info lines."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    good = tmp_path / "black.png"
    good.write_bytes(_png())
    cli = [sys.executable, "-m", "edge_captioner.cli"]
    done = subprocess.run([*cli, "caption", str(bad), str(good)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"edge-captioner: error: {bad}: not a readable image (the decoder cannot read it)"]
    assert done.stdout.splitlines() == [f"{good}: no one in view"]
    for args in (["-v", "caption", str(good)], ["caption", "-v", str(good)]):
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0 and "INFO edge_captioner.model.captioner: bundle default-en" in \
            done.stderr, (args, done.stderr)


@pytest.mark.parametrize("change, says", [
    (lambda c: c.update(caption="a cat"), "captions self_check.jpg 'a person', not 'a cat'"),
    (lambda c: c["objects"][0].update(score=c["objects"][0]["score"] - 0.3), "finds no person"),
])
def test_a_runtime_that_computes_wrongly_is_refused_at_load(tmp_path, change, says):
    """The bundle says what this machine must make of its self-check image; a runtime that makes
    something else (as ai-edge-litert 2.3 does under an emulated SME CPU) is exit 2, one line,
    before anything runs. Changing the expectation is the same test from the other side."""
    import json

    bundle = tmp_path / "bundle"
    shutil.copytree(load_bundle("default-en").path, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest["self_check"])
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, "-m", "edge_captioner.cli", "check-config", "--config",
                           _config(tmp_path, bundle)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "self-check failed" in lines[0] and says in lines[0], lines
    assert "computes wrongly on this CPU" in lines[0]


def test_the_shipped_bundles_pass_their_self_check():
    from edge_captioner.model.captioner import Captioner

    for name in ("default-en", "default-zh"):
        check = load_bundle(name).manifest.self_check
        assert check.objects and check.image in load_bundle(name).manifest.files
        Captioner(name)  # raises BadInput if this machine does not reproduce it


def _config(tmp_path: Path, bundle: Path) -> str:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"device_id": "house", "model": {"bundle": str(bundle)},
                                    "cameras": [{"name": "door", "source": "sample"}]}))
    return str(path)


def test_a_runtime_that_runs_no_graph_is_told_apart_from_a_broken_bundle(tmp_path, monkeypatch):
    """A graph that fails its trial is the bundle's fault while the runtime runs its own test
    graph; where that fails too (here: the test graph itself made unrunnable, standing in for a
    runtime that crashes on every graph), the line blames the runtime or the CPU."""
    from edge_captioner.errors import BadInput
    from edge_captioner.model import runtime as interpreters

    broken = tmp_path / "broken.tflite"
    good = interpreters.KNOWN_GOOD_GRAPH.read_bytes()
    broken.write_bytes(good[:200])  # a truncated flatbuffer: no runtime loads it
    runtime = interpreters.pick_runtime("auto")
    monkeypatch.setattr(interpreters, "_runtime_failure", {})
    with pytest.raises(BadInput, match="broken.tflite: not a valid TFLite model"):
        interpreters.Graph(runtime, broken, {})
    monkeypatch.setattr(interpreters, "_runtime_failure", {})
    monkeypatch.setattr(interpreters, "KNOWN_GOOD_GRAPH", broken)
    with pytest.raises(BadInput, match=r"fails on its own test graph too .* not the bundle"):
        interpreters.Graph(runtime, broken, {})


def test_a_caption_cut_at_the_length_limit_says_so():
    from conversion.pretrained import photos
    from edge_captioner.model.captioner import Captioner

    frame = photos.load_photo("astronaut")
    cut = Captioner("render-en", max_length=4).caption(frame)  # its captions run ~15 words
    assert cut.truncated and len(cut.tokens) == 3
    assert not Captioner("render-en").caption(frame).truncated
    assert not Captioner("default-en").caption(frame).truncated
