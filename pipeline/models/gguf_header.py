"""A GGUF header reader that touches only what it is asked for.

The `gguf` package's GGUFReader builds a numpy object per array element at open time: for a
Qwen vocabulary (152K tokens, 151K merges) that took 13.7 s here, for a header of a few MB.
This reader walks the header once with struct over a memory map, keeps string arrays as
offsets (decoded on access) and numeric arrays as zero-copy numpy views, and never reads
tensor data. Layout (GGUF v2/v3, little-endian): magic, version u32, tensor count u64, kv count
u64, the key/value pairs, then per tensor its name, dims, type and data offset.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"GGUF"
STRING, ARRAY = 8, 9
# GGUF value types with a fixed size: type id -> (struct format, numpy dtype).
FIXED_TYPES: dict[int, tuple[str, str]] = {
    0: ("<B", "<u1"), 1: ("<b", "<i1"), 2: ("<H", "<u2"), 3: ("<h", "<i2"),
    4: ("<I", "<u4"), 5: ("<i", "<i4"), 6: ("<f", "<f4"), 7: ("<?", "<u1"),
    10: ("<Q", "<u8"), 11: ("<q", "<i8"), 12: ("<d", "<f8"),
}
BOOL = 7
FLOAT32 = 6
MAX_DIMS = 8
U64 = struct.Struct("<Q")


class GGUFFormatError(ValueError):
    """The bytes are not a GGUF header this reader understands."""


class StringArray:
    """A GGUF string array, decoded one element at a time."""

    def __init__(self, data: Any, offsets: list[int]) -> None:
        self._data = data
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, index: int) -> str:
        start = self._offsets[index]
        (length,) = struct.unpack_from("<Q", self._data, start)
        return bytes(self._data[start + 8:start + 8 + length]).decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type_id: int


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    fields: dict[str, Any]
    tensors: tuple[TensorInfo, ...]


class _Cursor:
    def __init__(self, data: Any) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise GGUFFormatError(f"header ends early at byte {self.pos}")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def count(self, minimum_item_size: int, what: str) -> int:
        """A u64 count, refused when its items could not fit in the rest of the file."""
        value = self.take("<Q")
        if value * minimum_item_size > len(self.data) - self.pos:
            raise GGUFFormatError(f"{what} count {value} does not fit in the file")
        return int(value)

    def string(self) -> str:
        length = self.count(1, "string length")
        raw = bytes(self.data[self.pos:self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.count(1, "string length")  # read before pos is updated: count() moves it
        self.pos += length

    def string_offsets(self, n: int) -> list[int]:
        """Where each of n strings starts, walked with local names: a Qwen vocabulary and its
        merges are 300K strings, and the method calls per string were most of the header time."""
        data, pos, end = self.data, self.pos, len(self.data)
        unpack = U64.unpack_from
        offsets = [0] * n
        for i in range(n):
            if pos + 8 > end:
                raise GGUFFormatError(f"header ends early at byte {pos}")
            offsets[i] = pos
            (length,) = unpack(data, pos)
            pos += 8 + length
            if pos > end:
                raise GGUFFormatError(f"string length {length} does not fit in the file")
        self.pos = pos
        return offsets

    def value(self, type_id: int) -> Any:
        if type_id == STRING:
            return self.string()
        if type_id == ARRAY:
            return self.array()
        if type_id not in FIXED_TYPES:
            raise GGUFFormatError(f"unknown value type {type_id} at byte {self.pos}")
        value = self.take(FIXED_TYPES[type_id][0])
        if type_id == FLOAT32:
            # The shortest decimal that is the same float32: 1e-06, not 9.99999997e-07.
            return float(str(np.float32(value)))
        return bool(value) if type_id == BOOL else value

    def array(self) -> Any:
        item_type = self.take("<I")
        if item_type == STRING:
            return StringArray(self.data, self.string_offsets(self.count(8, "array")))
        if item_type in FIXED_TYPES:
            dtype = np.dtype(FIXED_TYPES[item_type][1])
            n = self.count(dtype.itemsize, "array")
            view = np.frombuffer(self.data, dtype=dtype, count=n, offset=self.pos)
            self.pos += n * dtype.itemsize
            return view.astype(bool) if item_type == BOOL else view
        if item_type == ARRAY:
            n = self.count(12, "array")
            return [self.array() for _ in range(n)]
        raise GGUFFormatError(f"unknown array item type {item_type} at byte {self.pos}")


def parse_header(data: Any) -> GGUFHeader:
    """Parse a GGUF header from a bytes-like object (a memory map of the file)."""
    cursor = _Cursor(data)
    if bytes(data[:4]) != MAGIC:
        raise GGUFFormatError("it does not start with 'GGUF'")
    cursor.pos = 4
    version = cursor.take("<I")
    if version not in (2, 3):
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        if swapped in (2, 3):
            raise GGUFFormatError("big-endian GGUF files are not supported")
        raise GGUFFormatError(f"unsupported GGUF version {version}")
    n_tensors = cursor.take("<Q")
    n_fields = cursor.take("<Q")
    if n_fields * 13 > len(data) or n_tensors * 24 > len(data):
        raise GGUFFormatError(f"{n_fields} keys and {n_tensors} tensors cannot fit in the file")
    fields: dict[str, Any] = {}
    for _ in range(n_fields):
        key = cursor.string()
        fields[key] = cursor.value(cursor.take("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = cursor.string()
        n_dims = cursor.take("<I")
        if n_dims > MAX_DIMS:
            raise GGUFFormatError(f"tensor {name!r} claims {n_dims} dimensions")
        shape = tuple(cursor.take("<Q") for _ in range(n_dims))
        type_id = cursor.take("<I")
        cursor.take("<Q")  # data offset: tensor data is never read here
        tensors.append(TensorInfo(name, shape, type_id))
    return GGUFHeader(version=version, fields=fields, tensors=tuple(tensors))


def read_header(path: Path) -> GGUFHeader:
    """The header of a GGUF file; the file is memory-mapped, its tensor data never read."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            raise GGUFFormatError("the file is empty")
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return parse_header(memoryview(data))
