from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output and "info" in result.output


def test_demo_runs_and_says_where_its_outputs_are(tmp_path):
    result = runner.invoke(app, ["demo", "--home", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    assert "Outputs:" in result.output
    assert str(tmp_path / "h") in result.output


def test_demo_runs_again_on_its_own_home_and_refuses_other_work(tmp_path):
    home = tmp_path / "demo"
    for _ in range(2):  # the second run replaces what the first made
        result = runner.invoke(app, ["demo", "--home", str(home)])
        assert result.exit_code == 0, result.output
    assert (home / "streams" / "retail-trans").is_dir()
    work = tmp_path / "work"
    (work / "streams").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["demo", "--home", str(work)])
    assert refused.exit_code == 1
    assert "holds other work" in refused.output and "--home" in refused.output
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt", "streams"]
    assert (work / "notes.txt").read_text() == "mine"


def test_info_lists_service_folders(tmp_path):
    runner.invoke(app, ["demo", "--home", str(tmp_path)])
    (tmp_path / "streams").mkdir(exist_ok=True)
    result = runner.invoke(app, ["info", "--home", str(tmp_path)])
    assert result.exit_code == 0
    assert "streams/" in result.output
