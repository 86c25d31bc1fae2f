"""Read and write IDX files (the MNIST / Fashion-MNIST on-disk format).

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim``
big-endian uint32 dimension sizes, then the data in row-major order and
big-endian byte order. Files may be gzip-compressed; compression is detected
from the content (gzip magic ``1f 8b``), not from the file name.
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

# IDX type code -> numpy dtype (big-endian, as stored on disk).
_CODE_TO_DTYPE = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE = {
    ("u", 1): 0x08,
    ("i", 1): 0x09,
    ("i", 2): 0x0B,
    ("i", 4): 0x0C,
    ("f", 4): 0x0D,
    ("f", 8): 0x0E,
}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the (uncompressed) bytes of an IDX file into a native-endian array."""
    if len(raw) < 4:
        raise IdxFormatError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    zero1, zero2, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero1 != 0 or zero2 != 0:
        raise IdxFormatError(f"{name}: bad IDX magic {raw[:4].hex()}")
    dtype = _CODE_TO_DTYPE.get(code)
    if dtype is None:
        raise IdxFormatError(f"{name}: unknown IDX data type code 0x{code:02x}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IdxFormatError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len]) if ndim else ()
    count = 1
    for d in shape:
        count *= d
    expected = header_len + count * dtype.itemsize
    if len(raw) != expected:
        raise IdxFormatError(
            f"{name}: IDX header says shape {tuple(shape)} ({expected} bytes) "
            f"but the file holds {len(raw)} bytes"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len).reshape(shape)
    native = dtype.newbyteorder("=")
    # frombuffer on immutable bytes gives a read-only view; always return a
    # writable array that owns its memory, in native byte order.
    return arr.astype(native, copy=True)


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into a numpy array."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IdxFormatError(f"{path}: corrupt gzip data ({e})") from e
    return parse_idx(raw, name=path)


def encode_idx(arr: np.ndarray) -> bytes:
    """Encode an array as the bytes of an (uncompressed) IDX file."""
    arr = np.asarray(arr)
    code = _KIND_TO_CODE.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(f"dtype {arr.dtype} has no IDX type code")
    if arr.ndim > 255:
        raise ValueError("IDX supports at most 255 dimensions")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=_CODE_TO_DTYPE[code]).tobytes()


def write_idx(path: PathLike, arr: np.ndarray, compress: bool | None = None) -> None:
    """Write ``arr`` as an IDX file; gzip it when ``compress`` (default: name ends .gz)."""
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    data = encode_idx(arr)
    if compress:
        # mtime=0 keeps the output deterministic.
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
