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


@app.command()
def camera(
    stream: str = typer.Option("camera", help="Video stream to film into (created if missing)."),
    seconds: float = typer.Option(10.0, help="Seconds of video."),
    width: int = typer.Option(640),
    height: int = typer.Option(480),
    fps: float = typer.Option(15.0),
    seed: int = typer.Option(0),
    home: Path = HomeOption,
) -> None:
    """Film the synthetic camera into a video stream; print its fragments and a clip's path."""
    from tqdm import tqdm

    from workbench import Workbench
    from workbench.errors import ResourceNotFoundException
    from workbench.video import SyntheticCamera

    wb = Workbench(home=home)
    try:
        target = wb.video.stream(stream)
    except ResourceNotFoundException:
        target = wb.video.create_stream(stream)
    start = wb.clock.now()
    shots = SyntheticCamera(width, height, fps, seed=seed).frames(seconds, start=start)
    acks = target.put_media(tqdm(shots, total=round(seconds * fps), unit="frame"))
    clip = wb.home.service_dir("video") / f"{stream}-{int(start)}.mp4"
    clip.write_bytes(target.get_clip(start, start + seconds)["Payload"])
    typer.echo(f"{len(acks)} fragments into {target.arn}")
    typer.echo(f"clip: {clip}")
