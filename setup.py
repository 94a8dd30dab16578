"""Build of the C extension; the project metadata lives in pyproject.toml."""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    extra_compile_args = ["/std:c11"]
else:
    extra_compile_args = ["-std=c11", "-Wall", "-Wextra", "-O2"]

setup(
    ext_modules=[
        Extension(
            "blart._blart",
            sources=["core/art.c", "core/art_file.c", "src/blart/_blart.c"],
            include_dirs=["core"],
            depends=["core/art.h", "core/art_layout.h"],
            extra_compile_args=extra_compile_args,
        )
    ],
)
