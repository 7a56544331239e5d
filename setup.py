"""The one thing pyproject.toml cannot declare without an experimental table: the C extension.

PutRecords' per-record loops in C (see the file for why). It is optional: without a C compiler
the install goes on and the same loops run in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "workbench.streams._speedups",
            sources=["src/workbench/streams/_speedups.c"],
            optional=True,
        )
    ]
)
