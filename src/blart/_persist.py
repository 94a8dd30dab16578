"""File handling behind ``save``, ``load`` and ``FrozenTreeMap``.

The format is written and checked in C (``core/art_file.c`` and the
binding); this module does what Python's standard library does best:
temporary files, ``fsync``, atomic renames, ``mmap``, pickling, and the
arbitrary-size ``int`` conversions.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import tempfile
from typing import Any

from . import FormatError

# The process's umask, read once: new files get the mode open() would give.
_UMASK = os.umask(0)
os.umask(_UMASK)


def save(m: Any, path: Any, allow_pickle: bool) -> None:
    """Write ``m`` to ``path`` atomically: a temporary file in the same
    directory, flushed to disk, then renamed over ``path``."""
    target = os.fsdecode(os.fspath(path))
    directory = os.path.dirname(os.path.abspath(target))
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".blart-", suffix=".tmp")
    try:
        with open(fd, "wb") as f:
            m._dump(f, allow_pickle)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        # Make the rename itself durable.
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def map_file(path: Any) -> tuple[mmap.mmap, str]:
    """The file at ``path`` mapped read-only, and its absolute path."""
    full = os.path.abspath(os.fsdecode(os.fspath(path)))
    with open(full, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise FormatError(f"{full!r} is empty, not a blart file")
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), full


def open_for_load(path: Any) -> tuple[Any, str, int]:
    """The file at ``path`` open for reading (unbuffered: ``load`` reads
    its sections straight into their final memory), its absolute path and
    its size."""
    full = os.path.abspath(os.fsdecode(os.fspath(path)))
    f = open(full, "rb", buffering=0)  # noqa: SIM115 (load closes it)
    return f, full, os.fstat(f.fileno()).st_size


def release_pages(mm: mmap.mmap) -> None:
    """Drop the pages read while checking a file from this process's
    page tables; they stay cached and come back on first use."""
    if hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def open_frozen(cls: Any, path: str, allow_pickle: bool) -> Any:
    """Reopens a pickled FrozenTreeMap."""
    return cls(path, allow_pickle=allow_pickle)


def pickle_value(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def unpickle(data: memoryview, path: str) -> Any:
    """A pickled value from the file at path; a damaged pickle is a damaged
    file.  Errors raised by the unpickled objects' own code pass through
    unchanged."""
    try:
        return pickle.loads(data)
    except (pickle.UnpicklingError, EOFError) as e:
        raise FormatError(
            f"{path!r} is not a valid blart file: a pickled value is damaged: {e}"
        ) from e


def int_to_bytes(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)


def int_from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)
