"""Generate docs/api.md from the docstrings of the installed blart.

Run ``python docs/gen_api.py`` to rewrite the file; ``--check`` exits 1 if
the file is out of date (the test suite runs that check).
"""

from __future__ import annotations

import argparse
import inspect
import pathlib
import sys

import blart

OUT = pathlib.Path(__file__).resolve().parent / "api.md"

# Methods in the order a reader meets them: mapping basics, then queries.
GROUPS = {
    "Mapping": [
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__contains__",
        "__len__",
        "__iter__",
        "__reversed__",
        "get",
        "setdefault",
        "pop",
        "popitem",
        "update",
        "fromkeys",
        "clear",
        "copy",
        "keys",
        "values",
        "items",
        "insert",
        "remove",
        "is_empty",
    ],
    "Ordered queries": [
        "first",
        "last",
        "pop_first",
        "pop_last",
        "floor",
        "ceiling",
        "lower",
        "higher",
        "get_prefix",
        "prefix_iter",
        "prefixes",
        "longest_prefix",
        "range",
    ],
    "Keys near a query": ["fuzzy_search", "closest"],
    "Finding keys in a text": ["finditer"],
    "Files": ["save", "load"],
    "Introspection": ["stats", "__sizeof__"],
}


# The mapping slots' docstrings come from CPython and change between
# versions ("Return key in self." became "Return bool(key in self)." in
# 3.13): the reference says what they do in its own words.
SLOT_DOCS = {
    "__getitem__": "Return self[key]; KeyError if key is absent.",
    "__setitem__": "Set self[key] to value.",
    "__delitem__": "Delete self[key]; KeyError if key is absent.",
    "__contains__": "Return whether key is in the map.",
    "__len__": "Return the number of keys.",
    "__iter__": "Iterate over the keys in ascending order.",
}


def _signature(name: str, obj: object) -> str:
    text = getattr(obj, "__text_signature__", None)
    if text:
        text = (
            text.replace("($self, ", "(")
            .replace("($self)", "()")
            .replace("($type, ", "(")
            .replace("($cls, ", "(")
        )
        return f"{name}{text}"
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{name}(...)"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        # A method written in Python reads as the C ones do: without its
        # annotations, nor self (which a function read from the class has).
        params = list(sig.parameters.values())[1 if inspect.isfunction(obj) else 0 :]
        sig = sig.replace(
            parameters=[p.replace(annotation=p.empty) for p in params],
            return_annotation=sig.empty,
        )
    return f"{name}{sig}"


def _body(doc: str | None) -> str:
    if not doc:
        return ""
    lines = doc.splitlines()
    # Drop the "name(sig)\n--\n\n" header that argument-clinic style
    # docstrings carry; __doc__ already strips it, so this is belt-and-braces.
    if len(lines) > 1 and lines[1] == "--":
        lines = lines[3:]
    text = inspect.cleandoc("\n".join(lines))
    out, in_example = [], False
    for line in text.splitlines():
        if line.startswith(">>>") and not in_example:
            out.append("```pycon")
            in_example = True
        elif in_example and not line.strip():
            out.append("```")
            in_example = False
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


def render() -> str:
    parts = [
        "# API reference",
        "",
        "Generated from the docstrings by `docs/gen_api.py`; do not edit by hand.",
        "`TreeMap` and `BytesTreeMap` share every method; examples use `TreeMap`.",
        "",
    ]
    for cls in (blart.TreeMap, blart.BytesTreeMap):
        parts += [f"## `{cls.__name__}`", "", _body(cls.__doc__), ""]
    cls = blart.TreeMap
    for group, names in GROUPS.items():
        parts += [f"## {group}", ""]
        for name in names:
            obj = getattr(cls, name)
            doc = SLOT_DOCS.get(name, obj.__doc__)
            parts += [f"### `{_signature(name, obj)}`", "", _body(doc), ""]
    frozen = blart.FrozenTreeMap
    parts += [f"## `{frozen.__name__}`", "", _body(frozen.__doc__), ""]
    parts += [
        "It has the read-only methods above (`get`, `keys`, `values`, `items`, "
        "`is_empty`, every ordered query, `stats`) and these attributes:",
        "",
    ]
    for name in ("path", "key_type"):
        parts += [f"### `{name}`", "", _body(getattr(frozen, name).__doc__), ""]
    parts += ["## `FormatError`", "", _body(blart.FormatError.__doc__), ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print("docs/api.md is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
