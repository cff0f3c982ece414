"""IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

Format: 2 zero bytes, a type byte, the number of dimensions, then one big-endian uint32 per
dimension, then the values (big-endian) in C order. Gzip is detected from the magic bytes
``1f 8b``, not from the file name.
"""
from __future__ import annotations

import gzip as _gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from app.core.errors import DataError

# IDX type byte -> big-endian numpy dtype
_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES: dict[np.dtype, int] = {np.dtype(t.kind + str(t.itemsize)): c for c, t in _TYPES.items()}

MAX_NDIM = 8
MAX_TOTAL_BYTES = 6 << 30   # all the files of one data set together
MAX_BYTES = 4 << 30   # a header claiming more than 4 GiB of data is not a real data set file
_GZIP_MAGIC = b"\x1f\x8b"


def _fail(path, why: str) -> DataError:
    return DataError(f"{path} is not a valid IDX file: {why}.")


_CHUNK = 64 << 20


def _read_exact(f, n: int) -> bytearray:
    """Up to ``n`` bytes. Memory grows with the data that is really there (in 64 MiB steps), so a header
    that claims gigabytes over a short file does not allocate them first."""
    if n <= _CHUNK:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = f.readinto(view[got:])
            if not k:
                break
            got += k
        return buf if got == n else buf[:got]
    buf = bytearray()
    while len(buf) < n:
        part = f.read(min(_CHUNK, n - len(buf)))
        if not part:
            break
        buf += part
    return buf


def read_idx(path, already: int = 0) -> np.ndarray:
    """Read an IDX file (gzip or not) into a writable, native-endian numpy array.

    Raises ``DataError`` naming the file for a wrong magic number, a truncated file, a file
    longer than its header says, or dimensions that cannot be real.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            f = _gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            try:
                return _read_stream(f, path, None if compressed else os.fstat(raw.fileno()).st_size, already)
            except (EOFError, _gzip.BadGzipFile, zlib.error) as e:
                raise _fail(path, f"the gzip data is damaged or cut short ({e})") from None
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}.") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file.") from None
    except PermissionError:
        raise DataError(f"No permission to read {path}.") from None


def _read_stream(f, path: Path, file_size: int | None, already: int = 0) -> np.ndarray:
    magic = _read_exact(f, 4)
    if len(magic) < 4:
        raise _fail(path, f"it has only {len(magic)} bytes, too short for a header")
    if magic[0] != 0 or magic[1] != 0:
        raise _fail(path, f"wrong magic number 0x{bytes(magic).hex()} (expected 0x0000 followed by a type and a rank, e.g. 0x00000803)")
    code, ndim = magic[2], magic[3]
    if code not in _TYPES:
        raise _fail(path, f"unknown data type byte 0x{code:02x} (expected one of 08, 09, 0b, 0c, 0d, 0e)")
    if not 1 <= ndim <= MAX_NDIM:
        raise _fail(path, f"it claims {ndim} dimensions (expected 1 to {MAX_NDIM})")
    head = _read_exact(f, 4 * ndim)
    if len(head) < 4 * ndim:
        raise _fail(path, "the header is cut short")
    dims = struct.unpack(f">{ndim}I", bytes(head))
    dtype = _TYPES[code]
    nbytes = dtype.itemsize
    for d in dims:
        nbytes *= d
    if nbytes > MAX_BYTES:
        raise _fail(path, f"its header claims dimensions {dims} ({nbytes / 2**30:.1f} GiB), which is not plausible")
    if already + nbytes > MAX_TOTAL_BYTES:
        raise _fail(path, f"its header claims dimensions {dims} ({nbytes / 2**30:.1f} GiB), which with the files "
                          f"read before it is more than a data set can be ({MAX_TOTAL_BYTES / 2**30:.0f} GiB)")
    from app.core.memory import check_fits

    check_fits(2 * (already + nbytes), f"Reading {path.name} (its header claims {nbytes / 2**30:.2f} GiB)",
               "the file is damaged, or this computer has too little free memory for this data set.")
    header_size = 4 + 4 * ndim
    if file_size is not None and file_size != header_size + nbytes:
        have = file_size - header_size
        if have < nbytes:
            raise _fail(path, f"it is truncated: the header {dims} needs {nbytes} data bytes but the file has {have}")
        raise _fail(path, f"header/size mismatch: the header {dims} needs {nbytes} data bytes but the file has {have}")
    data = _read_exact(f, nbytes)
    if len(data) < nbytes:
        raise _fail(path, f"it is truncated: the header {dims} needs {nbytes} data bytes but the file has {len(data)}")
    if f.read(1):
        raise _fail(path, f"header/size mismatch: the file has more data than the header {dims} describes")
    arr = np.frombuffer(data, dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def write_idx(path, array, gzip: bool = False) -> None:
    """Write ``array`` as an IDX file (gzip-compressed, deterministic, when ``gzip`` is True).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    arr = np.asarray(array)
    key = np.dtype(arr.dtype.kind + str(arr.dtype.itemsize))
    if key not in _CODES:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}; use uint8, int8, int16, int32, float32 or float64")
    if not 1 <= arr.ndim <= MAX_NDIM:
        raise ValueError(f"IDX needs 1 to {MAX_NDIM} dimensions, got {arr.ndim}")
    code = _CODES[key]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=_TYPES[code]).tobytes()
    path = Path(path)
    with open(path, "wb") as raw:
        if gzip:
            with _gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
                f.write(header)
                f.write(payload)
        else:
            raw.write(header)
            raw.write(payload)
