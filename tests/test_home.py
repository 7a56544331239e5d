import subprocess
import sys

import pytest

import workbench
from workbench._home import HomeError


def test_default_home_is_workbench_data_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    wb = workbench.Workbench()
    assert wb.home.path == tmp_path / "workbench-data"
    assert (tmp_path / "workbench-data" / "workbench.json").exists()


def test_environment_variable_chooses_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "elsewhere"))
    assert workbench.Workbench().home.path == tmp_path / "elsewhere"


def test_another_process_opens_the_same_home(tmp_path):
    home = tmp_path / "shared"
    workbench.Workbench(home=home).home.service_dir("streams")
    code = (
        "import sys, workbench; wb = workbench.Workbench(home=sys.argv[1]);"
        "print(sorted(p.name for p in wb.home.path.iterdir()))"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True
    )
    assert seen.stdout.strip() == "['streams', 'workbench.json']"


def test_a_home_of_another_format_is_refused(tmp_path):
    (tmp_path / "workbench.json").write_text('{"format_version": 99}')
    with pytest.raises(HomeError, match="format 1 only"):
        workbench.Workbench(home=tmp_path)
