"""``workbench athena "SQL"`` runs a statement on the home's lake and says where the CSV is."""

from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()


def test_athena_command_runs_sql_over_the_demo_lake(tmp_path):
    home = str(tmp_path / "h")
    assert runner.invoke(app, ["demo", "--home", home]).exit_code == 0
    result = runner.invoke(
        app,
        ["athena", "--home", home, "-d", "mydatabase", "SELECT count(*) n FROM retail_trans_json"],
    )
    assert result.exit_code == 0, result.output
    assert "20000" in result.output
    assert "results: s3://retail-lab/athena-query-results/" in result.output
    failed = runner.invoke(app, ["athena", "--home", home, "SELECT * FROM nope"])
    assert failed.exit_code == 1
    assert "TABLE_NOT_FOUND" in failed.output
