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
            # The core, then every C file of the binding (_blart.h lists them).
            sources=[
                "core/art.c",
                "core/art_alloc.c",
                "core/art_bucket.c",
                "core/art_burst.c",
                "core/art_walk.c",
                "core/art_cursor.c",
                "core/art_fuzzy.c",
                "core/art_closest.c",
                "core/art_build.c",
                "core/art_scan.c",
                "core/art_file.c",
                *sorted(glob.glob("src/blart/*.c")),
            ],
            include_dirs=["core"],
            depends=[
                "core/art.h",
                "core/art_layout.h",
                "core/art_internal.h",
                "core/art_bucket.h",
                "src/blart/_blart.h",
            ],
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args,
        )
    ],
)
