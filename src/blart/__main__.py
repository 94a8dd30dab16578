"""``python -m blart``: look up lines of a text file, like Unix ``look``.

The file (or standard input, given as ``-``) is read as UTF-8, one key per
line, into a :class:`blart.TreeMap` that maps each distinct line to the
number of the line where it first appears.  A subcommand then asks the map
one question and prints the answer, one line per result, in sorted order::

    python -m blart complete /usr/share/dict/words inter
    python -m blart fuzzy /usr/share/dict/words recieve -d 2
    python -m blart fuzzy /usr/share/dict/words recieve -n 5 --transpositions
    python -m blart range /usr/share/dict/words cat cau
    python -m blart longest-prefix routes.txt /api/v1/users/42
    python -m blart find terms.txt article.txt --whole-words

``index`` saves that map to a file (:meth:`blart.TreeMap.save`), and every
query subcommand takes ``--index PATH`` in place of the text file: the
saved map is then opened as a :class:`blart.FrozenTreeMap`, which reads it
in place instead of building anything::

    python -m blart index /usr/share/dict/words words.blart
    python -m blart complete --index words.blart inter

A build from a file that takes more than half a second shows its progress
(lines indexed, their rate) on standard error, if that is a terminal.

``find`` takes the lines as a dictionary of terms and prints every term
found in a second text file as ``START<TAB>END<TAB>TERM`` (offsets in code
points of that text, as Python indexes it), leftmost-longest by default.

Exit status: 0 on success, 1 when ``longest-prefix`` or ``find`` finds
nothing or on a runtime error (unreadable file, invalid UTF-8, a damaged index file), 2 on
a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import BinaryIO, NamedTuple, TextIO

from blart import FormatError, FrozenTreeMap, TreeMap, __version__

PROG = "python -m blart"
STDIN_NAME = "-"

# Exit statuses.
EXIT_OK = 0
EXIT_FAILURE = 1  # a runtime error, or longest-prefix found nothing
EXIT_USAGE = 2  # what argparse uses for bad arguments
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A runtime error reported as one line on stderr with exit status 1."""


class Index(NamedTuple):
    """The map built from a file, and what was read to build it."""

    tree: TreeMap[int]
    lines_read: int  # non-empty lines, duplicates included


# What the queries run on: a map built from lines, or a saved one opened in place.
Queryable = TreeMap[int] | FrozenTreeMap[int]


# The largest count an option takes: what a Python sequence index can be.
# A larger --limit or --max-distance would mean nothing more (no file has
# that many lines, no line that many characters).
MAX_COUNT = sys.maxsize


def _shown(text: str) -> str:
    """``text`` for an error message, cut short if it is long."""
    return text if len(text) <= 40 else text[:20] + "..."


def _non_negative_int(text: str) -> int:
    """An option's count: ASCII decimal digits, at most MAX_COUNT.

    Stricter than int(), which also takes "1_000", " 7", "+7" and digits of
    other scripts ("٣"): a count on a command line is plain digits.
    """
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {_shown(text)!r}")
    significant = digits.lstrip("0") or "0"
    if negative and significant != "0":
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {_shown(text)}")
    # Compare lengths first: int() refuses strings of over 4300 digits.
    if len(significant) > len(str(MAX_COUNT)) or int(significant) > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT}, got {_shown(text)}")
    return int(significant)


def uses_saved_index(argv: Sequence[str]) -> bool:
    """Whether ``argv`` has ``--index`` (or an abbreviation of it) before any ``--``.

    The query subcommands take either FILE or ``--index PATH``; argparse
    cannot tell an omitted leading positional from the next one, so the
    parser is built for one form or the other (see :func:`build_parser`).
    """
    for arg in argv:
        if arg == "--":
            return False
        name = arg.split("=", 1)[0]
        if len(name) >= 3 and "--index".startswith(name):
            return True
    return False


def build_parser(saved_index: bool = False) -> argparse.ArgumentParser:
    """The argument parser of ``python -m blart`` (one subparser per command).

    With ``saved_index``, the query subcommands take their map from
    ``--index PATH`` and have no FILE argument.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Index the lines of a UTF-8 text file in a blart TreeMap (an adaptive radix\n"
            "tree) and look them up by prefix, edit distance, range or longest prefix.\n"
            "Trailing newlines (LF or CRLF) are stripped and empty lines ignored; results\n"
            "come out in sorted (code point) order, each distinct line once.\n"
            "`index` saves the map to a file that the queries open with --index PATH\n"
            "instead of reading FILE: nothing is built, the file is read in place.\n"
            "A build that takes over 0.5 s shows its progress on stderr if it is a terminal."
        ),
        epilog=(
            "examples:\n"
            "  python -m blart complete /usr/share/dict/words inter --limit 10\n"
            "  python -m blart fuzzy /usr/share/dict/words recieve -d 2\n"
            "  python -m blart range /usr/share/dict/words cat cau --stats\n"
            "  printf '/api/\\n/api/v1/\\n' | python -m blart longest-prefix - /api/v1/users\n"
            "  python -m blart index /usr/share/dict/words words.blart\n"
            "  python -m blart complete --index words.blart inter --stats\n"
            "  python -m blart find --index words.blart article.txt --whole-words\n"
            "\n"
            "exit status: 0 on success, 1 if longest-prefix or find finds nothing or on a\n"
            "runtime error (unreadable file, invalid UTF-8, damaged index), 2 on a usage\n"
            "error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (blart {__version__})")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--limit",
        type=_non_negative_int,
        metavar="N",
        help="print at most N results",
    )
    common.add_argument(
        "--stats",
        action="store_true",
        help="print the time taken to build (or with --index, open) the index and to "
        "answer the query to stderr",
    )
    common.add_argument(
        "--index",
        metavar="PATH",
        help="query the index saved in PATH by the index command, instead of FILE. "
        "The file is memory-mapped: never truncate or rewrite it in place while a "
        "query has it open (cp new.blart PATH, > PATH), which kills that process "
        "(SIGBUS or SIGSEGV); replace it with the index command or a rename (mv, "
        "os.replace), which is safe",
    )
    common.add_argument(
        "--allow-pickle",
        action="store_true",
        help="with --index, read an index that holds pickled values (saved by "
        "TreeMap.save(..., allow_pickle=True)); reading them runs code from the "
        "file, so only for files you trust",
    )

    def file_argument(sub: argparse.ArgumentParser) -> None:
        if saved_index:
            return  # --index PATH takes its place
        sub.add_argument(
            "file",
            metavar="FILE",
            help="newline-separated UTF-8 text file, or - for stdin (left out with --index)",
        )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    complete = commands.add_parser(
        "complete",
        parents=[common],
        help="lines starting with PREFIX",
        description="Print the lines that start with PREFIX, in sorted order.",
    )
    file_argument(complete)
    complete.add_argument("prefix", metavar="PREFIX", help="the text the lines must start with")

    fuzzy = commands.add_parser(
        "fuzzy",
        parents=[common],
        help="lines within edit distance N of WORD",
        description=(
            "Print the lines within Levenshtein distance N of WORD (counted in code points) "
            "as LINE<TAB>DISTANCE, in sorted order of the lines; with --closest K, the K "
            "lines nearest to WORD instead, by distance and then line."
        ),
    )
    file_argument(fuzzy)
    fuzzy.add_argument("word", metavar="WORD", help="the (possibly misspelt) word to match")
    fuzzy.add_argument(
        "-d",
        "--max-distance",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="largest edit distance to report (default: 1, or no bound with --closest)",
    )
    fuzzy.add_argument(
        "-t",
        "--transpositions",
        action="store_true",
        help="count swapping two adjacent characters as one edit",
    )
    fuzzy.add_argument(
        "-p",
        "--prefix",
        action="store_true",
        help="match the lines that start with something within N of WORD (search as you type)",
    )
    fuzzy.add_argument(
        "-n",
        "--closest",
        type=_non_negative_int,
        default=None,
        metavar="K",
        help="print the K nearest lines, by distance and then line",
    )

    range_ = commands.add_parser(
        "range",
        parents=[common],
        help="lines with START <= line < STOP",
        description="Print the lines from START (included) to STOP (excluded), in sorted order.",
    )
    file_argument(range_)
    range_.add_argument("start", metavar="START", help="smallest line to print (included)")
    range_.add_argument("stop", metavar="STOP", help="where to stop (excluded)")

    longest = commands.add_parser(
        "longest-prefix",
        parents=[common],
        help="the longest line that is a prefix of KEY",
        description=(
            "Print the longest line that is a prefix of KEY (KEY itself included); "
            "exit with status 1, printing nothing, if there is none."
        ),
    )
    file_argument(longest)
    longest.add_argument(
        "key", metavar="KEY", help="the text whose longest prefix among the lines to print"
    )

    find = commands.add_parser(
        "find",
        parents=[common],
        help="every line of FILE found inside the text of TEXT_FILE",
        description=(
            "Take the lines of FILE as a dictionary of terms and print each term found "
            "inside the UTF-8 text of TEXT_FILE as START<TAB>END<TAB>TERM, where START "
            "and END are offsets in code points (text[START:END] == TERM, a leading byte "
            "order mark left out). By default the matches are leftmost-longest and do "
            "not overlap: at each position the longest term starting there, then on "
            "from its end. Exit with status 1, printing nothing, if no term is found."
        ),
    )
    file_argument(find)
    find.add_argument("text", metavar="TEXT_FILE", help="the UTF-8 text to search, or - for stdin")
    find.add_argument(
        "--overlapping",
        action="store_true",
        help="print every occurrence: for each start, each term starting there, shortest first",
    )
    find.add_argument(
        "--whole-words",
        action="store_true",
        help="only terms with no letter, digit or _ just before or after them",
    )

    index = commands.add_parser(
        "index",
        help="save the index of FILE's lines to OUT, for --index",
        description=(
            "Index the lines of FILE (as the query commands do) and save the map, line -> "
            "number of its first occurrence, to OUT. The query commands then take "
            "--index OUT instead of FILE: they open the saved map in place, building "
            "nothing. OUT is written atomically (a temporary file renamed over it)."
        ),
    )
    index.add_argument(
        "file", metavar="FILE", help="newline-separated UTF-8 text file, or - for stdin"
    )
    index.add_argument("out", metavar="OUT", help="the index file to write")
    index.add_argument(
        "--stats",
        action="store_true",
        help="print the time taken to build and to save the index to stderr",
    )

    return parser


def _display_name(path: str) -> str:
    return "<stdin>" if path == STDIN_NAME else path


def _read_bytes(path: str) -> bytes:
    if path == STDIN_NAME:
        stream: BinaryIO | None = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise CliError("cannot read standard input: it is not open")
        return stream.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot read {path!r}: {reason}") from None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line_number = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - line_start + 1
        bad = " ".join(f"0x{byte:02x}" for byte in data[exc.start : exc.end])
        raise CliError(
            f"{name}: line {line_number} is not valid UTF-8 ({exc.reason} {bad} at byte {column} of the line)"
        ) from None


# Progress while a file is indexed, shown only on a terminal.
PROGRESS_DELAY = 0.5  # seconds of work before the first line: a quick build shows none
PROGRESS_INTERVAL = 0.25  # at most four refreshes a second
PROGRESS_CHUNK = 1 << 14  # lines indexed between two looks at the clock
_now = time.monotonic  # the progress clock (the tests replace it)


class Progress:
    """Lines indexed so far and the rate, on one line of ``stream`` rewritten with ``\\r``.

    Nothing is written before PROGRESS_DELAY has passed, nor more often than
    every PROGRESS_INTERVAL; :meth:`close` ends a line it started with a
    newline, so whatever follows on the terminal starts on a line of its own.
    """

    def __init__(self, name: str, stream: TextIO) -> None:
        self.name = name
        self.stream = stream
        self.started = _now()
        self.shown_at: float | None = None  # when the line was last written
        self.width = 0  # of the longest line written, to blank what a shorter one leaves
        self.lines = 0

    @classmethod
    def on_stderr(cls, name: str) -> Progress | None:
        """A Progress on standard error if it is a terminal, else None."""
        stream = sys.stderr
        try:
            if stream is None or not stream.isatty():
                return None
        except (OSError, ValueError):  # closed, or a stream without a file
            return None
        return cls(name, stream)

    def _write(self, now: float, end: str) -> None:
        elapsed = now - self.started
        rate = f"{self.lines / elapsed:,.0f} lines/s" if elapsed > 0 else "- lines/s"
        text = f"{PROG}: indexing {self.name}: {self.lines:,} lines, {elapsed:.1f} s, {rate}"
        self.width = max(self.width, len(text))
        self.stream.write(f"\r{text:<{self.width}}{end}")
        self.stream.flush()
        self.shown_at = now

    def update(self, lines: int) -> None:
        self.lines = lines
        now = _now()
        if self.shown_at is None:
            if now - self.started >= PROGRESS_DELAY:
                self._write(now, "")
        elif now - self.shown_at >= PROGRESS_INTERVAL:
            self._write(now, "")

    def close(self) -> None:
        """Ends the line with the final count, if a line was started."""
        if self.shown_at is not None:
            self._write(_now(), "\n")


def load_index(path: str) -> Index:
    """Reads ``path`` (``-`` for stdin) into a TreeMap of line -> first line number.

    Shows progress on standard error while it builds, if that is a terminal.
    """
    name = _display_name(path)
    progress = Progress.on_stderr(name)
    try:
        return _load_lines(path, name, progress)
    finally:
        if progress is not None:
            progress.close()


def _load_lines(path: str, name: str, progress: Progress | None) -> Index:
    text = _decode(_read_bytes(path), name)
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the first line
    tree: TreeMap[int] = TreeMap()
    lines_read = 0
    # Split on "\n" only: str.splitlines() would also split on \v, \f, \x1c, U+2028 and others.
    lines = text.split("\n")
    del text
    # In chunks, so that the clock is read once per chunk, not once per line.
    for start in range(0, len(lines), PROGRESS_CHUNK):
        for number, raw_line in enumerate(lines[start : start + PROGRESS_CHUNK], start + 1):
            line = raw_line.removesuffix("\r")
            if line:
                lines_read += 1
                tree.setdefault(line, number)
        if progress is not None:
            progress.update(lines_read)
    return Index(tree, lines_read)


def _index_error(path: str, exc: Exception) -> CliError:
    """The error of a damaged index file, naming the file once."""
    message = str(exc)
    if path not in message and os.path.abspath(path) not in message:
        message = f"{path}: {message}"
    return CliError(message)


def _open_error(path: str, exc: ValueError, allow_pickle: bool) -> CliError:
    """The error to report when opening ``path`` raised ``exc``.

    Without --allow-pickle, a file that is refused for holding pickled
    values is opened once more with them allowed: that runs no pickle (a
    FrozenTreeMap decodes a value when it is read), and tells a refusal
    from damage with blart's own checks rather than by reading the header
    or the wording of the message.
    """
    if allow_pickle or isinstance(exc, FormatError):
        return _index_error(path, exc)
    try:
        FrozenTreeMap(path, allow_pickle=True)
    except OSError:
        return _index_error(path, exc)
    except ValueError as damage:  # damaged as well: that is what the user needs to know
        return _index_error(path, damage)
    return CliError(
        f"{path}: the index holds pickled values, and reading them runs code from "
        "the file; pass --allow-pickle to read it (only if you trust it)"
    )


def open_saved_index(path: str, allow_pickle: bool = False) -> FrozenTreeMap[int]:
    """Opens an index file written by the ``index`` command (or by ``TreeMap.save``)."""
    try:
        tree: FrozenTreeMap[int] = FrozenTreeMap(path, allow_pickle=allow_pickle)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot open index {path!r}: {reason}") from None
    except ValueError as exc:  # blart.FormatError, and anything else that is not a map file
        raise _open_error(path, exc, allow_pickle) from None
    if tree.key_type is not str:
        raise CliError(f"{path}: the index has bytes keys; it must hold lines of text")
    return tree


def save_index(index: Index, out: str) -> int:
    """Saves the map to ``out``; the size of the file written."""
    if out == STDIN_NAME:
        raise CliError("an index is written to a file, not to standard output")
    try:
        index.tree.save(out)
        return os.path.getsize(out)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot write {out!r}: {reason}") from None


def run_query(args: argparse.Namespace, tree: Queryable) -> tuple[list[str], bool]:
    """Answers the subcommand: the output lines, and whether anything was found."""
    results: Iterator[str]
    if args.command == "complete":
        results = (key for key, _ in tree.prefix_iter(args.prefix))
    elif args.command == "fuzzy":
        if args.closest is not None:
            nearest = tree.closest(
                args.word,
                args.closest,
                max_distance=args.max_distance,
                transpositions=args.transpositions,
            )
            results = (f"{key}\t{distance}" for key, _, distance in nearest)
        else:
            results = (
                f"{key}\t{distance}"
                for key, _, distance in tree.fuzzy_search(
                    args.word,
                    1 if args.max_distance is None else args.max_distance,
                    transpositions=args.transpositions,
                    prefix=args.prefix,
                )
            )
    elif args.command == "range":
        results = (key for key, _ in tree.range(args.start, args.stop))
    elif args.command == "find":
        text = _decode(_read_bytes(args.text), _display_name(args.text))
        text = text.removeprefix("\ufeff")
        results = (
            f"{start}\t{end}\t{term}"
            for start, end, term, _ in tree.finditer(
                text, overlapping=args.overlapping, whole_words=args.whole_words
            )
        )
        lines = list(results if args.limit is None else islice(results, args.limit))
        return lines, bool(lines)
    elif args.command == "longest-prefix":
        found = tree.longest_prefix(args.key)
        if found is None:
            return [], False
        results = iter([found[0]])
    else:  # pragma: no cover - argparse rejects unknown subcommands
        raise AssertionError(f"unknown command {args.command!r}")
    lines = list(results if args.limit is None else islice(results, args.limit))
    return lines, True


def _write_lines(lines: Sequence[str]) -> None:
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    buffer: BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        # Lines came in as UTF-8 and go out as UTF-8, whatever the locale says.
        sys.stdout.flush()
        pending = memoryview(text.encode("utf-8"))
        while pending:
            # A buffered write may stop short (a pipe whose reader left after
            # part of it): write the rest, which then raises BrokenPipeError.
            pending = pending[buffer.write(pending) :]
    sys.stdout.flush()


def _stat(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _build(args: argparse.Namespace) -> Index:
    started = time.perf_counter()
    index = load_index(args.file)
    if args.stats:
        _stat(
            f"build: {time.perf_counter() - started:.6f} s ({index.lines_read} lines, "
            f"{len(index.tree)} distinct, {sys.getsizeof(index.tree)} bytes of tree, "
            f"from {_display_name(args.file)})"
        )
    return index


def _run(args: argparse.Namespace) -> bool:
    """Runs the parsed command; whether it found anything."""
    if args.command == "index":
        index = _build(args)
        started = time.perf_counter()
        size = save_index(index, args.out)
        if args.stats:
            _stat(f"save: {time.perf_counter() - started:.6f} s ({size} bytes to {args.out})")
        return True
    tree: Queryable
    if args.index is not None:
        started = time.perf_counter()
        tree = open_saved_index(args.index, args.allow_pickle)
        if args.stats:
            _stat(
                f"open: {time.perf_counter() - started:.6f} s ({len(tree)} keys, "
                f"{os.path.getsize(args.index)} bytes of file, from {args.index})"
            )
    else:
        tree = _build(args).tree
    started = time.perf_counter()
    try:
        lines, found = run_query(args, tree)
    except FormatError as exc:  # damage that the open does not check (see docs/format.md)
        raise _index_error(args.index, exc) from None
    if args.stats:
        _stat(f"query: {time.perf_counter() - started:.6f} s ({len(lines)} results)")
    _write_lines(lines)
    return found


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(uses_saved_index(argv))
    try:
        args = parser.parse_args(argv)
        if getattr(args, "allow_pickle", False) and args.index is None:
            parser.error("--allow-pickle applies to an index read with --index")
        if args.command == "find" and args.text == STDIN_NAME == getattr(args, "file", None):
            parser.error("the terms and the text cannot both come from standard input")
        if args.command == "fuzzy" and args.prefix and args.closest is not None:
            parser.error("--prefix and --closest cannot be combined")
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        found = _run(args)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`... | head -1`): stop quietly, and keep the
        # interpreter from complaining when it flushes stdout at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK if found else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
