"""Errors of save() that a user can act on, and what save does with links
and directories: the error names the file the user asked for (never the
hidden temporary file), a directory is refused before anything is
written, a symbolic link is written through to its target, and an open
FrozenTreeMap holds no file descriptor where Python lets it go."""

import os
import subprocess
import sys
import textwrap

import pytest

from blart import BytesTreeMap, FrozenTreeMap, TreeMap


def _no_temp_files(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")] == []


def test_a_write_error_names_the_target_not_the_temporary_file(tmp_path):
    """A real write failure, in a child process whose file size limit is
    small (EFBIG, as a full disk gives ENOSPC): the error names the file
    asked for, and no temporary file is left."""
    target = tmp_path / "big.blart"
    code = textwrap.dedent(
        f"""
        import resource, signal, sys
        from blart import TreeMap
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        m = TreeMap((f"key-{{i:07d}}", i) for i in range(50_000))
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            m.save({str(target)!r})
        except OSError as e:
            print(type(e).__name__, e.errno, repr(e.filename), str(e))
            sys.exit(0)
        sys.exit("save did not fail")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    name, errno_, filename, message = out.stdout.split(" ", 3)
    assert name == "OSError", out.stdout  # EFBIG has no subclass of its own
    assert int(errno_) != 0
    assert filename == repr(str(target)), out.stdout
    assert str(target) in message
    assert ".tmp" not in message
    assert _no_temp_files(tmp_path)
    assert not target.exists()


def test_an_error_from_the_final_rename_names_the_target(tmp_path, monkeypatch):
    """The rename is the one step whose OSError names both files; the user
    sees the one they asked for."""
    import blart._persist as persist

    def failing_replace(src, dst):
        raise OSError(30, "Read-only file system", src, dst)

    monkeypatch.setattr(persist.os, "replace", failing_replace)
    target = tmp_path / "m.blart"
    with pytest.raises(OSError) as info:
        TreeMap({"a": 1}).save(target)
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)
    assert _no_temp_files(tmp_path)


class Recorded:
    """A value that records being pickled, that is, written."""

    written = 0

    def __reduce__(self):
        Recorded.written += 1
        return (int, (1,))


@pytest.mark.parametrize("cls,key", [(TreeMap, "a"), (BytesTreeMap, b"a")])
def test_saving_over_a_directory_is_refused_before_writing(tmp_path, cls, key):
    (tmp_path / "d").mkdir()
    Recorded.written = 0
    with pytest.raises(IsADirectoryError) as info:
        cls({key: Recorded()}).save(tmp_path / "d", allow_pickle=True)
    assert info.value.filename == str(tmp_path / "d")
    assert Recorded.written == 0
    assert os.listdir(tmp_path) == ["d"]
    assert os.listdir(tmp_path / "d") == []


def test_save_writes_through_a_symbolic_link(tmp_path):
    real = tmp_path / "data" / "real.blart"
    real.parent.mkdir()
    TreeMap({"old": 1}).save(real)
    link = tmp_path / "live.blart"
    link.symlink_to(real)
    TreeMap({"new": 2}).save(link)
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert dict(TreeMap.load(real)) == {"new": 2}
    assert dict(FrozenTreeMap(link)) == {"new": 2}
    assert _no_temp_files(tmp_path) and _no_temp_files(real.parent)


def test_save_through_a_chain_of_links_and_a_dangling_one(tmp_path):
    real = tmp_path / "real.blart"
    hop = tmp_path / "hop.blart"
    link = tmp_path / "link.blart"
    hop.symlink_to(real.name)  # relative, and dangling for now
    link.symlink_to(hop)
    TreeMap({"a": 1}).save(link)
    assert link.is_symlink() and hop.is_symlink()
    assert real.is_file() and not real.is_symlink()
    assert dict(TreeMap.load(real)) == {"a": 1}


def _open_descriptors():
    return len(os.listdir("/proc/self/fd"))


def test_open_frozen_maps_hold_no_descriptor_where_python_allows(tmp_path):
    """Python 3.13 can map a file without keeping a descriptor for it
    (mmap's trackfd=False); before 3.13 each open map holds one, as the
    README says."""
    path = tmp_path / "m.blart"
    TreeMap({"a": 1}).save(path)
    before = _open_descriptors()
    maps = [FrozenTreeMap(path) for _ in range(40)]
    held = _open_descriptors() - before
    if sys.version_info >= (3, 13):
        assert held == 0
    else:
        assert held == len(maps)
    assert all(m["a"] == 1 for m in maps)
    del maps
    assert _open_descriptors() == before
