"""The Emscripten file pack of @mediapipe/objectron: offsets read from its JS loader, checked."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversion.pretrained import objectron


def loader(files: list[dict]) -> bytes:
    return b"var Module; loadPackage(" + json.dumps({"files": files}).encode() + b");\n"


def test_the_loader_names_the_offsets():
    js = loader([{"filename": "/a.txt", "start": 0, "end": 3},
                 {"filename": "/deep/b.tflite", "start": 3, "end": 10}])
    assert objectron.pack_index(js) == {"a.txt": (0, 3), "b.tflite": (3, 10)}


@pytest.mark.parametrize("js", [b"no call here", b'loadPackage({"files": 3})',
                                b'loadPackage({"files": [{}]})', b"loadPackage({not json})",
                                b'loadPackage({"files": [{"filename": "/a", "start": 1e999, "end": 2}]})'])
def test_a_loader_in_another_form_is_a_value_error(js):
    with pytest.raises(ValueError):
        objectron.pack_index(js)


def test_offsets_outside_the_pack_or_other_bytes_are_refused():
    labels = "\n".join(["???"] + [f"c{k}" for k in range(23)]).encode()
    pack = labels + b"not the graph"
    js = loader([{"filename": "/" + objectron.LABELMAP_FILE, "start": 0, "end": len(labels)},
                 {"filename": "/x/" + objectron.GRAPH_FILE, "start": len(labels),
                  "end": len(pack) + 1}])
    with pytest.raises(ValueError, match="outside"):
        objectron.unpack(pack, js)
    js = js.replace(str(len(pack) + 1).encode(), str(len(pack)).encode())
    with pytest.raises(ValueError, match="not the pinned graph"):
        objectron.unpack(pack, js)
    with pytest.raises(ValueError, match="has no"):
        objectron.unpack(pack, loader([]))


@given(st.binary(max_size=200))
def test_any_loader_bytes_give_offsets_or_a_value_error(js):
    try:
        index = objectron.pack_index(b"loadPackage(" + js + b")")
    except ValueError:
        return
    assert all(isinstance(a, int) and isinstance(b, int) for a, b in index.values())
