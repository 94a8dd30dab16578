"""The README's examples and every docstring example run as written."""

import doctest
import pathlib

import pytest

import blart
from blart import BytesTreeMap, TreeMap

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _run(text: str, name: str) -> doctest.TestResults:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(
        text, {"TreeMap": TreeMap, "BytesTreeMap": BytesTreeMap}, name, None, 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    return runner.summarize(verbose=False)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """The examples save files by relative name: here, into tmp_path."""
    monkeypatch.chdir(tmp_path)


def test_readme_examples():
    # A closing code fence would read as expected output: blank it.
    lines = README.read_text(encoding="utf-8").splitlines()
    text = "\n".join("" if line.startswith("```") else line for line in lines)
    result = _run(text, "README.md")
    assert result.attempted >= 5
    assert result.failed == 0


def _documented():
    for cls in (TreeMap, BytesTreeMap):
        for name in dir(cls):
            doc = getattr(getattr(cls, name), "__doc__", None)
            if doc and ">>>" in doc:
                yield pytest.param(cls, name, id=f"{cls.__name__}.{name}")
    yield pytest.param(TreeMap, None, id="TreeMap")
    yield pytest.param(BytesTreeMap, None, id="BytesTreeMap")


@pytest.mark.parametrize(("cls", "name"), list(_documented()))
def test_docstring_examples(cls, name):
    obj = cls if name is None else getattr(cls, name)
    result = _run(obj.__doc__, f"{cls.__name__}.{name}")
    assert result.attempted >= 1
    assert result.failed == 0


def test_every_public_method_is_documented():
    for cls in (TreeMap, BytesTreeMap):
        for name in dir(cls):
            if name.startswith("_") and name not in ("__reversed__", "__sizeof__"):
                continue
            assert getattr(cls, name).__doc__, f"{cls.__name__}.{name} has no docstring"
    assert blart.__doc__


def test_api_reference_is_current():
    """docs/api.md is generated from the docstrings and must match them."""
    import importlib.util

    path = README.parent / "docs" / "gen_api.py"
    spec = importlib.util.spec_from_file_location("gen_api", path)
    assert spec is not None and spec.loader is not None
    gen_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_api)
    current = (README.parent / "docs" / "api.md").read_text(encoding="utf-8")
    assert gen_api.render() == current, "run: python docs/gen_api.py"
