"""``python -m blart``: look up lines of a text file, like Unix ``look``.

The file (or standard input, given as ``-``) is read as UTF-8, one key per
line, into a :class:`blart.TreeMap` that maps each distinct line to the
number of the line where it first appears.  A subcommand then asks the map
one question and prints the answer, one line per result, in sorted order::

    python -m blart complete /usr/share/dict/words inter
    python -m blart fuzzy /usr/share/dict/words recieve -d 2
    python -m blart range /usr/share/dict/words cat cau
    python -m blart longest-prefix routes.txt /api/v1/users/42

Exit status: 0 on success, 1 when ``longest-prefix`` finds no prefix or on
a runtime error (unreadable file, invalid UTF-8), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import BinaryIO, NamedTuple

from blart import TreeMap, __version__

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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m blart`` (one subparser per query)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Index the lines of a UTF-8 text file in a blart TreeMap (an adaptive radix\n"
            "tree) and look them up by prefix, edit distance, range or longest prefix.\n"
            "Trailing newlines (LF or CRLF) are stripped and empty lines ignored; results\n"
            "come out in sorted (code point) order, each distinct line once."
        ),
        epilog=(
            "examples:\n"
            "  python -m blart complete /usr/share/dict/words inter --limit 10\n"
            "  python -m blart fuzzy /usr/share/dict/words recieve -d 2\n"
            "  python -m blart range /usr/share/dict/words cat cau --stats\n"
            "  printf '/api/\\n/api/v1/\\n' | python -m blart longest-prefix - /api/v1/users\n"
            "\n"
            "exit status: 0 on success, 1 if longest-prefix finds nothing or on a runtime\n"
            "error (unreadable file, invalid UTF-8), 2 on a usage error."
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
        help="print the time taken to build the index and to answer the query to stderr",
    )

    def file_argument(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "file", metavar="FILE", help="newline-separated UTF-8 text file, or - for stdin"
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
            "as LINE<TAB>DISTANCE, in sorted order of the lines."
        ),
    )
    file_argument(fuzzy)
    fuzzy.add_argument("word", metavar="WORD", help="the (possibly misspelt) word to match")
    fuzzy.add_argument(
        "-d",
        "--max-distance",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="largest edit distance to report (default: %(default)s)",
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


def load_index(path: str) -> Index:
    """Reads ``path`` (``-`` for stdin) into a TreeMap of line -> first line number."""
    name = _display_name(path)
    text = _decode(_read_bytes(path), name)
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the first line
    tree: TreeMap[int] = TreeMap()
    lines_read = 0
    # Split on "\n" only: str.splitlines() would also split on \v, \f, \x1c, U+2028 and others.
    for number, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line.removesuffix("\r")
        if line:
            lines_read += 1
            tree.setdefault(line, number)
    return Index(tree, lines_read)


def run_query(args: argparse.Namespace, tree: TreeMap[int]) -> tuple[list[str], bool]:
    """Answers the subcommand: the output lines, and whether anything was found."""
    results: Iterator[str]
    if args.command == "complete":
        results = (key for key, _ in tree.prefix_iter(args.prefix))
    elif args.command == "fuzzy":
        results = (
            f"{key}\t{distance}"
            for key, _, distance in tree.fuzzy_search(args.word, args.max_distance)
        )
    elif args.command == "range":
        results = (key for key, _ in tree.range(args.start, args.stop))
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


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        started = time.perf_counter()
        index = load_index(args.file)
        built = time.perf_counter()
        lines, found = run_query(args, index.tree)
        answered = time.perf_counter()
        if args.stats:
            name = _display_name(args.file)
            _stat(
                f"build: {built - started:.6f} s ({index.lines_read} lines, "
                f"{len(index.tree)} distinct, {sys.getsizeof(index.tree)} bytes of tree, from {name})"
            )
            _stat(f"query: {answered - built:.6f} s ({len(lines)} results)")
        _write_lines(lines)
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
