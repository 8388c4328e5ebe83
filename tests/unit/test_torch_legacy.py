"""conversion.pretrained.torch_legacy: a legacy torch.save file read without torch, and refused
when malformed or when it names any global outside a state dict's vocabulary.

The test files are written here, opcode by opcode, the way torch's legacy `_save` lays them out
(torch is not imported: the workstation toolkit does not depend on it).
"""

from __future__ import annotations

import builtins
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion.pretrained.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION, load_state_dict

SYS_INFO = {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
DTYPES = {"FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "LongStorage": "<i8",
          "BFloat16Storage": "<u2"}


# -- a tiny protocol-2 pickle writer ----------------------------------------------------------------

def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _int(value: int) -> bytes:
    return b"J" + value.to_bytes(4, "little", signed=True)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _tensor(kind: str, key: str, numel: int, offset: int, size, stride) -> bytes:
    """_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks)"""
    pid = _tuple(_str("storage"), _global("torch", kind), _str(key), _str("cpu"), _int(numel), b"N")
    args = _tuple(pid + b"Q", _int(offset), _tuple(*map(_int, size)), _tuple(*map(_int, stride)),
                  b"\x89", _global("collections", "OrderedDict") + b")R")
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def _state_dict_pickle(tensors: dict[str, bytes]) -> bytes:
    items = b"".join(_str(name) + tensor for name, tensor in tensors.items())
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + items + b"u."


def legacy_file(tensors: dict[str, tuple], storages: dict[str, tuple[str, np.ndarray]],
                state_pickle: bytes | None = None) -> bytes:
    """tensors: name -> (storage key, offset, size, stride); storages: key -> (class, 1-D data)."""
    encoded = {name: _tensor(storages[key][0], key, len(storages[key][1]), offset, size, stride)
               for name, (key, offset, size, stride) in tensors.items()}
    keys = sorted(storages)
    out = [pickle.dumps(MAGIC_NUMBER, protocol=2), pickle.dumps(PROTOCOL_VERSION, protocol=2),
           pickle.dumps(SYS_INFO, protocol=2),
           state_pickle if state_pickle is not None else _state_dict_pickle(encoded),
           pickle.dumps(keys, protocol=2)]
    for key in keys:
        kind, data = storages[key]
        out.append(len(data).to_bytes(8, "little") + np.asarray(data, DTYPES[kind]).tobytes())
    return b"".join(out)


WEIGHT = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7 - 1
SHARED = np.linspace(-2, 2, 10).astype(np.float32)
STORAGES = {
    "0": ("FloatStorage", WEIGHT.ravel()),
    "1": ("FloatStorage", SHARED),
    "2": ("LongStorage", np.array([123456789012])),
    "3": ("HalfStorage", np.array([0.5, -1.25, 3.0])),
    "4": ("DoubleStorage", np.array([1e-3, 2.5])),
    "5": ("BFloat16Storage", np.array([0x3FC0, 0xC020])),  # 1.5, -2.5
}
TENSORS = {
    "conv.weight": ("0", 0, (2, 3, 2, 2), (12, 4, 2, 1)),
    "conv.weight_t": ("0", 0, (2, 2, 3, 2), (1, 2, 4, 12)),  # a permuted, non-contiguous view
    "bn.bias": ("1", 4, (3,), (1,)),  # an offset into a storage another tensor shares
    "bn.every_other": ("1", 1, (4,), (2,)),
    "bn.num_batches_tracked": ("2", 0, (), ()),
    "half": ("3", 0, (3,), (1,)),
    "double": ("4", 0, (2,), (1,)),
    "bfloat16": ("5", 1, (), ()),
}
VALID = legacy_file(TENSORS, STORAGES)
# where storage "0" (24 float32) starts: its 8-byte element count
STORAGE_DATA = len(VALID) - sum(8 + len(d) * np.dtype(DTYPES[k]).itemsize for k, d in STORAGES.values())


def test_round_trip():
    state = load_state_dict(VALID)
    assert list(state) == list(TENSORS)
    np.testing.assert_array_equal(state["conv.weight"], WEIGHT)
    np.testing.assert_array_equal(state["conv.weight_t"], WEIGHT.transpose(3, 2, 1, 0))
    np.testing.assert_array_equal(state["bn.bias"], SHARED[4:7])
    np.testing.assert_array_equal(state["bn.every_other"], SHARED[1:9:2])
    assert state["bn.num_batches_tracked"].dtype == np.int64
    assert state["bn.num_batches_tracked"].shape == () and state["bn.num_batches_tracked"] == 123456789012
    np.testing.assert_array_equal(state["half"], [0.5, -1.25, 3.0])
    np.testing.assert_allclose(state["double"], [1e-3, 2.5], rtol=1e-7)
    assert state["bfloat16"].shape == () and state["bfloat16"] == -2.5
    for name in ("conv.weight", "half", "double", "bfloat16"):
        assert state[name].dtype == np.float32
    for value in state.values():
        assert value.flags.owndata and value.flags.c_contiguous
    assert load_state_dict(bytearray(VALID)).keys() == state.keys()


class _Call:
    """Pickles as a call of `func(*args)`: what a hostile .pth would hold."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _hostile_files(marker):
    command = f"touch {marker}"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for payload in (_Call(os.system, command), _Call(builtins.eval, code), _Call(builtins.exec, code)):
        for protocol in (2, 4):  # GLOBAL and STACK_GLOBAL
            hostile = pickle.dumps({"weight": payload}, protocol=protocol)
            yield legacy_file({}, {}, state_pickle=hostile)
            yield pickle.dumps(payload, protocol=protocol) + VALID  # in place of the magic number
    # the same by hand, as GLOBAL 'os system' (pickle itself writes posix.system)
    yield legacy_file({}, {}, state_pickle=b"\x80\x02" + _global("os", "system") + _tuple(_str(command))
                      + b"R.")
    # a dotted name reaching through an allowed global (STACK_GLOBAL resolves dots itself)
    name = b"_rebuild_tensor_v2.__globals__"
    yield legacy_file({}, {}, state_pickle=b"\x80\x04\x8c\x0ctorch._utils\x8c" + bytes([len(name)]) + name
                      + b"\x93.")


def test_refuses_other_globals_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    count = 0
    for data in _hostile_files(marker):
        with pytest.raises(ValueError, match="^not a legacy torch state dict: .*refused global"):
            load_state_dict(data)
        count += 1
    assert count == 14
    assert not marker.exists()


def test_refuses_inconsistent_files():
    def with_tensor(spec):
        return legacy_file({"w": spec}, {"0": ("FloatStorage", np.zeros(6, np.float32))})

    bad = {
        "view past the end": with_tensor(("0", 4, (3,), (1,))),
        "negative stride": with_tensor(("0", 5, (3,), (-1,))),
        "broadcast blow-up": with_tensor(("0", 0, (1000, 1000), (0, 0))),
        "rank mismatch": with_tensor(("0", 0, (2, 3), (3,))),
        "zip format": b"PK\x03\x04" + VALID,
        "trailing bytes": VALID + b"\0",
        "wrong magic": pickle.dumps(42, protocol=2) + VALID[len(pickle.dumps(MAGIC_NUMBER, protocol=2)):],
        "element count": VALID[:STORAGE_DATA] + (23).to_bytes(8, "little") + VALID[STORAGE_DATA + 8:],
        "empty": b"",
    }
    for what, data in bad.items():
        with pytest.raises(ValueError) as info:
            load_state_dict(data)
        assert "\n" not in str(info.value), what
    with pytest.raises(ValueError):
        load_state_dict("not bytes")


def test_refuses_memory_bombs():
    # LONG_BINPUT 2**24: the C unpickler would first grow its memo to 2**25 entries (256 MB)
    memo_bomb = b"\x80\x02N" + b"r" + (1 << 24).to_bytes(4, "little") + b"."
    with pytest.raises(ValueError, match="memo index"):
        load_state_dict(legacy_file({}, {}, state_pickle=memo_bomb))
    # many tensors viewing one storage whole: more data out than the file holds
    views = {f"w{i}": ("0", 0, (10,), (1,)) for i in range(50)}
    with pytest.raises(ValueError, match="too many times"):
        load_state_dict(legacy_file(views, {"0": ("FloatStorage", SHARED)}))
    tied = {f"w{i}": ("0", 0, (10,), (1,)) for i in range(2)}  # tied weights are fine
    assert len(load_state_dict(legacy_file(tied, {"0": ("FloatStorage", SHARED)}))) == 2


def test_every_truncation_is_refused():
    for end in range(len(VALID)):
        with pytest.raises(ValueError):
            load_state_dict(VALID[:end])


def _dict_or_value_error(data: bytes) -> None:
    try:
        state = load_state_dict(data)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(state, dict)
        assert all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    _dict_or_value_error(data)
    _dict_or_value_error(VALID[:64] + data)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(VALID)), st.lists(st.tuples(st.integers(0, len(VALID) - 1),
                                                      st.integers(0, 255)), max_size=4))
def test_truncated_and_corrupted_files(end, flips):
    data = bytearray(VALID)
    for index, value in flips:
        data[index] = value
    _dict_or_value_error(bytes(data[:end]))
