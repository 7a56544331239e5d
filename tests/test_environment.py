"""The conda environment and the pip package must name the same dependencies."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from PyPI.
CONDA_NAMES = {
    "opencv-python-headless": "py-opencv",
    "duckdb": "python-duckdb",
    "kaleido": "python-kaleido",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {CONDA_NAMES.get(_name(r), _name(r)): r for r in requirements}


def _conda_requirements() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    lines = text.split("dependencies:", 1)[1].splitlines()
    specs = [m.group(1) for line in lines if (m := re.match(r"^  - ([A-Za-z][^\s#:]*)\s*$", line))]
    return {_name(s): s for s in specs if _name(s) not in {"python", "pip"}}


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    assert sorted(_conda_requirements()) == sorted(_pyproject_requirements())


def test_environment_yml_uses_the_same_version_ranges():
    pip = _pyproject_requirements()
    for name, conda_spec in _conda_requirements().items():
        pip_range = pip[name][len(_name(pip[name])) :].split(";")[0]
        pip_range = re.sub(r"^\[[^\]]*\]", "", pip_range)
        assert conda_spec[len(name) :] == pip_range, name


def test_environment_yml_installs_the_package_itself():
    assert "--editable ." in (ROOT / "environment.yml").read_text()
