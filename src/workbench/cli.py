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


@app.command()
def streams(home: Path = HomeOption) -> None:
    """List the data streams in the home: shards, records and where their segments are."""
    from workbench import Workbench

    wb = Workbench(home=home)
    names = wb.streams.list_streams()["StreamNames"]
    if not names:
        typer.echo("no data streams")
    for name in names:
        stream = wb.streams.stream(name)
        shards = stream.list_shards()
        open_count = sum("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in shards)
        typer.echo(f"{name}: {open_count} open shards, {len(shards) - open_count} closed")
        for shard in shards:
            it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
            count = stream.get_records_arrow(it).table.num_rows
            typer.echo(f"  {shard['ShardId']}: {count} records")
        typer.echo(f"  segments: {stream.folder / 'shards'}")


def main() -> None:
    app()
