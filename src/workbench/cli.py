"""The ``workbench`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench._home import DEFAULT_HOME, HOME_ENV

app = typer.Typer(
    help="Streaming Workbench: Kinesis, Firehose, Athena and dashboards on one laptop.",
    no_args_is_help=True,
    add_completion=False,
)

HomeOption = typer.Option(
    DEFAULT_HOME, "--home", envvar=HOME_ENV, help="Folder where the workbench keeps its state."
)


@app.command()
def demo(home: Path = HomeOption) -> None:
    """Run the whole pipeline on the embedded default and show where its outputs are."""
    from workbench._demo import run_demo

    run_demo(str(home), report=typer.echo)


@app.command()
def info(home: Path = HomeOption) -> None:
    """Show the home folder and what each service keeps there."""
    from workbench import Workbench

    wb = Workbench(home=home)
    typer.echo(f"home: {wb.home.path}")
    for folder in sorted(p for p in wb.home.path.iterdir() if p.is_dir()):
        typer.echo(f"  {folder.name}/")


def main() -> None:
    app()


@app.command()
def athena(
    sql: str = typer.Argument(..., help="One Athena statement (SELECT, CTAS or DDL)."),
    database: str = typer.Option("default", "--database", "-d", help="The current database."),
    home: Path = HomeOption,
) -> None:
    """Run one Athena statement over the lake and print its result and where its CSV is."""
    from workbench import Workbench
    from workbench.errors import ServiceError

    wb = Workbench(home=home)
    try:
        result = wb.athena.execute(sql, database=database)
    except ServiceError as error:
        typer.echo(f"{error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(result.to_polars())
    scanned = f"{result.data_scanned_bytes:,} bytes scanned"
    typer.echo(f"query {result.query_id}: {result.engine_ms} ms, {scanned}")
    typer.echo(f"results: {result.output_location}")
