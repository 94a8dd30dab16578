"""The ``python -m blart`` command line: in-process through main(), and as a user runs it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import blart.__main__ as cli
from blart.__main__ import main

WORDS = [
    "banana",
    "apple",
    "app",
    "application",
    "apply",
    "apricot",
    "band",
    "bandana",
    "can",
    "candy",
    "cane",
    "café",
    "cafe",
    "zebra",
    "/api/",
    "/api/v1/",
    "Apple",
]


def levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


@pytest.fixture
def words_file(tmp_path: Path) -> Path:
    """WORDS in no particular order, with a duplicate, CRLF endings and empty lines."""
    path = tmp_path / "words.txt"
    body = "\n".join(WORDS[:5]) + "\n\n" + "\r\n".join(WORDS[5:]) + "\r\napple\n\n"
    path.write_bytes(body.encode("utf-8"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def run_process(
    *argv: str | Path, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "blart", *map(str, argv)],
        input=None if stdin is None else stdin.decode("utf-8", "surrogateescape"),
        capture_output=True,
        check=False,
        encoding="utf-8",
        errors="surrogateescape",
        env=env,
        cwd=cwd,
        timeout=120,
    )


# --- complete -------------------------------------------------------------


def test_complete_prints_matching_lines_in_order(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, err = run(capsys, "complete", words_file, "ap")
    assert (status, err) == (0, "")
    assert out == "app\napple\napplication\napply\napricot\n"


def test_complete_with_empty_prefix_prints_every_distinct_line(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, _ = run(capsys, "complete", words_file, "")
    assert status == 0
    assert out.splitlines() == sorted(set(WORDS))  # code point order; "apple" once


def test_complete_without_match_prints_nothing(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    assert run(capsys, "complete", words_file, "apz") == (0, "", "")
    assert run(capsys, "complete", words_file, "applications") == (0, "", "")


def test_complete_non_ascii(capsys: pytest.CaptureFixture[str], words_file: Path) -> None:
    status, out, _ = run(capsys, "complete", words_file, "caf")
    assert status == 0
    assert out == "cafe\ncafé\n"


# --- fuzzy ----------------------------------------------------------------


def test_fuzzy_default_distance_is_one(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, err = run(capsys, "fuzzy", words_file, "cane")
    assert (status, err) == (0, "")
    assert out == "cafe\t1\ncan\t1\ncane\t0\n"  # key order, not distance order


@pytest.mark.parametrize("word", ["aple", "bandanna", "café", "x", ""])
@pytest.mark.parametrize("distance", [0, 1, 2, 3])
def test_fuzzy_agrees_with_brute_force(
    capsys: pytest.CaptureFixture[str], words_file: Path, word: str, distance: int
) -> None:
    status, out, _ = run(capsys, "fuzzy", words_file, word, "-d", str(distance))
    assert status == 0
    expected = [
        f"{w}\t{levenshtein(word, w)}"
        for w in sorted(set(WORDS))
        if levenshtein(word, w) <= distance
    ]
    assert out.splitlines() == expected


def test_fuzzy_long_option(capsys: pytest.CaptureFixture[str], words_file: Path) -> None:
    status, out, _ = run(capsys, "fuzzy", words_file, "aple", "--max-distance", "1")
    assert status == 0
    assert out == "apple\t1\n"


# --- range ----------------------------------------------------------------


def test_range_includes_start_and_excludes_stop(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, _ = run(capsys, "range", words_file, "apple", "band")
    assert status == 0
    assert out == "apple\napplication\napply\napricot\nbanana\n"


def test_range_of_non_keys_and_empty_ranges(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, _ = run(capsys, "range", words_file, "b", "c")
    assert (status, out) == (0, "banana\nband\nbandana\n")
    assert run(capsys, "range", words_file, "c", "b") == (0, "", "")  # START > STOP
    assert run(capsys, "range", words_file, "band", "band") == (0, "", "")


# --- longest-prefix -------------------------------------------------------


def test_longest_prefix(capsys: pytest.CaptureFixture[str], words_file: Path) -> None:
    assert run(capsys, "longest-prefix", words_file, "applesauce") == (0, "apple\n", "")
    assert run(capsys, "longest-prefix", words_file, "apple") == (
        0,
        "apple\n",
        "",
    )  # the key itself
    assert run(capsys, "longest-prefix", words_file, "/api/v1/users/42") == (0, "/api/v1/\n", "")
    assert run(capsys, "longest-prefix", words_file, "bandanas") == (0, "bandana\n", "")


def test_longest_prefix_without_match_exits_1_silently(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    assert run(capsys, "longest-prefix", words_file, "ap") == (1, "", "")
    assert run(capsys, "longest-prefix", words_file, "") == (1, "", "")


# --- --limit and --stats --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "full"),
    [
        (["complete", "{f}", "ap"], ["app", "apple", "application", "apply", "apricot"]),
        (["fuzzy", "{f}", "apple", "-d", "2"], ["Apple\t1", "app\t2", "apple\t0", "apply\t1"]),
        (
            ["range", "{f}", "a", "c"],
            ["app", "apple", "application", "apply", "apricot", "banana", "band", "bandana"],
        ),
        (["longest-prefix", "{f}", "apples"], ["apple"]),
    ],
)
@pytest.mark.parametrize("limit", [0, 1, 3, 100])
def test_limit(
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    argv: list[str],
    full: list[str],
    limit: int,
) -> None:
    args = [a.format(f=words_file) for a in argv]
    assert run(capsys, *args) == (0, "".join(f"{line}\n" for line in full), "")
    status, out, err = run(capsys, *args, "--limit", str(limit))
    assert (status, err) == (0, "")
    assert out.splitlines() == full[:limit]


def test_limit_may_come_before_the_positional_arguments(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    assert run(capsys, "complete", "--limit", "2", words_file, "ap") == (0, "app\napple\n", "")


def test_stats_prints_build_and_query_times_to_stderr(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, err = run(capsys, "complete", words_file, "ap", "--stats", "--limit", "2")
    assert (status, out) == (0, "app\napple\n")
    lines = err.splitlines()
    assert len(lines) == 2
    build = re.fullmatch(
        r"python -m blart: build: (\d+\.\d+) s \((\d+) lines, (\d+) distinct, \d+ bytes of tree, from (.+)\)",
        lines[0],
    )
    assert build, lines[0]
    assert (int(build.group(2)), int(build.group(3))) == (len(WORDS) + 1, len(set(WORDS)))
    assert build.group(4) == str(words_file)
    query = re.fullmatch(r"python -m blart: query: (\d+\.\d+) s \(2 results\)", lines[1])
    assert query, lines[1]
    assert float(build.group(1)) >= 0
    assert float(query.group(1)) >= 0


def test_stats_for_every_subcommand(capsys: pytest.CaptureFixture[str], words_file: Path) -> None:
    cases: list[tuple[int, str, list[str]]] = [
        (0, "fuzzy", ["x"]),
        (0, "range", ["a", "b"]),
        (1, "longest-prefix", ["zz"]),  # found nothing: still reports the times
    ]
    for expected_status, command, args in cases:
        status, _, err = run(capsys, command, words_file, *args, "--stats")
        assert status == expected_status
        assert re.search(r"^python -m blart: build: \d+\.\d+ s ", err, re.MULTILINE)
        assert re.search(r"^python -m blart: query: \d+\.\d+ s ", err, re.MULTILINE)


# --- input handling -------------------------------------------------------


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake_stdin(monkeypatch, b"pear\nplum\npeach\n\npeach\r\n")
    status, out, err = run(capsys, "complete", "-", "pe", "--stats")
    assert (status, out) == (0, "peach\npear\n")
    assert "(4 lines, 3 distinct, " in err
    assert "from <stdin>)" in err


def test_line_endings_and_whitespace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    # BOM, LF, CRLF, blank lines, inner spaces and tabs, an unterminated last line.
    path.write_bytes(b"\xef\xbb\xbfalpha\r\n\r\n  indented\nwith space\ntab\there\n\n\nomega")
    status, out, _ = run(capsys, "complete", path, "")
    assert status == 0
    assert out.splitlines() == sorted(["alpha", "  indented", "with space", "tab\there", "omega"])
    assert run(capsys, "complete", path, "alpha") == (0, "alpha\n", "")


def test_empty_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"\n\r\n\n")
    assert run(capsys, "complete", path, "") == (0, "", "")
    assert run(capsys, "longest-prefix", path, "abc") == (1, "", "")


# --- errors ---------------------------------------------------------------


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("python -m blart: error: ")
    for fragment in fragments:
        assert fragment in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    status, out, err = run(capsys, "complete", missing, "a")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(missing), "No such file or directory")


def test_directory_instead_of_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(capsys, "range", tmp_path, "a", "b")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(tmp_path))


@pytest.mark.parametrize(
    ("data", "line", "detail"),
    [
        (b"ok\nfine\nbad \xff byte\n", 3, "0xff at byte 5 of the line"),
        (b"\xc3(\n", 1, "0xc3 at byte 1 of the line"),
        (b"a\r\nb\r\nc\r\n\r\ntrunc\xe2\x82", 5, "at byte 6 of the line"),
    ],
)
def test_invalid_utf8_names_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, line: int, detail: str
) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(data)
    status, out, err = run(capsys, "fuzzy", path, "x")
    assert (status, out) == (1, "")
    assert_one_line_error(err, f"{path}: line {line} is not valid UTF-8", detail)


def test_invalid_utf8_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_stdin(monkeypatch, b"caf\xe9\n")
    status, out, err = run(capsys, "complete", "-", "c")
    assert (status, out) == (1, "")
    assert_one_line_error(err, "<stdin>: line 1 is not valid UTF-8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["fuzzy", "{f}", "x", "-d", "-1"],
            "argument -d/--max-distance: must be a non-negative integer, got -1",
        ),
        (
            ["fuzzy", "{f}", "x", "-d", "two"],
            "argument -d/--max-distance: expected a non-negative integer, got 'two'",
        ),
        (
            ["complete", "{f}", "a", "--limit", "-3"],
            "argument --limit: must be a non-negative integer, got -3",
        ),
        (
            ["range", "{f}", "a", "b", "--limit", "1.5"],
            "argument --limit: expected a non-negative integer, got '1.5'",
        ),
        ([], "the following arguments are required: COMMAND"),
        (["lookup", "{f}", "a"], "invalid choice: 'lookup'"),
        (["complete", "{f}"], "the following arguments are required: PREFIX"),
        (["range", "{f}", "a"], "the following arguments are required: STOP"),
        (["longest-prefix"], "the following arguments are required: FILE, KEY"),
        (["complete", "{f}", "a", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], words_file: Path, argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *[a.format(f=words_file) for a in argv])
    assert (status, out) == (2, "")
    assert "Traceback" not in err
    assert err.startswith("usage: python -m blart")
    assert message in err.splitlines()[-1]


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("complete", "fuzzy", "range", "longest-prefix"):
        assert command in out
    status, out, _ = run(capsys, "fuzzy", "--help")
    assert status == 0
    for option in ("--max-distance", "--limit", "--stats"):
        assert option in out
    status, out, _ = run(capsys, "--version")
    assert status == 0
    assert out.startswith("python -m blart (blart ")


def test_stdin_not_open(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    status, out, err = run(capsys, "complete", "-", "a")
    assert (status, out) == (1, "")
    assert_one_line_error(err, "cannot read standard input")


def test_text_only_stdout(monkeypatch: pytest.MonkeyPatch, words_file: Path) -> None:
    """A replaced sys.stdout without a binary buffer still gets the lines."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["complete", str(words_file), "caf"]) == 0
    assert out.getvalue() == "cafe\ncafé\n"


def test_broken_pipe_in_process(monkeypatch: pytest.MonkeyPatch, words_file: Path) -> None:
    class ClosedPipe(io.BytesIO):
        def write(self, data: object) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    stdout = io.TextIOWrapper(ClosedPipe(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["complete", str(words_file), "a"]) == 1


def test_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    def interrupted(path: str) -> cli.Index:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_index", interrupted)
    assert run(capsys, "complete", words_file, "a") == (130, "", "")


# --- as a user runs it ----------------------------------------------------


def test_process_complete_fuzzy_range(words_file: Path, tmp_path: Path) -> None:
    proc = run_process("complete", words_file, "band", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "band\nbandana\n", "")
    proc = run_process("fuzzy", words_file, "cafe", "-d", "1", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "cafe\t0\ncafé\t1\ncane\t1\n", "")
    proc = run_process("range", words_file, "a", "apple", "--limit", "5", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "app\n", "")


def test_process_longest_prefix(words_file: Path, tmp_path: Path) -> None:
    proc = run_process("longest-prefix", words_file, "/api/v1/users", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "/api/v1/\n")
    proc = run_process("longest-prefix", words_file, "nothing", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "")


def test_process_stdin_and_stats(tmp_path: Path) -> None:
    proc = run_process(
        "complete", "-", "b", "--stats", stdin=b"beta\r\nalpha\nbravo\n", cwd=tmp_path
    )
    assert (proc.returncode, proc.stdout) == (0, "beta\nbravo\n")
    assert re.search(
        r"^python -m blart: build: \d+\.\d+ s \(3 lines, 3 distinct, .*from <stdin>\)$",
        proc.stderr,
        re.MULTILINE,
    )
    assert re.search(
        r"^python -m blart: query: \d+\.\d+ s \(2 results\)$", proc.stderr, re.MULTILINE
    )


def test_process_errors(words_file: Path, tmp_path: Path) -> None:
    proc = run_process("complete", tmp_path / "missing.txt", "a", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert_one_line_error(proc.stderr, "missing.txt", "No such file or directory")

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"one\ntwo\nthr\xffee\n")
    proc = run_process("complete", bad, "t", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert_one_line_error(proc.stderr, "line 3 is not valid UTF-8")

    proc = run_process("fuzzy", words_file, "x", "-d", "-2", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "Traceback" not in proc.stderr
    assert "must be a non-negative integer" in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="Windows reports a closed pipe as EINVAL")
def test_process_reader_closing_the_pipe_early(tmp_path: Path) -> None:
    """`python -m blart complete big.txt "" | head -1` ends quietly."""
    big = tmp_path / "big.txt"
    big.write_text("".join(f"line{i:07d}\n" for i in range(200_000)), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "blart", "complete", str(big), "line"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline() == b"line0000000\n"
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert stderr == b""
