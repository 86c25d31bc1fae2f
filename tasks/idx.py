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

import numpy as np

# IDX type code -> numpy dtype (big-endian, as stored on disk).
_CODE_TO_DTYPE = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
                  0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_KIND_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}


class IdxFormatError(ValueError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the (uncompressed) bytes of an IDX file into a native-endian array."""
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise IdxFormatError(f"{name}: bad IDX magic {raw[:4].hex()}")
    dtype, ndim = _CODE_TO_DTYPE.get(raw[2]), raw[3]
    if dtype is None:
        raise IdxFormatError(f"{name}: unknown IDX data type code 0x{raw[2]:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxFormatError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IdxFormatError(f"{name}: IDX header says shape {shape} ({expected} bytes) "
                             f"but the file holds {len(raw)} bytes")
    # A copy: frombuffer's view of immutable bytes is read-only and big-endian.
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into a numpy array."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
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
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=_CODE_TO_DTYPE[code]).tobytes()


def write_idx(path: str | os.PathLike, arr: np.ndarray, compress: bool | None = None) -> None:
    """Write ``arr`` as an IDX file; gzip it when ``compress`` (default: name ends .gz)."""
    path = os.fspath(path)
    data = encode_idx(arr)
    if path.endswith(".gz") if compress is None else compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: the same array gives the same bytes
    with open(path, "wb") as f:
        f.write(data)
