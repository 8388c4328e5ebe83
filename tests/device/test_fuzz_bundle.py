"""Untrusted input, fuzzed: bundles (manifest, graphs, vocabulary) and camera frames.

A bundle comes from outside the device (a download, a USB stick, a shared folder), so whatever its
files hold, loading it ends in one of two ways: it loads and captions, or it is refused with
BadInput, one line naming the file at fault (the CLI's exit 2). Never another exception at load or
at the first caption, never a hang, never a crash of the interpreter process. A frame from a
camera is captioned, or refused with preprocessing's documented ValueError ("not an image").

The corrupted graphs get their SHA-256 updated in the manifest, so that the hash check passes and
the TFLite runtime itself faces the garbage. The shapes of the mutations are chosen where the
parsers look: JSON values at every path of the real manifest, and bytes of the graphs' flatbuffer
structure (operators, tensors, options: what the runtime interprets) rather than their weights.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.bundle.choices import BUNDLE_FILES
from edge_captioner.bundle.loader import file_sha256, load_bundle
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner, CaptionResult

pytestmark = pytest.mark.slow

BUNDLE_FILE_NAMES = ("manifest.json", *BUNDLE_FILES)


def fuzz_settings(max_examples: int) -> settings:
    # deadline=None: a load forks a trial child per graph; its time varies with the machine
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Any frame will do for "does a bundle that loaded also caption": a fixed BGR one.
TEST_FRAME = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
                # near-valid values get past the type checks to the checks behind them
                | st.sampled_from([0, 1, 2, 3, -1, 8, 64, 257, 2**63, "", "RGB", "BGR", "uint8",
                                   "float32", "en", "zh", "en\nzh", "image", "center_crop",
                                   [64, 64], [32, 32], [64, 32], [1, 64, 64, 3], [1, 48]]))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

vocabulary_lines = st.text(max_size=20) | st.sampled_from([
    "word\t\u00b2",  # a digit to str.isdigit(), not to int()
    "word\t" + "9" * 5000,  # past Python's int-string limit
    "word\t-1", "word\t1_0", "<pad>\t0", "",
    "# edge-captioner vocabulary v1 language=zh unit=char",
])


@pytest.fixture(scope="module")
def fuzz_bundle(tiny_bundles, tmp_path_factory) -> Path:
    """A private copy of the tiny int8 bundle: each example changes files and puts them back."""
    target = tmp_path_factory.mktemp("fuzz") / "bundle"
    shutil.copytree(tiny_bundles[0], target)
    return target


@pytest.fixture(scope="module")
def tiny_captioner(tiny_bundles) -> Captioner:
    return Captioner(tiny_bundles[0])


@contextmanager
def files_replaced(bundle: Path, contents: dict[str, bytes]) -> Iterator[None]:
    originals = {name: (bundle / name).read_bytes() for name in contents}
    try:
        for name, data in contents.items():
            (bundle / name).write_bytes(data)
        yield
    finally:
        for name, data in originals.items():
            (bundle / name).write_bytes(data)


def loads_and_captions_or_refuses(bundle: Path, blamed: tuple[str, ...]) -> str:
    """The property: load (manifest, hashes, vocabulary, both graphs against the manifest) and
    caption a frame, or BadInput, one line, naming one of the `blamed` files. Returns which."""
    try:
        captioner = Captioner(bundle)
    except BadInput as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1, f"not one line: {message!r}"
        assert str(bundle) in message and any(name in message for name in blamed), message
        return "refused"
    # It loaded, so the mutation must have been harmless: the bundle captions.
    result = captioner.caption(TEST_FRAME)
    assert isinstance(result, CaptionResult) and isinstance(result.text, str) and result.text
    assert 0.0 <= result.confidence <= 1.0
    return "loaded"


# -- 1. the manifest ----------------------------------------------------------------------------

def json_paths(value, prefix: tuple = ()) -> list[tuple]:
    """Every path (dict keys, list indices) to a value nested in `value`, the root excluded."""
    children = (value.items() if isinstance(value, dict)
                else enumerate(value) if isinstance(value, list) else ())
    paths = []
    for key, child in children:
        paths.append((*prefix, key))
        paths.extend(json_paths(child, (*prefix, key)))
    return paths


def mutate(document, action: str, path: tuple, new_value) -> None:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = new_value


@fuzz_settings(100)
@given(document=json_values | st.dictionaries(
    st.sampled_from(["format_version", "name", "language", "decoder_type", "image",
                     "special_tokens", "max_length", "vocab_size", "tensors", "files", "decoder"]),
    json_values))
def test_any_json_manifest_is_refused_in_one_line(fuzz_bundle, document):
    text = json.dumps(document)  # NaN and Infinity too: Python's json reads them back
    with files_replaced(fuzz_bundle, {"manifest.json": text.encode()}):
        outcome = loads_and_captions_or_refuses(fuzz_bundle, ("manifest.json",))
        event(outcome)
        assert outcome == "refused"  # no JSON value holds the files' hashes


@fuzz_settings(150)
@given(data=st.data())
def test_the_real_manifest_with_keys_deleted_or_values_replaced(fuzz_bundle, tiny_bundles,
                                                                  data):
    manifest = json.loads((tiny_bundles[0] / "manifest.json").read_text())
    for _ in range(data.draw(st.integers(1, 2), label="mutations")):
        paths = json_paths(manifest)
        action = data.draw(st.sampled_from(["delete", "replace"]), label="action")
        path = data.draw(st.sampled_from(paths), label="path")
        # a copy: sampled_from hands out the same list objects, which a second mutation would
        # otherwise change for every later example (or make circular)
        value = copy.deepcopy(data.draw(json_values, label="value")) if action == "replace" else None
        mutate(manifest, action, path, value)
    with files_replaced(fuzz_bundle, {"manifest.json": json.dumps(manifest).encode()}):
        # a changed hash blames its file, a changed vocab_size the vocabulary, a changed tensor
        # entry the graph that does not match it: any of the bundle's files
        event(loads_and_captions_or_refuses(fuzz_bundle, BUNDLE_FILE_NAMES))


@fuzz_settings(100)
@given(data=st.data())
def test_manifest_bytes_that_are_not_json(fuzz_bundle, tiny_bundles, data):
    real = (tiny_bundles[0] / "manifest.json").read_bytes()
    kind = data.draw(st.sampled_from(["bytes", "truncated", "invalid utf-8", "deep", "big int"]))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=300))
    elif kind == "truncated":
        raw = real[: data.draw(st.integers(0, len(real) - 1))]
    elif kind == "invalid utf-8":
        at = data.draw(st.integers(0, len(real)))
        raw = real[:at] + data.draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])) + real[at:]
    elif kind == "deep":  # json's parser recurses per level: RecursionError, not JSONDecodeError
        depth = data.draw(st.integers(1, 200_000))
        raw = b"[" * depth + b"]" * depth
    else:  # past Python's int-string limit: a ValueError that is not a JSONDecodeError
        raw = b'{"format_version": ' + b"9" * data.draw(st.integers(1, 10_000)) + b"}"
    with files_replaced(fuzz_bundle, {"manifest.json": raw}):
        # a prefix that drops only the final newline is the intact manifest
        event(loads_and_captions_or_refuses(fuzz_bundle, ("manifest.json",)))


# -- 2. the graphs and the vocabulary ----------------------------------------------------------

def flatbuffer_structure_offsets(model: bytes) -> np.ndarray:
    """Offsets of the bytes the runtime interprets (tables, vectors, strings, options): all but
    the weight buffers, which are 90 % of a graph and any value of which is a valid weight."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    structure = np.ones(len(model), bool)
    for k in range(root.BuffersLength()):
        table = root.Buffers(k)._tab
        field = table.Offset(4)  # Buffer.data
        if field:
            start = table.Vector(field)
            structure[start: start + root.Buffers(k).DataLength()] = False
    return np.flatnonzero(structure)


@fuzz_settings(150)
@given(data=st.data())
def test_corrupt_graphs_and_vocabulary_with_matching_hashes(fuzz_bundle, tiny_bundles, data):
    name = data.draw(st.sampled_from(BUNDLE_FILES), label="file")
    real = (tiny_bundles[0] / name).read_bytes()
    kinds = ["bytes", "truncated", "flipped"] + (["structure"] if name.endswith(".tflite")
                                                 else ["line"])
    kind = data.draw(st.sampled_from(kinds), label="corruption")
    if kind == "bytes":
        corrupt = data.draw(st.binary(max_size=2048))
    elif kind == "truncated":
        corrupt = real[: data.draw(st.integers(0, len(real) - 1))]
    elif kind == "line":  # the vocabulary's own format: a line replaced by arbitrary text
        lines = real.decode().splitlines()
        lines[data.draw(st.integers(0, len(lines) - 1))] = data.draw(vocabulary_lines)
        corrupt = ("\n".join(lines) + "\n").encode()
    else:
        positions = (flatbuffer_structure_offsets(real) if kind == "structure"
                     else np.arange(len(real)))
        changed = bytearray(real)
        for _ in range(data.draw(st.integers(1, 4))):
            at = int(positions[data.draw(st.integers(0, len(positions) - 1))])
            changed[at] = data.draw(st.sampled_from([changed[at] ^ 1, changed[at] ^ 0x80, 0, 0xFF,
                                                     data.draw(st.integers(0, 255))]))
        corrupt = bytes(changed)
    manifest = json.loads((tiny_bundles[0] / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(corrupt).hexdigest()
    with files_replaced(fuzz_bundle, {name: corrupt, "manifest.json": json.dumps(manifest).encode()}):
        event(loads_and_captions_or_refuses(fuzz_bundle, (name,)))


def flip_bit(data: bytes, offset: int) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 1
    return bytes(changed)


def with_vocabulary_line(line: str, counted: bool = False):
    """A change that appends a line to the vocabulary (and, if counted, to vocab_size)."""
    def change(manifest: dict, files: dict) -> None:
        files["vocab.txt"] = files["vocab.txt"] + line.encode() + b"\n"
        manifest["vocab_size"] += counted
    return change


# Found by the fuzzers above, each once, so that they stay fixed whatever a run draws. Each used
# to end in another exception at load, or in a ValueError at the first frame.
KNOWN_BAD_BUNDLES = {
    "a language with a newline (a two-line message)": lambda m, f: m.update(language="en\nzh"),
    "an image size the encoder does not take": lambda m, f: m["image"].update(size=[32, 32]),
    "a non-square image size": lambda m, f: m["image"].update(size=[64, 32]),
    "a graph's tensors as a list": lambda m, f: m["tensors"].update(decoder=[]),
    "a tensor entry as a number": lambda m, f: m["tensors"]["encoder"]["outputs"].update(h0=1),
    "a tensor shape as a string": lambda m, f: m["tensors"]["decoder"]["inputs"]["h"].update(
        shape="1x48"),
    "a vocabulary count str.isdigit() takes and int() refuses": with_vocabulary_line("zebra\t\u00b2"),
    "a vocabulary count past the int-string limit": with_vocabulary_line("zebra\t" + "9" * 5000),
    "a vocabulary and vocab_size one token wider than the decoder": with_vocabulary_line(
        "zebra\t1", counted=True),
    # one bit of the committed tiny decoder's flatbuffer (tests/data/bundles/tiny-int8): the graph
    # loads and runs, and an output is left without data ("Tensor data is null" at the first frame)
    "a decoder that runs and leaves an output without data": lambda m, f: f.update(
        {"decoder.tflite": flip_bit(f["decoder.tflite"], 22936)}),
}


@pytest.mark.parametrize("defect", sorted(KNOWN_BAD_BUNDLES))
def test_bundles_the_fuzzers_found_are_refused_in_one_line(fuzz_bundle, tiny_bundles, defect):
    manifest = json.loads((tiny_bundles[0] / "manifest.json").read_text())
    files = {name: (tiny_bundles[0] / name).read_bytes() for name in BUNDLE_FILES}
    KNOWN_BAD_BUNDLES[defect](manifest, files)
    manifest["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    with files_replaced(fuzz_bundle, {**files, "manifest.json": json.dumps(manifest).encode()}):
        assert loads_and_captions_or_refuses(fuzz_bundle, BUNDLE_FILE_NAMES) == "refused"


def test_a_manifest_that_is_a_fifo_is_refused_not_waited_on(tiny_bundles, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundles[0], bundle)
    (bundle / "manifest.json").unlink()
    os.mkfifo(bundle / "manifest.json")  # reading it would block until a writer comes
    with pytest.raises(BadInput, match=r"manifest.json: not a regular file$"):
        load_bundle(bundle)


def with_split_count(model: bytes, num_splits: int) -> bytes:
    """The graph with its SPLIT op's num_splits option overwritten in place."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    graph = root.Subgraphs(0)
    for k in range(graph.OperatorsLength()):
        operator = graph.Operators(k)
        code = root.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == schema.BuiltinOperator.SPLIT:
            options = operator.BuiltinOptions()
            field = options.Offset(4)  # SplitOptions.num_splits
            assert field, "num_splits is stored"
            patched = bytearray(model)
            struct.pack_into("<i", patched, options.Pos + field, num_splits)
            return bytes(patched)
    pytest.skip("the tiny decoder has no SPLIT op")


def with_last_operator_duplicated(model: bytes) -> bytes:
    """The graph with its last operator replaced by a copy of the one before: one tensor written
    twice, and a graph output nobody writes."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    operators = tree.subgraphs[0].operators
    operators[-1] = copy.deepcopy(operators[-2])
    builder = flatbuffers.Builder(len(model))
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# Graphs, found by the fuzzer above, that killed the process loading them: the XNNPACK delegate
# trusts a SPLIT op's num_splits (SIGSEGV) and a graph's operators to write distinct tensors (a
# double free, SIGABRT). interpreters.Graph now tries each graph in a child process first.
CRASHING_GRAPHS = {
    "split count 0": ("decoder.tflite", lambda model: with_split_count(model, 0)),
    "split count 3407876": ("decoder.tflite", lambda model: with_split_count(model, 3407876)),
    "operator duplicated": ("encoder.tflite", with_last_operator_duplicated),
}


@pytest.mark.parametrize("defect", sorted(CRASHING_GRAPHS))
def test_a_graph_that_crashes_the_runtime_is_refused_in_one_line(tiny_bundles, tmp_path, defect):
    """Through the CLI in a child process: a regression is then a failed test showing the exit
    status, not a dead test session."""
    name, corrupt = CRASHING_GRAPHS[defect]
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundles[0], bundle)
    graph = bundle / name
    graph.write_bytes(corrupt(graph.read_bytes()))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = file_sha256(graph)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), TEST_FRAME)
    done = subprocess.run([sys.executable, "-m", "edge_captioner", "caption", "--bundle",
                           str(bundle), str(image)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    errors = [line for line in done.stderr.splitlines() if name in line]
    assert len(errors) == 1 and "not a valid TFLite model" in errors[0], done.stderr[-2000:]


def test_the_fuzzed_copy_is_intact_afterwards(fuzz_bundle):
    """Every example put the files back: the copy still loads with its own hashes."""
    assert load_bundle(fuzz_bundle).name


# -- 3. frames end to end ----------------------------------------------------------------------

@st.composite
def camera_frames(draw) -> np.ndarray:
    """Frames prepare_image documents: gray (H,W), (H,W,1), BGR, BGRA; uint8, uint16 or float
    (NaN and infinities included); absurd sizes (1x1, 1xN, Nx1) and non-contiguous views."""
    height, width = draw(st.one_of(
        st.tuples(st.integers(1, 48), st.integers(1, 48)),
        st.tuples(st.just(1), st.integers(1, 5000)),
        st.tuples(st.integers(1, 5000), st.just(1)),
    ))
    channels = draw(st.sampled_from([(), (1,), (3,), (4,)]))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float16, np.float32, np.float64]))
    shape = (height, width, *channels)
    if height * width <= 256 and draw(st.booleans()):  # small: hypothesis picks every value
        elements = (st.floats(width=np.dtype(dtype).itemsize * 8) if np.dtype(dtype).kind == "f"
                    else None)
        frame = draw(arrays(dtype, shape, elements=elements))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        if np.dtype(dtype).kind == "f":
            scale = draw(st.sampled_from([1.0, 255.0, 1e6]))
            with np.errstate(over="ignore"):  # 1e6 in float16 is inf: one more special value
                frame = (rng.random(shape) * scale).astype(dtype)
            special = draw(st.sampled_from([None, np.nan, np.inf, -np.inf, -1.0]))
            if special is not None:
                frame.flat[rng.integers(0, frame.size, size=3)] = special
        else:
            frame = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    view = draw(st.sampled_from(["as is", "mirrored", "every other column"]))
    if view == "mirrored":
        frame = frame[::-1, ::-1]
    elif view == "every other column" and width > 1:
        frame = frame[:, ::2]
    return frame


@fuzz_settings(120)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. NaN cast to uint8: undefined pixels
@given(frame=camera_frames())
def test_any_documented_frame_is_captioned(tiny_captioner, frame):
    result = tiny_captioner.caption(frame)
    assert isinstance(result.text, str) and result.text
    assert 0.0 <= result.confidence <= 1.0


@fuzz_settings(60)
@given(frame=st.one_of(
    # no pixels, or not (H,W[,C]) with C in 1, 3, 4
    arrays(np.uint8, st.sampled_from([(0, 5), (5, 0), (0, 0, 3), (4, 0, 3), (), (7,),
                                      (1, 4, 5, 3), (4, 5, 2), (4, 5, 5)])),
    # pixels preprocessing does not define: they would wrap around or not convert at all
    arrays(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64,
                            np.bool_, np.complex64]),
           st.tuples(st.integers(1, 8), st.integers(1, 8), st.sampled_from([1, 3, 4]))),
    st.sampled_from([None, [[0, 255], [255, 0]], "frame.jpg"]),
))
def test_frames_preprocessing_refuses_are_refused_as_documented(tiny_captioner, frame):
    with pytest.raises(ValueError, match=r"^not an image: "):
        tiny_captioner.caption(frame)


def test_an_8k_frame_is_captioned(tiny_captioner):
    frame = np.random.default_rng(8).integers(0, 256, (4320, 7680, 3), dtype=np.uint8)
    result = tiny_captioner.caption(frame)
    assert result.text and 0.0 <= result.confidence <= 1.0
