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
from blart import BytesTreeMap, FrozenTreeMap, TreeMap
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


def test_fuzzy_closest(capsys: pytest.CaptureFixture[str], words_file: Path) -> None:
    status, out, _ = run(capsys, "fuzzy", words_file, "aple", "--closest", "3")
    assert status == 0
    words = sorted(set(WORDS), key=lambda w: (levenshtein("aple", w), w))[:3]
    assert out.splitlines() == [f"{w}\t{levenshtein('aple', w)}" for w in words]
    # A bound given with -d keeps only the lines within it.
    status, out, _ = run(capsys, "fuzzy", words_file, "aple", "-n", "10", "-d", "1")
    assert (status, out) == (0, "apple\t1\n")


def test_fuzzy_transpositions_and_prefix(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    status, out, _ = run(capsys, "fuzzy", words_file, "appel", "-d", "1")
    assert (status, out) == (0, "")  # "apple" is 2 edits away without swaps
    status, out, _ = run(capsys, "fuzzy", words_file, "appel", "-d", "1", "--transpositions")
    assert (status, out) == (0, "apple\t1\n")
    status, out, _ = run(capsys, "fuzzy", words_file, "bnan", "-d", "1", "--prefix")
    assert status == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        w
        for w in sorted(set(WORDS))
        if any(levenshtein("bnan", w[:i]) <= 1 for i in range(len(w) + 1))
    ]
    status, _, err = run(capsys, "fuzzy", words_file, "x", "--prefix", "--closest", "2")
    assert status == 2 and "cannot be combined" in err


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


# --- saved index: the index command and --index ----------------------------


@pytest.fixture
def index_file(capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path) -> Path:
    """The index of words_file, saved by the index command."""
    path = tmp_path / "words.blart"
    assert run(capsys, "index", words_file, path) == (0, "", "")
    return path


def test_index_saves_the_map_of_the_lines(index_file: Path, words_file: Path) -> None:
    saved = TreeMap.load(index_file)
    assert saved == cli.load_index(str(words_file)).tree  # line -> its first line number
    assert saved["apple"] == 2
    assert saved["apricot"] == 7  # after an empty line


@pytest.mark.parametrize(
    "argv",
    [
        ["complete", "ap"],
        ["complete", ""],
        ["complete", "caf"],
        ["fuzzy", "apple", "-d", "2"],
        ["fuzzy", "cane"],
        ["fuzzy", "café", "-d", "3"],
        ["range", "a", "c"],
        ["range", "c", "b"],
        ["longest-prefix", "/api/v1/users/42"],
        ["longest-prefix", "ap"],  # nothing found: exit status 1
        ["complete", "a", "--limit", "3"],
        ["fuzzy", "x", "-d", "1", "--limit", "2"],
    ],
)
def test_queries_on_a_saved_index_answer_as_on_the_file(
    capsys: pytest.CaptureFixture[str], words_file: Path, index_file: Path, argv: list[str]
) -> None:
    command, *rest = argv
    expected = run(capsys, command, words_file, *rest)
    assert run(capsys, command, "--index", index_file, *rest) == expected
    assert run(capsys, command, *rest, "--index", index_file) == expected
    assert run(capsys, command, f"--index={index_file}", *rest) == expected
    assert run(capsys, command, "--ind", index_file, *rest) == expected  # an abbreviation


def test_index_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake_stdin(monkeypatch, b"pear\nplum\npeach\n\npeach\r\n")
    path = tmp_path / "fruit.blart"
    assert run(capsys, "index", "-", path) == (0, "", "")
    assert run(capsys, "complete", "--index", path, "pe") == (0, "peach\npear\n", "")
    assert dict(TreeMap.load(path).items()) == {"pear": 1, "plum": 2, "peach": 3}


def test_index_of_an_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = tmp_path / "empty.txt"
    lines.write_bytes(b"\n\n")
    path = tmp_path / "empty.blart"
    assert run(capsys, "index", lines, path) == (0, "", "")
    assert run(capsys, "complete", "--index", path, "") == (0, "", "")
    assert run(capsys, "longest-prefix", "--index", path, "abc") == (1, "", "")


def test_index_replaces_an_existing_file(
    capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "words.blart"
    path.write_bytes(b"an older file")
    assert run(capsys, "index", words_file, path) == (0, "", "")
    assert len(FrozenTreeMap(path)) == len(set(WORDS))


def test_index_stats(capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "words.blart"
    status, out, err = run(capsys, "index", words_file, path, "--stats")
    assert (status, out) == (0, "")
    lines = err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        rf"python -m blart: build: \d+\.\d+ s \({len(WORDS) + 1} lines, {len(set(WORDS))} "
        rf"distinct, \d+ bytes of tree, from {re.escape(str(words_file))}\)",
        lines[0],
    ), lines[0]
    save = re.fullmatch(
        rf"python -m blart: save: \d+\.\d+ s \((\d+) bytes to {re.escape(str(path))}\)", lines[1]
    )
    assert save, lines[1]
    assert int(save.group(1)) == path.stat().st_size


def test_stats_with_a_saved_index_report_the_open(
    capsys: pytest.CaptureFixture[str], index_file: Path
) -> None:
    status, out, err = run(capsys, "complete", "--index", index_file, "ap", "--stats")
    assert (status, out) == (0, "app\napple\napplication\napply\napricot\n")
    lines = err.splitlines()
    assert len(lines) == 2
    opened = re.fullmatch(
        r"python -m blart: open: (\d+\.\d+) s \((\d+) keys, (\d+) bytes of file, from (.+)\)",
        lines[0],
    )
    assert opened, lines[0]
    assert float(opened.group(1)) >= 0
    assert int(opened.group(2)) == len(set(WORDS))
    assert int(opened.group(3)) == index_file.stat().st_size
    assert opened.group(4) == str(index_file)
    assert re.fullmatch(r"python -m blart: query: \d+\.\d+ s \(5 results\)", lines[1]), lines[1]


def test_an_index_written_by_save_serves_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "routes.blart"
    TreeMap({"/api/": "index", "/api/v1/": "v1"}).save(path)  # str values: only keys are shown
    assert run(capsys, "longest-prefix", "--index", path, "/api/v1/x") == (0, "/api/v1/\n", "")


def test_double_dash_ends_the_search_for_index(
    capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    """After --, "--index" is a query like any other (here a prefix nothing starts with)."""
    assert run(capsys, "complete", words_file, "--", "--index") == (0, "", "")
    assert not cli.uses_saved_index(["complete", "f", "--", "--index", "x"])
    assert cli.uses_saved_index(["complete", "--in", "x", "p"])
    assert not cli.uses_saved_index(["complete", "--", "x"])


def test_help_mentions_the_saved_index(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert "index" in out
    assert "--index PATH" in out
    status, out, _ = run(capsys, "complete", "--help")
    assert status == 0
    assert "--index PATH" in out
    status, out, _ = run(capsys, "index", "--help")
    assert status == 0
    assert "FILE" in out
    assert "OUT" in out


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flipped byte":
        data[len(data) // 2] ^= 0x10  # the checksum no longer matches
    elif how == "truncated":
        del data[len(data) - 8 :]
    elif how == "empty":
        data.clear()
    elif how == "header only":
        del data[64:]
    elif how == "text":
        data[:] = b"banana\napple\n"
    elif how == "bad magic":
        data[:8] = b"NOTBLART"
    elif how == "future version":
        data[8] = 99
    else:  # pragma: no cover
        raise AssertionError(how)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how",
    ["flipped byte", "truncated", "empty", "header only", "text", "bad magic", "future version"],
)
@pytest.mark.parametrize(
    "argv", [["complete", "a"], ["fuzzy", "apple"], ["range", "a", "b"], ["longest-prefix", "ab"]]
)
def test_damaged_index_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], index_file: Path, how: str, argv: list[str]
) -> None:
    damage(index_file, how)
    status, out, err = run(capsys, argv[0], "--index", index_file, *argv[1:])
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(index_file), "blart file")  # what blart.FormatError says


def test_damage_found_during_the_query_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], plain_nodes: None, index_file: Path
) -> None:
    """A key that is not UTF-8 under a valid checksum: the open accepts the
    file (it checks the structure, not each key's text), the query that
    makes that key reports it.  In a plain tree: a bucket's tags would
    give the damage away at open (tests/test_persistence.py)."""
    data = bytearray(index_file.read_bytes())
    assert data.count(b"ebra") == 1  # the suffix of "zebra", the only key under "z"
    at = data.index(b"ebra")
    data[at + 2] = 0xFF
    data[56:64] = blart_checksum(bytes(data)).to_bytes(8, "little")
    index_file.write_bytes(bytes(data))
    assert run(capsys, "complete", "--index", index_file, "b") == (0, "banana\nband\nbandana\n", "")
    status, out, err = run(capsys, "complete", "--index", index_file, "z")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(index_file), "UTF-8")


def blart_checksum(data: bytes) -> int:
    """The header's checksum of a file (docs/format.md): file[64:] then file[0:56]."""
    from blart import _blart

    return int(_blart._checksum(data[64:] + data[:56]))


def test_missing_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.blart"
    status, out, err = run(capsys, "complete", "--index", missing, "a")
    assert (status, out) == (1, "")
    assert_one_line_error(err, "cannot open index", str(missing), "No such file or directory")


def test_directory_as_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(capsys, "complete", "--index", tmp_path, "a")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(tmp_path))


def test_index_of_bytes_keys_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bytes.blart"
    BytesTreeMap({b"abc": 1, b"abd": 2}).save(path)
    status, out, err = run(capsys, "complete", "--index", path, "ab")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(path), "bytes keys")


def test_index_write_errors(
    capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "words.blart"
    status, out, err = run(capsys, "index", words_file, target)
    assert (status, out) == (1, "")
    assert_one_line_error(err, "cannot write", str(target))
    assert not target.parent.exists()

    status, out, err = run(capsys, "index", words_file, "-")
    assert (status, out) == (1, "")
    assert_one_line_error(err, "not to standard output")

    status, out, err = run(capsys, "index", tmp_path / "missing.txt", tmp_path / "x.blart")
    assert (status, out) == (1, "")
    assert_one_line_error(err, "missing.txt", "No such file or directory")
    assert not (tmp_path / "x.blart").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "{f}"], "the following arguments are required: OUT"),
        (["index"], "the following arguments are required: FILE, OUT"),
        (["complete", "--index", "{i}"], "the following arguments are required: PREFIX"),
        (["range", "--index", "{i}", "a"], "the following arguments are required: STOP"),
        (["complete", "--index"], "argument --index: expected one argument"),
        (["complete", "--index", "{i}", "{f}", "a"], "unrecognized arguments: a"),
        (["index", "{f}", "{i}", "--index", "{i}"], "unrecognized arguments: --index"),
        (["index", "{f}", "{i}", "--limit", "3"], "unrecognized arguments: --limit 3"),
    ],
)
def test_saved_index_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    index_file: Path,
    argv: list[str],
    message: str,
) -> None:
    status, out, err = run(capsys, *[a.format(f=words_file, i=index_file) for a in argv])
    assert (status, out) == (2, "")
    assert "Traceback" not in err
    assert err.startswith("usage: python -m blart")
    assert message in err.splitlines()[-1]


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


def test_process_saved_index(words_file: Path, tmp_path: Path) -> None:
    index = tmp_path / "words.blart"
    proc = run_process("index", words_file, index, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    proc = run_process("complete", "--index", index, "band", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "band\nbandana\n", "")
    proc = run_process("fuzzy", "--index", index, "cafe", "-d", "1", "--stats", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "cafe\t0\ncafé\t1\ncane\t1\n")
    assert re.search(r"^python -m blart: open: \d+\.\d+ s \(", proc.stderr, re.MULTILINE)


def test_process_damaged_index(words_file: Path, tmp_path: Path) -> None:
    index = tmp_path / "words.blart"
    assert run_process("index", words_file, index, cwd=tmp_path).returncode == 0
    damage(index, "flipped byte")
    proc = run_process("complete", "--index", index, "a", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert_one_line_error(proc.stderr, str(index), "checksum")


# --- numeric options --------------------------------------------------------

# Every numeric option of every subcommand: the subcommand, its other
# arguments, and the option.
NUMERIC_OPTIONS = [
    ("complete", ["ap"], "--limit"),
    ("fuzzy", ["apple"], "--limit"),
    ("range", ["a", "c"], "--limit"),
    ("longest-prefix", ["apples"], "--limit"),
    ("fuzzy", ["apple"], "-d"),
    ("fuzzy", ["apple"], "--max-distance"),
]
TOO_LARGE = str(sys.maxsize + 1)

BAD_COUNTS = [
    (TOO_LARGE, f"must be at most {sys.maxsize}, got {TOO_LARGE}"),
    ("9" * 5000, f"must be at most {sys.maxsize}, got {'9' * 20}..."),  # over int()'s 4300 digits
    ("0" * 30 + TOO_LARGE, f"must be at most {sys.maxsize}, got {'0' * 20}..."),
    ("-1", "must be a non-negative integer, got -1"),
    (str(-sys.maxsize - 2), f"must be a non-negative integer, got {-sys.maxsize - 2}"),
    ("-" + "9" * 5000, f"must be a non-negative integer, got -{'9' * 19}..."),
    ("1.5", "expected a non-negative integer, got '1.5'"),
    ("1e3", "expected a non-negative integer, got '1e3'"),
    ("0x10", "expected a non-negative integer, got '0x10'"),
    ("1_000", "expected a non-negative integer, got '1_000'"),  # int() takes these four
    (" 7", "expected a non-negative integer, got ' 7'"),
    ("+7", "expected a non-negative integer, got '+7'"),
    ("\u0663", "expected a non-negative integer, got '\u0663'"),  # ARABIC-INDIC DIGIT THREE
    ("", "expected a non-negative integer, got ''"),
    ("x" * 100, f"expected a non-negative integer, got '{'x' * 20}...'"),
]


@pytest.mark.parametrize(("value", "message"), BAD_COUNTS)
@pytest.mark.parametrize(("command", "args", "option"), NUMERIC_OPTIONS)
@pytest.mark.parametrize("source", ["file", "index"])
def test_bad_counts_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    index_file: Path,
    source: str,
    command: str,
    args: list[str],
    option: str,
    value: str,
    message: str,
) -> None:
    where = [words_file] if source == "file" else ["--index", index_file]
    status, out, err = run(capsys, command, *where, *args, f"{option}={value}")
    assert (status, out) == (2, "")
    assert "Traceback" not in err
    assert err.startswith(f"usage: python -m blart {command}")
    name = "-d/--max-distance" if option in ("-d", "--max-distance") else option
    assert err.splitlines()[-1] == (f"python -m blart {command}: error: argument {name}: {message}")


@pytest.mark.parametrize(("command", "args", "option"), NUMERIC_OPTIONS)
def test_the_largest_count_is_accepted(
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    command: str,
    args: list[str],
    option: str,
) -> None:
    """sys.maxsize means "all of them"; leading zeros are only zeros."""
    if option == "--limit":
        expected = run(capsys, command, words_file, *args)
    else:  # any line is within that distance
        expected = run(capsys, command, words_file, *args, option, "1000")
    for value in [str(sys.maxsize), "0" * 5000 + str(sys.maxsize)]:
        assert run(capsys, command, words_file, *args, option, value) == expected
    assert run(capsys, command, words_file, *args, option, "007") == run(
        capsys, command, words_file, *args, option, "7"
    )


def test_process_huge_limit_is_a_usage_error(words_file: Path, tmp_path: Path) -> None:
    """Issue #21: `complete words.txt ap --limit 9223372036854775808` ended in a traceback."""
    proc = run_process("complete", words_file, "ap", "--limit", "9223372036854775808", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "python -m blart complete: error: argument --limit: "
        f"must be at most {sys.maxsize}, got 9223372036854775808"
    )


# --- pickled values and --allow-pickle ----------------------------------------


@pytest.fixture
def pickled_index(tmp_path: Path) -> Path:
    """An index whose values are pickled (not one the index command writes)."""
    path = tmp_path / "pickled.blart"
    TreeMap({"apple": complex(1, 2), "apricot": [2], "banana": 3}).save(path, allow_pickle=True)
    return path


def test_an_index_of_pickled_values_names_the_flag(
    capsys: pytest.CaptureFixture[str], pickled_index: Path
) -> None:
    status, out, err = run(capsys, "complete", "--index", pickled_index, "ap")
    assert (status, out) == (1, "")
    assert_one_line_error(err, str(pickled_index), "pickled values", "pass --allow-pickle")
    assert "allow_pickle=True" not in err  # the Python argument, which a CLI user cannot pass


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["complete", "ap"], "apple\napricot\n"),
        (["fuzzy", "banan"], "banana\t1\n"),
        (["range", "b", "c"], "banana\n"),
        (["longest-prefix", "apples"], "apple\n"),
    ],
)
def test_allow_pickle_reads_an_index_of_pickled_values(
    capsys: pytest.CaptureFixture[str], pickled_index: Path, argv: list[str], expected: str
) -> None:
    command, *rest = argv
    assert run(capsys, command, "--index", pickled_index, *rest, "--allow-pickle") == (
        0,
        expected,
        "",
    )


def test_allow_pickle_on_an_index_without_pickles(
    capsys: pytest.CaptureFixture[str], index_file: Path
) -> None:
    expected = run(capsys, "complete", "--index", index_file, "ap")
    assert run(capsys, "complete", "--index", index_file, "ap", "--allow-pickle") == expected


def test_a_damaged_index_of_pickled_values_reports_the_damage(
    capsys: pytest.CaptureFixture[str], pickled_index: Path
) -> None:
    """Damage that is found only after the refusal (here the values section's
    magic, under a valid checksum) is reported, not the refusal."""
    data = bytearray(pickled_index.read_bytes())
    nodes_size = int.from_bytes(data[40:48], "little")
    data[64 + nodes_size] ^= 0xFF
    data[56:64] = blart_checksum(bytes(data)).to_bytes(8, "little")
    pickled_index.write_bytes(bytes(data))
    for extra in [[], ["--allow-pickle"]]:
        status, out, err = run(capsys, "complete", "--index", pickled_index, "ap", *extra)
        assert (status, out) == (1, "")
        assert_one_line_error(err, str(pickled_index), "blart file")
        assert "--allow-pickle" not in err


def test_damaged_index_errors_do_not_ask_for_pickles(
    capsys: pytest.CaptureFixture[str], index_file: Path
) -> None:
    damage(index_file, "flipped byte")
    status, _, err = run(capsys, "complete", "--index", index_file, "a")
    assert status == 1
    assert "pickle" not in err


@pytest.mark.parametrize("command", ["complete", "fuzzy", "range", "longest-prefix"])
def test_allow_pickle_without_index_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], words_file: Path, command: str
) -> None:
    args = ["a", "b"] if command == "range" else ["a"]
    status, out, err = run(capsys, command, words_file, *args, "--allow-pickle")
    assert (status, out) == (2, "")
    assert err.startswith("usage: python -m blart")
    assert err.splitlines()[-1] == (
        "python -m blart: error: --allow-pickle applies to an index read with --index"
    )


def test_index_command_has_no_allow_pickle(
    capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path
) -> None:
    """The index command writes int values: nothing of it is ever pickled."""
    status, _, err = run(capsys, "index", words_file, tmp_path / "w.blart", "--allow-pickle")
    assert status == 2
    assert "unrecognized arguments: --allow-pickle" in err


def test_help_warns_against_rewriting_an_open_index(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "complete", "--help")
    assert status == 0
    text = " ".join(out.split())  # argparse wraps the help
    assert "never truncate or rewrite it in place while a query has it open" in text
    assert "(SIGBUS or SIGSEGV)" in text
    assert "a rename (mv, os.replace), which is safe" in text
    assert "--allow-pickle" in text
    assert "only for files you trust" in text


# --- progress while indexing --------------------------------------------------


class Clock:
    """A fake progress clock: each reading is ``step`` seconds after the last."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class TtyText(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def many_lines(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "many.txt"
    path.write_text("".join(f"w{i:05d}\n" for i in range(count)), encoding="utf-8")
    return path


def progress_lines(err: str) -> list[str]:
    """The successive states of the progress line: what each \\r starts."""
    assert err.endswith("\n")
    return [part.rstrip() for part in err[:-1].split("\r")[1:]]


PROGRESS_LINE = re.compile(
    r"python -m blart: indexing (.+): ([\d,]+) lines, (\d+\.\d) s, ([\d,]+) lines/s"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "{f}", "{o}"],
        ["complete", "{f}", "w000"],
        ["fuzzy", "{f}", "w00000"],
        ["range", "{f}", "w", "x", "--limit", "1"],
        ["longest-prefix", "{f}", "w00001x", "--stats"],
    ],
)
def test_no_progress_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(cli, "PROGRESS_INTERVAL", 0)
    monkeypatch.setattr(cli, "PROGRESS_CHUNK", 10)
    monkeypatch.setattr(cli, "_now", Clock(1.0))
    path = many_lines(tmp_path, 100)
    out_path = tmp_path / "many.blart"
    status, _, err = run(capsys, *[a.format(f=path, o=out_path) for a in argv])
    assert status == 0
    assert "indexing" not in err
    assert "\r" not in err
    if "--stats" not in argv:
        assert err == ""


def read_available(fd: int) -> bytes:
    import select

    chunks = []
    while select.select([fd], [], [], 0)[0]:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:  # EIO: the other end is closed
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize(
    ("argv", "stdout"),
    [
        (["index", "{f}", "{o}"], ""),
        (["complete", "{f}", "w0009"], "".join(f"w{i:05d}\n" for i in range(90, 100))),
        (["longest-prefix", "{f}", "w00042/x"], "w00042\n"),
    ],
)
def test_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    stdout: str,
) -> None:
    """Standard error a real terminal (a pty): the line is rewritten with \\r
    as lines are indexed, then ended with a newline."""
    import tty

    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(cli, "PROGRESS_CHUNK", 25)
    monkeypatch.setattr(cli, "_now", Clock(1.0))  # every look at the clock is a refresh
    path = many_lines(tmp_path, 100)
    primary, secondary = os.openpty()
    tty.setraw(secondary)  # bytes as written: no \n -> \r\n
    try:
        with open(secondary, "w", encoding="utf-8", closefd=False) as terminal:
            monkeypatch.setattr(sys, "stderr", terminal)
            status = main([a.format(f=path, o=tmp_path / "many.blart") for a in argv])
            terminal.flush()
        err = read_available(primary).decode("utf-8")
    finally:
        os.close(secondary)
        os.close(primary)
    assert (status, capsys.readouterr().out) == (0, stdout)
    states = progress_lines(err)
    # One per chunk of 25 of the 101 pieces split off (the last one empty),
    # and the final count.
    assert len(states) == 6
    counts = []
    for state in states:
        match = PROGRESS_LINE.fullmatch(state)
        assert match, state
        assert match.group(1) == str(path)
        counts.append(int(match.group(2).replace(",", "")))
    assert counts == [25, 50, 75, 100, 100, 100]
    # The clock moves 1 s per reading: the first at the start, one per state.
    assert PROGRESS_LINE.fullmatch(states[-1]).groups()[2:] == ("6.0", "17")  # type: ignore[union-attr]
    assert err.count("\n") == 1


def test_progress_waits_and_refreshes_a_few_times_a_second(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Defaults: nothing in the first 0.5 s, then at most every 0.25 s."""
    assert (cli.PROGRESS_DELAY, cli.PROGRESS_INTERVAL) == (0.5, 0.25)
    monkeypatch.setattr(cli, "PROGRESS_CHUNK", 1)  # a look at the clock per line
    monkeypatch.setattr(cli, "_now", Clock(1 / 128))  # a line per 1/128 s, exact in binary
    terminal = TtyText()
    monkeypatch.setattr(sys, "stderr", terminal)
    path = many_lines(tmp_path, 1000)  # 7.8 s
    assert len(cli.load_index(str(path)).tree) == 1000
    states = progress_lines(terminal.getvalue())
    counts = [int(PROGRESS_LINE.fullmatch(s).group(2).replace(",", "")) for s in states]  # type: ignore[union-attr]
    # The first after 64 lines (0.5 s), then one per 32 lines (0.25 s), then the end.
    assert counts == [*range(64, 1001, 32), 1000]


def test_a_shorter_progress_line_blanks_the_longer_one(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(0.0)
    monkeypatch.setattr(cli, "_now", clock)
    terminal = TtyText()
    progress = cli.Progress("f", terminal)
    clock.now += 1
    progress.update(1_000_000)  # 1,000,000 lines/s
    clock.now += 999
    progress.update(1_000_000)  # 1,000 lines/s
    progress.close()
    parts = terminal.getvalue().split("\r")[1:]
    assert parts[0] == "python -m blart: indexing f: 1,000,000 lines, 1.0 s, 1,000,000 lines/s"
    assert parts[1] == "python -m blart: indexing f: 1,000,000 lines, 1000.0 s, 1,000 lines/s "
    assert parts[2] == parts[1] + "\n"


def test_no_progress_for_a_quick_build_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], words_file: Path
) -> None:
    monkeypatch.setattr(cli, "_now", Clock(0.0))  # no time passes
    terminal = TtyText()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["complete", str(words_file), "ap"]) == 0
    assert terminal.getvalue() == ""


def test_no_progress_for_a_saved_index(monkeypatch: pytest.MonkeyPatch, index_file: Path) -> None:
    """--index builds nothing, so there is nothing to show."""
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(cli, "_now", Clock(1.0))
    terminal = TtyText()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["complete", "--index", str(index_file), "ap"]) == 0
    assert terminal.getvalue() == ""


def test_an_interrupted_build_ends_the_progress_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    clock = Clock(1.0)
    readings = 0

    def interrupted() -> float:
        nonlocal readings
        readings += 1
        if readings == 4:  # after two refreshes
            raise KeyboardInterrupt
        return clock()

    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(cli, "PROGRESS_CHUNK", 10)
    monkeypatch.setattr(cli, "_now", interrupted)
    terminal = TtyText()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["index", str(many_lines(tmp_path, 100)), str(tmp_path / "x.blart")]) == 130
    assert [s.split(": ")[2] for s in progress_lines(terminal.getvalue())] == [
        "10 lines, 1.0 s, 10 lines/s",
        "20 lines, 2.0 s, 10 lines/s",
        "30 lines, 3.0 s, 10 lines/s",  # the interrupted look at the clock read none
    ]
    assert not (tmp_path / "x.blart").exists()


@pytest.mark.parametrize("broken", ["none", "closed", "isatty fails"])
def test_no_progress_without_a_usable_stderr(
    monkeypatch: pytest.MonkeyPatch, words_file: Path, broken: str
) -> None:
    class Failing(TtyText):
        def isatty(self) -> bool:
            raise OSError(5, "Input/output error")

    stream: object = None
    if broken == "closed":
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        stream.close()  # type: ignore[attr-defined]
    elif broken == "isatty fails":
        stream = Failing()
    monkeypatch.setattr(sys, "stderr", stream)
    assert cli.Progress.on_stderr("x") is None
    assert len(cli.load_index(str(words_file)).tree) == len(set(WORDS))


# --- find: the lines as terms, found inside a text ---------------------------


def find_reference(terms: set[str], text: str, overlapping: bool, whole: bool) -> list[str]:
    """Every match by brute force, as the command prints it."""

    def word(c: str) -> bool:
        return c.isalnum() or c == "_"

    out, i = [], 0
    while i < len(text):
        here = sorted(
            (
                t
                for t in terms
                if text.startswith(t, i)
                and not (
                    whole
                    and (
                        (i > 0 and word(text[i - 1]))
                        or (i + len(t) < len(text) and word(text[i + len(t)]))
                    )
                )
            ),
            key=len,
        )
        if overlapping:
            out += [f"{i}\t{i + len(t)}\t{t}" for t in here]
            i += 1
        elif here:
            out.append(f"{i}\t{i + len(here[-1])}\t{here[-1]}")
            i += len(here[-1])
        else:
            i += 1
    return out


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text("\ufeffapple pie at the café; bandanas and cane-candy\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("overlapping", [False, True])
@pytest.mark.parametrize("whole", [False, True])
def test_find_prints_each_term_found_in_the_text(
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    text_file: Path,
    overlapping: bool,
    whole: bool,
) -> None:
    flags = (["--overlapping"] if overlapping else []) + (["--whole-words"] if whole else [])
    text = text_file.read_text(encoding="utf-8").removeprefix("\ufeff")
    want = find_reference(set(WORDS), text, overlapping, whole)
    assert want  # the text holds terms in every mode
    status, out, err = run(capsys, "find", words_file, text_file, *flags)
    assert (status, out, err) == (0, "".join(line + "\n" for line in want), "")
    for line in want:
        start, end, term = line.split("\t")
        assert text[int(start) : int(end)] == term


def test_find_examples(capsys: pytest.CaptureFixture[str], words_file: Path, text_file: Path):
    # Offsets are code points of the text after its byte order mark: "café"
    # is 4 characters (5 bytes); the longest term at a position wins.
    status, out, _ = run(capsys, "find", words_file, text_file, "--whole-words")
    assert status == 0
    assert out.splitlines() == ["0\t5\tapple", "17\t21\tcafé", "36\t40\tcane", "41\t46\tcandy"]
    status, out, _ = run(capsys, "find", words_file, text_file, "--limit", "2")
    assert out.splitlines() == ["0\t5\tapple", "17\t21\tcafé"]


def test_find_on_a_saved_index_and_from_stdin(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    words_file: Path,
    index_file: Path,
    text_file: Path,
) -> None:
    expected = run(capsys, "find", words_file, text_file)
    assert run(capsys, "find", "--index", index_file, text_file) == expected
    fake_stdin(monkeypatch, text_file.read_bytes())
    assert run(capsys, "find", "--index", index_file, "-") == expected


def test_find_without_match_exits_1_silently(
    capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "nothing.txt"
    path.write_text("xyz qqq", encoding="utf-8")
    assert run(capsys, "find", words_file, path) == (1, "", "")


def test_find_errors(capsys: pytest.CaptureFixture[str], words_file: Path, tmp_path: Path) -> None:
    status, out, err = run(capsys, "find", words_file, tmp_path / "missing.txt")
    assert status == 1 and out == ""
    assert_one_line_error(err, "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\n")
    status, out, err = run(capsys, "find", words_file, bad)
    assert status == 1 and out == ""
    assert_one_line_error(err, "bad.txt")
    status, _, err = run(capsys, "find", "-", "-")
    assert status == 2 and "both come from standard input" in err
    status, _, err = run(capsys, "find", words_file)
    assert status == 2 and "TEXT_FILE" in err
