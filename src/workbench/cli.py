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
def produce(
    source: str = typer.Argument(..., help="retail, clickstream, sensors or nexmark"),
    stream: str = typer.Option(
        "retail-trans", "--stream", "--stream-name", help="The stream to write into."
    ),
    rate: float = typer.Option(None, "--rate", help="Events per second (default: the source's)."),
    max_count: int = typer.Option(None, "--max-count", help="Stop after this many records."),
    seed: int = typer.Option(0, "--seed", help="The same seed gives the same records."),
    speed: float = typer.Option(
        1.0, "--speed", help="1: real time; N: N times faster on a simulated clock; 0: flat out."
    ),
    service_name: str = typer.Option(
        "kinesis", "--service-name", help="kinesis (a data stream), firehose or console."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Make the records, send nothing."),
    verbose: bool = typer.Option(False, "--verbose", help="Print every record sent."),
    home: Path = HomeOption,
) -> None:
    """Send a simulated source into a stream, like the lab's gen_kinesis_data.py."""
    from workbench.sources._cli import produce_command

    produce_command(
        source,
        stream=stream,
        rate=rate,
        max_count=max_count,
        seed=seed,
        speed=speed,
        service_name=service_name,
        dry_run=dry_run,
        verbose=verbose,
        home=home,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
