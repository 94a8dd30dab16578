"""The file-system side of ``save``, ``load`` and ``FrozenTreeMap``.

Python drives every file operation and calls the C binding once for it:
``save`` writes a temporary file in the target's directory, has
``m._dump`` encode the map into it, flushes it to disk and renames it
over the target; ``load`` opens the file and has ``cls._load`` read and
decode it through the file's ``readinto``; ``FrozenTreeMap`` maps the
file and has ``FrozenTreeMap._open`` check it and serve it in place.
The C side never calls back into this module: it converts large ints and
pickles values itself (with the standard library's ``pickle``).

``install`` makes these functions the types' ``save``, ``load``,
``__new__`` and ``__reduce__``.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import sys
from typing import Any

from . import FormatError


def _flag(value: object) -> bool:
    """allow_pickle as the C methods take a flag: a bool, or an int as
    sorted(reverse=...) accepts; nothing else is judged by its truth."""
    if not isinstance(value, int):
        raise TypeError(f"allow_pickle must be a bool, not {type(value).__name__}")
    return bool(value)


def _create_temporary(directory: str, mode: int) -> tuple[int, str]:
    """A new file in directory, open for writing, created with mode less
    the umask, as open() creates files: the umask is never read or set."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        name = os.path.join(directory, f".blart-{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, flags, mode), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _naming(e: OSError, path: str) -> OSError:
    """e as the user should see it: about path, the file they asked for,
    never the hidden temporary file (and ENOSPC or EFBIG from a write,
    which name no file, name it too)."""
    if e.errno is None:
        return e
    return OSError(e.errno, e.strerror or str(e), path)


def save(self: Any, path: Any, *, allow_pickle: bool = False) -> None:
    """Write the map to a file (docs/format.md), atomically: a temporary
    file in the same directory is written, flushed to disk and renamed
    over path.  A symbolic link is written through: its target is
    replaced, the link stays.  None, bool, int, float, str and bytes values
    are stored natively; any other value raises ValueError unless
    allow_pickle is true, when it is pickled.  The map cannot be changed
    while it is being saved (RuntimeError).

    >>> TreeMap({'apple': 1, 'apply': 2}).save('words.blart')
    >>> TreeMap.load('words.blart')
    TreeMap({'apple': 1, 'apply': 2})
    """
    flag = _flag(allow_pickle)
    asked = os.fsdecode(os.fspath(path))
    # Through symbolic links to the file they name, as editors save: the
    # link stays a link and its target gets the new contents.
    target = os.path.realpath(asked) if os.path.islink(asked) else asked
    if os.path.isdir(target):
        # Refused before anything is written.
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), asked)
    directory = os.path.dirname(os.path.abspath(target))
    # A file replaced keeps its mode; a new one gets the mode open() would
    # give it, which the temporary file gets by being created so.
    try:
        mode: int | None = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    try:
        fd, tmp = _create_temporary(directory, 0o666 if mode is None else 0o600)
    except OSError as e:
        raise _naming(e, asked) from e
    try:
        with open(fd, "wb") as f:
            self._dump(f, flag)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, asked) from e
        raise
    if hasattr(os, "O_DIRECTORY"):
        # Make the rename itself durable.
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def open_for_load(path: Any) -> tuple[Any, str, int]:
    """The file at ``path`` open for reading (unbuffered: ``load`` reads
    its sections straight into their final memory), its absolute path and
    its size."""
    full = os.path.abspath(os.fsdecode(os.fspath(path)))
    f = open(full, "rb", buffering=0)  # noqa: SIM115 (load closes it)
    return f, full, os.fstat(f.fileno()).st_size


def load(cls: Any, path: Any, *, allow_pickle: bool = False) -> Any:
    """Read a file written by save() into a new, ordinary map of this class.

    The file's keys must be of this class's kind (ValueError otherwise).
    A file holding pickled values is refused (ValueError) unless
    allow_pickle is true: loading never runs code by default.  A damaged
    or malformed file raises blart.FormatError.
    """
    flag = _flag(allow_pickle)
    f, full, size = open_for_load(path)
    try:
        return cls._load(f, full, size, flag)
    finally:
        with contextlib.suppress(Exception):
            f.close()


def map_file(path: Any) -> tuple[mmap.mmap, str]:
    """The file at ``path`` mapped read-only, and its absolute path."""
    full = os.path.abspath(os.fsdecode(os.fspath(path)))
    with open(full, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise FormatError(f"{full!r} is empty, not a blart file")
        if sys.version_info >= (3, 13):
            # The mapping keeps no descriptor of its own (open maps would
            # otherwise count against the process's limit of open files).
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ, trackfd=False)
        else:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return mm, full


def release_pages(mm: mmap.mmap) -> None:
    """Drop the pages read while checking a file from this process's
    page tables; they stay cached and come back on first use."""
    if hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def frozen_new(cls: Any, path: Any, *, allow_pickle: bool = False) -> Any:
    """FrozenTreeMap(path, *, allow_pickle=False): the file mapped, then
    checked and served by C, which closes the mapping with the map."""
    flag = _flag(allow_pickle)
    mm, full = map_file(path)
    try:
        m = cls._open(mm, full, flag)
    except BaseException:
        mm.close()  # _open has closed it if it got as far as the file
        raise
    # The check read every page; let them go from this process until a
    # query needs them (they stay in the page cache, shared).
    release_pages(mm)
    return m


def open_frozen(cls: Any, path: str, allow_pickle: bool) -> Any:
    """Reopens a pickled FrozenTreeMap."""
    return cls(path, allow_pickle=allow_pickle)


def frozen_reduce(self: Any) -> Any:
    """Support for pickle."""
    # A subclass instance's attributes, __slots__ included, travel as
    # state, as for TreeMap (the binding's reading of them).
    state = self._state
    return open_frozen, (type(self), self.path, self._allow_pickle), state


def install(tree_maps: tuple[type, ...], frozen: type) -> None:
    """Makes the functions above the methods of the map types."""
    for cls in tree_maps:
        cls.save = save  # type: ignore[attr-defined]
        cls.load = classmethod(load)  # type: ignore[attr-defined]
    frozen.__new__ = staticmethod(frozen_new)  # type: ignore[assignment]
    frozen.__reduce__ = frozen_reduce  # type: ignore[assignment]
