"""One scratch folder for a test run, removed when the run ends.

Doctests and notebooks make their homes with ``tempfile.mkdtemp()``, as a user would, and left
about 170 folders in the system's temporary folder per run. Pointing ``tempfile`` (and
``TMPDIR``, which notebook kernels and other child processes inherit) at one folder of the run
keeps them together and lets the run remove them. Tests that want to keep what they made use
pytest's ``tmp_path``, which pytest keeps for the last three runs.
"""

import multiprocessing.util
import os
import shutil
import tempfile

_SAVED = "_workbench_saved_tempdir"


def pytest_configure(config) -> None:
    # multiprocessing removes its own folder when the interpreter exits, after this run's is
    # gone: it is made now, outside.
    multiprocessing.util.get_temp_dir()
    scratch = tempfile.mkdtemp(prefix="workbench-tests-")
    setattr(config, _SAVED, (scratch, tempfile.tempdir, os.environ.get("TMPDIR")))
    tempfile.tempdir = scratch
    os.environ["TMPDIR"] = scratch


def pytest_unconfigure(config) -> None:
    scratch, tempdir, environ = getattr(config, _SAVED)
    tempfile.tempdir = tempdir
    if environ is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = environ
    shutil.rmtree(scratch, ignore_errors=True)
