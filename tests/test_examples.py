"""Every script in examples/ runs unmodified and prints what it promises."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROMISED = [
    "basic_usage.py",
    "prefix_queries.py",
    "fuzzy_matching.py",
    "routing.py",
    "range_queries.py",
]


def run_example(name: str, cwd: Path) -> list[str]:
    """Runs examples/<name> as a user would (from another directory); its stdout lines."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        encoding="utf-8",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines, f"{name} printed nothing"
    return lines


def levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def test_the_promised_examples_exist() -> None:
    for name in PROMISED:
        assert (EXAMPLES / name).is_file(), name


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs_cleanly(script: str, tmp_path: Path) -> None:
    run_example(script, tmp_path)
    # Each example explains itself and how to run it.
    docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert docstring


def test_basic_usage(tmp_path: Path) -> None:
    lines = run_example("basic_usage.py", tmp_path)
    for expected in [
        "stock: TreeMap({'apple': 12, 'banana': 6, 'cherry': 25, 'pear': 4})",
        "apples: 12 | durians: 0",
        "insert('pear', 5) replaced: 4",
        "pop('cherry'): 25",
        "keys in order: ['apple', 'date', 'fig', 'kiwi', 'pear']",
        "reversed: ['pear', 'kiwi', 'fig', 'date', 'apple']",
        "first, last: ('apple', 12) ('pear', 5)",
        "around 'grape': ('fig', 0) <= 'grape' <= ('kiwi', 3)",
        "popitem() takes the largest key: ('pear', 5)",
        "KeyError: 'durian'",
        "remove() of a missing key -> KeyError: 'durian'",
        "bytes keys: [b'', b'\\x00\\x01', b'\\xff\\x00']",
        "after clear(): TreeMap() | is_empty(): True",
    ]:
        assert expected in lines
    type_errors = [line for line in lines if line.startswith("TypeError: ")]
    assert len(type_errors) == 2
    assert "str" in type_errors[0]
    assert "int" in type_errors[0]
    assert "bytes" in type_errors[1]
    assert "str" in type_errors[1]


def check_autocomplete(lines: list[str], words: set[str]) -> None:
    """Checks prefix_queries.py's output against brute force over ``words``."""
    ordered = sorted(words)
    assert re.fullmatch(rf"{len(words)} distinct words from .+", lines[0]), lines[0]

    # Each keystroke line lists the first (up to 4) words with that prefix.
    keystrokes = [line.strip().split(" -> ") for line in lines if " -> " in line]
    assert [prefix.strip() for prefix, _ in keystrokes] == ["i", "in", "int", "inte", "inter"]
    for prefix, shown in keystrokes:
        expected = [w for w in ordered if w.startswith(prefix.strip())][:4]
        assert shown.split(", ") == expected

    # Counts and first matches; 'qqq' matches nothing.
    for prefix in ["the", "under", "zo", "qqq"]:
        matches = [w for w in ordered if w.startswith(prefix)]
        first = matches[0] if matches else None
        assert f"  {prefix!r:<8} {len(matches):>5} words, first: {first}" in lines

    expected_last = [w for w in ordered if w.startswith("pre")][-3:][::-1]
    assert f"last 3 words starting with 'pre': {expected_last}" in lines
    expected_prefixes = [w for w in ordered if "understanding".startswith(w)]
    assert f"words that 'understanding' starts with: {expected_prefixes}" in lines


def test_prefix_queries(tmp_path: Path) -> None:
    lines = run_example("prefix_queries.py", tmp_path)
    source = lines[0].partition(" distinct words from ")[2]
    if source == "the built-in list":
        namespace = runpy.run_path(str(EXAMPLES / "prefix_queries.py"), run_name="example")
        words = set(namespace["BUILT_IN_WORDS"].split())
    else:
        words = {w for w in Path(source).read_text(encoding="utf-8").splitlines() if w}
    check_autocomplete(lines, words)


def test_prefix_queries_without_a_system_word_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where /usr/share/dict/words is missing (or unreadable), the built-in list serves."""
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self == Path("/usr/share/dict/words"):
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)
    namespace = runpy.run_path(str(EXAMPLES / "prefix_queries.py"), run_name="example")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(" distinct words from the built-in list")
    check_autocomplete(lines, set(namespace["BUILT_IN_WORDS"].split()))
    assert (
        "words that 'understanding' starts with: ['under', 'understand', 'understanding']" in lines
    )


def test_fuzzy_matching(tmp_path: Path) -> None:
    lines = run_example("fuzzy_matching.py", tmp_path)
    for expected in [
        "  comittee  -> committee (1)",
        "  recieve   -> relieve (1), believe (2), receive (2)",
        "  tomorow   -> tomorrow (1)",
        "within 1 edit of 'cat': [('cat', 0), ('chat', 1), ('coat', 1), ('cut', 1)]",
        "'seperate': best match 'separate' at distance 1",
        "'definately': best match 'definitely' at distance 1",
        "'xylophone': nothing within 3 edits",
        "'cafe' -> [('café', 1), ('cave', 1)]",
    ]:
        assert expected in lines
    # Words of the sentence that are in the vocabulary get no line.
    assert not any(line.startswith(("  the ", "  will ", "  noon ")) for line in lines)


def test_fuzzy_matching_ranks_like_brute_force(capsys: pytest.CaptureFixture[str]) -> None:
    example = runpy.run_path(str(EXAMPLES / "fuzzy_matching.py"), run_name="example")
    capsys.readouterr()
    vocabulary = example["VOCABULARY"].split()
    for word in ["teh", "recieve", "adress", "unitl", "cafe", "zzz", ""]:
        for max_distance in range(4):
            expected = sorted(
                (levenshtein(word, w), w)
                for w in vocabulary
                if levenshtein(word, w) <= max_distance
            )
            got = example["suggest"](word, max_distance, limit=len(vocabulary))
            assert got == [(w, d) for d, w in expected]


def test_routing(tmp_path: Path) -> None:
    lines = run_example("routing.py", tmp_path)
    for expected in [
        "  /about                 -> about page  (route /about/)",
        "  /api/v1/users/42       -> users handler  (route /api/v1/users/)",
        "  /api/v1/users/me       -> current user handler  (route /api/v1/users/me/)",
        "  /api/v1/usersettings   -> API v1 catch-all  (route /api/v1/)",
        "  /api/v2/x              -> API index  (route /api/)",
        "  /blog/                 -> 404 not found",
        (
            "  middleware chain for /api/v1/users/me: "
            "API index -> API v1 catch-all -> users handler -> current user handler"
        ),
        "  10.1.2.3      via 10.1.2.0/24     site A, lab VLAN",
        "  10.1.9.9      via 10.1.0.0/16     site A",
        "  10.200.0.1    via 10.0.0.0/8      core router",
        "  192.168.4.20  via 192.168.0.0/16  office LAN",
        "  8.8.8.8       via 0.0.0.0/0       upstream ISP (default route)",
    ]:
        assert expected in lines


def test_range_queries(tmp_path: Path) -> None:
    lines = run_example("range_queries.py", tmp_path)
    for expected in [
        "40 events from 2024-03-01T18:00 to 2024-03-03T00:33",
        "  2024-03-02T09:03  login bob",
        "  2024-03-02T09:50  login alice",
        "  2024-03-02T10:39  deploy v2.3",
        "events on 2024-03-02: 31 by prefix, 31 by range",
        "  latest event at or before (floor): ('2024-03-02T09:50', 'login alice')",
        "  next event at or after (ceiling):  ('2024-03-02T10:39', 'deploy v2.3')",
        "  floor: ('2024-03-02T10:39', 'deploy v2.3')",
        "  lower: ('2024-03-02T09:50', 'login alice')",
        "  higher: ('2024-03-02T11:17', 'disk 91% full')",
        "last 3 events before noon: ['2024-03-02T11:17', '2024-03-02T10:39', '2024-03-02T09:50']",
        "09:50 to 11:17, inclusive=(True, False): ['09:50', '10:39']",
        "09:50 to 11:17, inclusive=(True, True): ['09:50', '10:39', '11:17']",
        "09:50 to 11:17, inclusive=(False, True): ['10:39', '11:17']",
        "expired 8 events before 2024-03-02T00:00; 32 remain, oldest ('2024-03-02T00:28', 'backup done')",
    ]:
        assert expected in lines
    # The 09:00-11:00 window is exactly the events in it, in order.
    window = [line.split()[0] for line in lines if line.startswith("  2024-")]
    assert window == sorted(window)
    assert all("2024-03-02T09:00" <= when < "2024-03-02T11:00" for when in window)


def test_shared_index(tmp_path: Path) -> None:
    lines = run_example("shared_index.py", tmp_path)
    example = runpy.run_path(str(EXAMPLES / "shared_index.py"), run_name="example")
    words = example["WORDS"].split()
    assert lines[:4] == [
        f"saved {len(words)} words to words.blart",
        f"FrozenTreeMap: {len(words)} words, first ('a', 6), last ('your', 63)",
        "pickled, it holds the path, not the words: True",
        "TreeMap.load(path) == index: True",
    ]
    for expected in [
        "  lookup   'people'       -> rank 60",
        "  lookup   'peeple'       -> not a word",
        "  complete 'th'           -> than, that, the, their, them",
        "  complete 'inter'        -> interest, interesting, international, internet, interview",
        "  complete 'zz'           -> -",
        "  fuzzy    'tomorow'      -> tomorrow (1)",
        "  prefixes 'interesting'  -> in, interest, interesting",
    ]:
        assert expected in lines
    # The pool's answers, in order, are those of an in-memory TreeMap.
    queries = example["QUERIES"]
    assert lines[4] == f"{len(queries)} queries answered by the pool:"
    example["use_index"](example["build_index"]())
    assert lines[5:] == [example["answer"](query) for query in queries]
    # Fuzzy answers agree with brute force: nearest first, then A-Z, at most 3.
    for kind, text in queries:
        if kind == "fuzzy":
            best = sorted((levenshtein(text, w), w) for w in set(words))
            shown = ", ".join([f"{w} ({d})" for d, w in best if d <= 2][:3]) or "-"
            assert f"  fuzzy    {text!r:<14} -> {shown}" in lines


# --- the demo ---------------------------------------------------------------

DEMO_ROW = re.compile(
    r"  (?P<label>.{24})\s*(?P<blart>\d[\d.]* (?:ns|µs|ms|s))\s+(?P<dict>\d[\d.]* (?:ns|µs|ms|s))"
    r"  (?P<ratio>[\d,.]+x (?:faster|slower)|about the same)\s+(?P<answer>.*)"
)
DEMO_SECTIONS = ["autocomplete: ", "spelling: ", "routing: ", "saved index: "]


def demo_sections(lines: list[str]) -> dict[str, list[dict[str, str]]]:
    """The demo's rows by section, each row's fields parsed; checks the layout."""
    # Every line but the first (which names the word list) fits in 100 columns.
    assert all(len(line) <= 100 for line in lines[1:]), max(lines[1:], key=len)
    assert re.fullmatch(r"TreeMap built in \S+ \S+ \(a dict: \S+ \S+\); .+", lines[1]), lines[1]
    assert lines[2] == ""
    assert lines[3].split() == ["blart", "dict", "blart", "is", "answer"]
    assert lines[-2] == ""
    assert re.fullmatch(r"All answers agree with the dict's\. Total time \S+ (s|ms)\.", lines[-1])
    sections: dict[str, list[dict[str, str]]] = {}
    current = None
    for line in lines[4:-2]:
        if not line.startswith("  "):
            current = next(s for s in DEMO_SECTIONS if line.startswith(s))
            sections[current] = []
            continue
        match = DEMO_ROW.fullmatch(line)
        assert match, line
        assert current is not None
        sections[current].append(match.groupdict())
    assert list(sections) == DEMO_SECTIONS
    return sections


def demo_module() -> types.ModuleType:
    """examples/demo.py imported as a module (its main() not run)."""
    spec = importlib.util.spec_from_file_location("blart_demo", EXAMPLES / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_answer(shown: str, expected: str) -> bool:
    """Whether ``shown`` is ``expected``, or its start cut short with "..." to fit the line."""
    return shown == expected or (shown.endswith("...") and expected.startswith(shown[:-3]))


def check_demo_answers(lines: list[str], words: list[str]) -> None:
    """The demo's answers, against brute force over ``words``."""
    sections = demo_sections(lines)
    shown_prefixes = []
    for entry in sections["autocomplete: "]:
        prefix = ast.literal_eval(entry["label"].strip())
        shown_prefixes.append(prefix)
        expected = sorted(w for w in set(words) if w.startswith(prefix))[:4]
        assert same_answer(entry["answer"], ", ".join(expected)), (entry, expected)
    assert len(shown_prefixes) == 3
    typos = []
    for entry in sections["spelling: "]:
        typo = ast.literal_eval(entry["label"].strip())
        typos.append(typo)
        within = sorted((levenshtein(typo, w), w) for w in set(words))
        expected = [f"{w} ({d})" for d, w in within if d <= 2][:3]
        assert same_answer(entry["answer"], ", ".join(expected)), (entry, expected)
    assert len(typos) == 2
    routes = sections["routing: "]
    assert len(routes) == 5
    for entry in routes[:4]:
        path = entry["label"].strip()
        name = path.split("/")[3] if path.startswith("/api/v1/") else None
        if name is None:
            assert entry["answer"] == "-> files"
        elif path.startswith(f"/api/v1/{name}/admin/"):
            assert entry["answer"] == f"-> {name} admin"
        else:
            assert entry["answer"] == f"-> {name} handler"
    assert routes[4]["label"].strip() == "2,500 paths"
    saved = sections["saved index: "]
    assert [entry["label"].strip() for entry in saved] == [
        "save / pickle.dump",
        "open / pickle.load",
        f"then {shown_prefixes[0]!r}",
        f"then {typos[0]!r}",
    ]
    assert saved[1]["answer"] == f"{len(set(words)):,} words, nothing built"
    assert saved[2]["answer"] == sections["autocomplete: "][0]["answer"]
    assert saved[3]["answer"] == sections["spelling: "][0]["answer"]


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "TMPDIR": str(scratch)}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        encoding="utf-8",
        timeout=300,
    )
    assert list(scratch.iterdir()) == []  # the saved index's directory is gone
    return proc


def test_demo_on_generated_words(tmp_path: Path) -> None:
    proc = run_demo(tmp_path, "--generate", "3000")
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0] == "blart demo on 3,000 words generated"
    words = demo_module().generated_words(3000)
    assert len(set(words)) == 3000
    check_demo_answers(lines, words)


def test_demo_on_a_word_list(tmp_path: Path) -> None:
    """An English list gets the English queries: 'inter', 'recieve' and so on."""
    english = ["inter", "interact", "interest", "internal", "internet", "receive", "relieve"]
    english += ["definitely", "phobia", "phone", "photo", "phonics", "unbar", "unbend"]
    words = english + demo_module().generated_words(2000)
    path = tmp_path / "words.txt"
    path.write_text("\n".join(words) + "\n\n" + words[0] + "\n", encoding="utf-8")
    proc = run_demo(tmp_path, "--words", str(path))
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0] == f"blart demo on {len(words):,} words from {path}"
    check_demo_answers(lines, words)
    sections = demo_sections(lines)
    assert [e["label"].strip() for e in sections["autocomplete: "]][:2] == ["'inter'", "'pho'"]
    assert [e["label"].strip() for e in sections["spelling: "]] == ["'recieve'", "'definately'"]
    assert sections["spelling: "][1]["answer"].startswith("definitely (1)")


def test_demo_reads_the_system_list_or_generates_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without arguments: /usr/share/dict/words if it can be read, else GENERATED words."""
    demo = demo_module()
    assert (demo.SYSTEM_WORDS, demo.GENERATED) == ("/usr/share/dict/words", 100_000)
    monkeypatch.setattr(demo, "GENERATED", 2500)
    monkeypatch.setattr(demo, "SYSTEM_WORDS", str(tmp_path / "missing"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    demo.main([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"blart demo on 2,500 words generated ({tmp_path / 'missing'} is missing)"
    check_demo_answers(lines, demo.generated_words(2500))

    listed = tmp_path / "words"
    words = demo.generated_words(2000, seed=1)
    listed.write_text("\n".join(words), encoding="utf-8")
    monkeypatch.setattr(demo, "SYSTEM_WORDS", str(listed))
    demo.main([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"blart demo on 2,000 words from {listed}"
    check_demo_answers(lines, words)


def test_demo_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    proc = run_demo(tmp_path, "--generate", "20")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines()[-1] == "demo.py: error: 20 words are too few for this demo"
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9\n")
    proc = run_demo(tmp_path, "--words", str(bad))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "cannot read" in proc.stderr


def test_demo_without_a_utf8_terminal(tmp_path: Path) -> None:
    """µ becomes u, and a word the encoding lacks is escaped, not a crash."""
    path = tmp_path / "words.txt"
    words = ["pho", "phoné", "phonè", "phony", "receive", "definitely", "interesting"]
    path.write_text("\n".join(words), encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--words", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert (proc.returncode, proc.stderr) == (0, b"")
    out = proc.stdout.decode("ascii").splitlines()
    assert "  'pho'" in out[5]
    assert out[5].endswith("pho, phony, phon\\xe8, phon\\xe9")
    assert re.search(r"\d us ", "\n".join(out))


def test_demo_units_and_ratios() -> None:
    demo = demo_module()
    assert [demo.duration(s) for s in (4.2e-10, 8.12e-7, 4.1e-6, 0.0125, 1.25, 3.0, 250.0)] == [
        "0.420 ns",
        "812 ns",
        f"4.10 {demo.MICRO}s",
        "12.5 ms",
        "1.25 s",
        "3.00 s",
        "250 s",
    ]
    assert [demo.comparison(1, d) for d in (1, 1.04, 0.96, 1.2, 0.5, 12.3, 7408.4)] == [
        "about the same",
        "about the same",
        "about the same",
        "1.2x faster",
        "2.0x slower",
        "12x faster",
        "7,408x faster",
    ]
    assert [demo.size(n) for n in (12_345, 3_700_000)] == ["12 kB", "3.7 MB"]
