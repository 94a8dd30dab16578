"""Build of the C extension; the project metadata lives in pyproject.toml."""

import glob
import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    extra_compile_args = ["/std:c11"]
    extra_link_args = []
else:
    # -pthread: load checks a file's nodes on a second thread.
    extra_compile_args = ["-std=c11", "-Wall", "-Wextra", "-O2", "-pthread"]
    extra_link_args = ["-pthread"]

setup(
    ext_modules=[
        Extension(
            "blart._blart",
            # The binding: every C file of src/blart (_blart.h lists them).
            sources=["core/art.c", "core/art_file.c", *sorted(glob.glob("src/blart/*.c"))],
            include_dirs=["core"],
            depends=["core/art.h", "core/art_layout.h", "src/blart/_blart.h"],
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args,
        )
    ],
)
