"""``workbench athena "SQL"`` runs a statement on the home's lake and says where the CSV is."""

from typer.testing import CliRunner

from workbench.cli import app
from workbench.lake import Lake

runner = CliRunner()


def test_athena_command_runs_sql_over_the_demo_lake(tmp_path):
    home = str(tmp_path / "h")
    assert runner.invoke(app, ["demo", "--home", home]).exit_code == 0
    # The demo's Athena table is over what its Firehose step landed: every line of every object.
    lake = Lake.local(tmp_path / "h" / "lake")
    landed = [lake.get(o.uri) for o in lake.list("s3://retail-analytics-lab/json-data/")]
    lines = sum(body.count(b"\n") for body in landed)
    assert lines > 0 and all(body.endswith(b"\n") for body in landed)
    sql = (
        "SELECT count(*) n FROM retail_trans_json "
        "WHERE invoicedate BETWEEN timestamp '2010-01-01' AND timestamp '2010-12-31'"
    )
    result = runner.invoke(app, ["athena", "--home", home, "-d", "mydatabase", sql])
    assert result.exit_code == 0, result.output
    assert f"{lines}" in result.output
    assert "results: s3://retail-analytics-lab/athena-query-results/" in result.output
    failed = runner.invoke(app, ["athena", "--home", home, "SELECT * FROM nope"])
    assert failed.exit_code == 1
    assert "TABLE_NOT_FOUND" in failed.output
