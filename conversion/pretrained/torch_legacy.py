"""Read a legacy (pre-1.6, non-zip) `torch.save` state dict into numpy arrays, without torch.

Why not `torch.load`: torch is a ~700 MB dependency the workstation toolkit should not need to
read one weights file, and a .pth is a pickle: `torch.load` of an untrusted file can run any
code it names. Here a restricted unpickler admits only the globals a state dict needs
(`collections.OrderedDict`, `torch._utils._rebuild_tensor[_v2]` and the typed storage classes),
each mapped to a local stand-in that builds inert records; every other global is refused before
anything is called. The storages' raw bytes are read with numpy, every tensor view is checked
against its storage's bounds, and any malformed input is ValueError.

The legacy layout, as torch's `_legacy_save` writes it, is a sequence of pickles and raw data:
  1. the magic number 0x1950a86a20f9469cfc6c
  2. the protocol version 1001
  3. sys_info: {"protocol_version": 1001, "little_endian": bool, "type_sizes": {...}}
  4. the object (here the state dict); each tensor is `_rebuild_tensor_v2(storage, offset, size,
     stride, requires_grad, backward_hooks)` whose storage is a persistent id
     ("storage", StorageClass, key, location, numel, view_metadata)
  5. the list of storage keys, in the order their data follows
  6. per key: its element count (8 bytes, little-endian int64), then its elements' raw bytes.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class -> numpy dtype (little-endian; byte-swapped for a big-endian file).
# BFloat16 has no numpy type: read as uint16, widened to float32 below.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType(NamedTuple):
    name: str
    dtype: str


class _Storage(NamedTuple):
    kind: _StorageType
    key: str
    numel: int
    view_offset: int  # a legacy storage view: a window [offset, offset + numel) of its root
    root_numel: int


class _TensorRef(NamedTuple):
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _int(value, what: str) -> int:
    if type(value) is not int:  # not bool, not a float
        raise ValueError(f"{what} is not an integer")
    return value


def _int_tuple(value, what: str) -> tuple[int, ...]:
    if type(value) is not tuple or len(value) > 32:
        raise ValueError(f"{what} is not a shape")
    return tuple(_int(v, what) for v in value)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Stand-in for torch._utils._rebuild_tensor(_v2): a record, checked, with no data yet."""
    if not isinstance(storage, _Storage):
        raise ValueError("tensor without a storage")
    if len(_ignored) > 3:  # v2: requires_grad, backward_hooks[, metadata]
        raise ValueError("tensor with unexpected arguments")
    offset = _int(storage_offset, "tensor offset")
    size = _int_tuple(size, "tensor size")
    stride = _int_tuple(stride, "tensor stride")
    if len(size) != len(stride):
        raise ValueError("tensor size and stride differ in rank")
    if offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise ValueError("negative tensor offset, size or stride")
    count = 1
    for n in size:
        count *= n
    if count:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.numel:
            raise ValueError("tensor view outside its storage")
        if count > storage.numel:  # no state dict needs a broadcast (stride 0) blow-up
            raise ValueError("tensor larger than its storage")
    return _TensorRef(storage, offset, size, stride)


_ALLOWED = {("collections", "OrderedDict"): OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): _rebuild_tensor}
_ALLOWED |= {("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()}


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, storages: dict[str, _Storage] | None):
        super().__init__(stream)
        self._storages = storages  # None: no persistent ids allowed (the header pickles)

    def find_class(self, module, name):  # also reached by EXT1/2/4 and INST/OBJ
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise ValueError(f"refused global {str(module)[:40]}.{str(name)[:40]}") from None

    def persistent_load(self, pid):
        if self._storages is None:
            raise ValueError("unexpected persistent id")
        if type(pid) is not tuple or len(pid) != 6 or pid[0] != "storage":
            raise ValueError("unknown persistent id")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _StorageType) or type(key) is not str:
            raise ValueError("malformed storage reference")
        numel = _int(numel, "storage size")
        if numel < 0:
            raise ValueError("negative storage size")
        root = _Storage(kind, key, numel, 0, numel)
        known = self._storages.setdefault(key, root)
        if (known.kind, known.root_numel) != (kind, numel):
            raise ValueError(f"storage {key[:40]} declared twice differently")
        if view is None:
            return root
        if type(view) is not tuple or len(view) != 3:
            raise ValueError("malformed storage view")
        _view_key, view_offset, view_numel = view
        view_offset = _int(view_offset, "view offset")
        view_numel = _int(view_numel, "view size")
        if view_offset < 0 or view_numel < 0 or view_offset + view_numel > numel:
            raise ValueError("storage view outside its storage")
        return _Storage(kind, key, view_numel, view_offset, numel)


_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
# Tensors may share storages (tied weights); a file whose views add up to more than this many
# times its storages' elements is an amplification attack, not a state dict.
MAX_VIEW_AMPLIFICATION = 4


def _unpickle(stream: io.BytesIO, storages: dict[str, _Storage] | None):
    """One pickle from the stream, scanned by pickletools first: the C unpickler grows its memo
    to twice any PUT index it meets, so one 6-byte LONG_BINPUT could make it allocate gigabytes."""
    start = stream.tell()
    for count, (opcode, arg, _pos) in enumerate(pickletools.genops(stream)):
        if opcode.name in _MEMO_PUTS and not 0 <= arg <= count:
            raise ValueError("pickle memo index out of range")
    end = stream.tell()
    stream.seek(start)
    value = _Unpickler(stream, storages).load()
    if stream.tell() != end:
        raise ValueError("pickle length differs between scan and load")
    return value


def _materialise(ref: _TensorRef, buffers: dict[str, np.ndarray]) -> np.ndarray:
    data = buffers[ref.storage.key][ref.storage.view_offset:]
    item = data.itemsize
    view = np.lib.stride_tricks.as_strided(data[ref.offset:], shape=ref.size,
                                           strides=tuple(s * item for s in ref.stride),
                                           writeable=False)
    kind = ref.storage.kind.name
    if kind == "BFloat16Storage":
        widened = view.astype(np.uint32, order="C")
        widened <<= 16  # in place: a 0-d array stays an array
        return widened.view(np.float32).copy()
    if kind in ("FloatStorage", "DoubleStorage", "HalfStorage"):
        return np.array(view, dtype=np.float32, order="C")  # (not ascontiguousarray: 0-d -> 1-d)
    return np.array(view, dtype=view.dtype.newbyteorder("="), order="C")


def _load(data: bytes) -> dict[str, np.ndarray]:
    if data[:4] == b"PK\x03\x04":
        raise ValueError("a zip-format (torch >= 1.6) checkpoint, not the legacy format")
    stream = io.BytesIO(data)
    if _unpickle(stream, None) != MAGIC_NUMBER:
        raise ValueError("no torch magic number")
    if _unpickle(stream, None) != PROTOCOL_VERSION:
        raise ValueError("unsupported torch protocol version")
    sys_info = _unpickle(stream, None)
    if type(sys_info) is not dict or type(sys_info.get("little_endian")) is not bool:
        raise ValueError("malformed sys_info")
    storages: dict[str, _Storage] = {}
    state = _unpickle(stream, storages)
    keys = _unpickle(stream, None)

    # dict.items: a BUILD opcode may have shadowed the OrderedDict's own methods
    if not isinstance(state, dict) or not all(
            type(k) is str and isinstance(v, _TensorRef) for k, v in dict.items(state)):
        raise ValueError("not a state dict of tensors")
    if type(keys) is not list or any(type(k) is not str for k in keys) or len(set(keys)) != len(keys):
        raise ValueError("malformed storage key list")
    if set(keys) != set(storages):
        raise ValueError("storage key list does not match the tensors' storages")

    order = "<" if sys_info["little_endian"] else ">"
    view = memoryview(data)
    pos = stream.tell()
    buffers: dict[str, np.ndarray] = {}
    for key in keys:
        storage = storages[key]
        dtype = np.dtype(storage.kind.dtype).newbyteorder(order)
        if pos + 8 > len(data):
            raise ValueError("truncated storage data")
        numel = int.from_bytes(view[pos: pos + 8], "little", signed=True)
        pos += 8
        if numel != storage.root_numel:
            raise ValueError(f"storage {key[:40]} holds {numel} elements, not {storage.root_numel}")
        end = pos + numel * dtype.itemsize
        if end > len(data):
            raise ValueError("truncated storage data")
        buffers[key] = np.frombuffer(view[pos:end], dtype=dtype)
        pos = end
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} bytes after the last storage")
    viewed = sum(int(np.prod(ref.size, dtype=np.int64)) for ref in dict.values(state))
    if viewed > MAX_VIEW_AMPLIFICATION * max(1, sum(s.root_numel for s in storages.values())):
        raise ValueError("the tensors view their storages too many times over")
    return {name: _materialise(ref, buffers) for name, ref in dict.items(state)}


def load_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a legacy torch state dict file's bytes, by name, in torch layout.

    Float tensors (float/double/half/bfloat16) come back as float32; integer and bool tensors
    (e.g. BatchNorm's num_batches_tracked, int64) keep their type. Each array is a copy that owns
    its data. Anything else (another format, a global outside the state-dict vocabulary, a
    truncated or inconsistent file) is ValueError with a one-line message.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"expected bytes, not {type(data).__name__}")
    data = bytes(data)
    try:
        return _load(data)
    except ValueError as exc:
        message = str(exc)
    except Exception as exc:  # any other failure of the unpickler: malformed input too
        message = f"{type(exc).__name__}: {exc}"
    first_line = (message.splitlines() or [""])[0][:160]
    raise ValueError(f"not a legacy torch state dict: {first_line}") from None
