"""The ``workbench`` command."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import typer

from workbench._home import DEFAULT_HOME, DEMO_HOME, HOME_ENV
from workbench.errors import ResourceInUseException, ResourceNotFoundException, ServiceError

app = typer.Typer(
    help="Streaming Workbench: Kinesis, Firehose, Athena and dashboards on one laptop.",
    no_args_is_help=True,
    add_completion=False,
)

HomeOption = typer.Option(
    DEFAULT_HOME, "--home", envvar=HOME_ENV, help="Folder where the workbench keeps its state."
)


@contextlib.contextmanager
def _exit_on(kind: type[ServiceError]) -> Iterator[None]:
    """An error of ``kind`` ends the command with its AWS code and message, and exit status 1."""
    try:
        yield
    except kind as error:
        typer.echo(f"{error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None


DemoHomeOption = typer.Option(
    DEMO_HOME,
    "--home",
    help="The demo's own folder, made afresh on each run (a folder holding other work is refused).",
)


@app.command()
def demo(home: Path = DemoHomeOption) -> None:
    """Run the whole pipeline on the embedded default and show where its outputs are."""
    from workbench._demo import fresh_demo_home, run_demo

    with _exit_on(ResourceInUseException):
        folder = fresh_demo_home(home)
    run_demo(folder, report=typer.echo)


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
    region_name: str = typer.Option(
        None, "--region-name", help="Accepted so the lab's command lines run; one region here."
    ),
    home: Path = HomeOption,
) -> None:
    """Send a simulated source into a stream, like the lab's gen_kinesis_data.py."""
    del region_name  # the workbench is one region: nothing to choose
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


@app.command()
def firehose(
    name: str = typer.Argument(None, help="A delivery stream (default: all of them)."),
    deliver: bool = typer.Option(
        False, "--deliver", help="Deliver what is waiting now (every buffer), with a progress bar."
    ),
    home: Path = HomeOption,
) -> None:
    """List the Firehose delivery streams: source, destination and what they delivered."""
    from workbench import Workbench

    wb = Workbench(home=home)
    names = (
        [name] if name else wb.firehose.list_delivery_streams(limit=10000)["DeliveryStreamNames"]
    )
    if not names:
        typer.echo("no delivery streams")
    for each in names:
        d = wb.firehose.describe_delivery_stream(each)["DeliveryStreamDescription"]
        dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        stream = wb.firehose.delivery_stream(each)
        if deliver:
            with stream.progress() as bar:
                stream.flush()
                bar.update()
        m = stream.metrics()
        typer.echo(f"{each} ({d['DeliveryStreamType']}, version {d['VersionId']})")
        typer.echo(f"  to {dest['BucketARN']} prefix {dest.get('Prefix') or '(default)'}")
        typer.echo(
            f"  delivered {m['delivered_records']} records in {m['delivered_objects']} objects "
            f"({m['delivered_bytes']} bytes); failed {m['failed_records'] or 0}; "
            f"buffered {m['buffered_records']}"
        )
    wb.firehose.close()


@app.command()
def lake(
    prefix: str = typer.Argument(None, help="s3://bucket/prefix to draw (default: the buckets)."),
    home: Path = HomeOption,
) -> None:
    """Show the lake: its buckets, or the objects under a prefix as a folder tree."""
    from workbench import Workbench

    wb = Workbench(home=home)
    if prefix is None:
        buckets = wb.lake.list_buckets()
        typer.echo(f"lake: {wb.lake.where}")
        for bucket in buckets:
            typer.echo(f"  s3://{bucket}/")
        if not buckets:
            typer.echo("  no buckets")
        return
    typer.echo(wb.lake.tree(prefix))


CredentialsOption = typer.Option(
    [],
    "--credentials",
    help="ACCESS_KEY:SECRET_KEY whose SigV4 signatures are verified (repeatable). "
    "Without any, every well-formed signature is accepted.",
)


@app.command()
def serve(
    home: Path = HomeOption,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(4567, help="TCP port; 0 picks a free one."),
    credentials: list[str] = CredentialsOption,
    workers: int = typer.Option(
        1,
        min=1,
        help="Processes serving the port together, each a whole endpoint on the same home: "
        "one process serves one request at a time, several serve several clients on several "
        "cores at once.",
    ),
    listen_fd: int | None = typer.Option(None, hidden=True),
    worker_of: int | None = typer.Option(None, hidden=True),
) -> None:
    """Serve the Kinesis and Firehose APIs for boto3, the AWS CLI and the AWS SDKs."""
    from workbench import Workbench
    from workbench.server import Endpoint, listening_socket

    keys = dict(item.split(":", 1) for item in credentials if ":" in item)
    if len(keys) != len(credentials):
        raise typer.BadParameter("--credentials takes ACCESS_KEY:SECRET_KEY")
    endpoint = Endpoint(Workbench(home=home), host=host, port=port, credentials=keys or None)
    if listen_fd is not None:  # a worker of another `workbench serve`, which announced the URL
        _end_with(worker_of or os.getppid())
        endpoint.serve_forever(announce=lambda url: None, sock=socket.socket(fileno=listen_fd))
        return
    sock = listening_socket(host, port)
    # The other workers are this command again, handed the socket: every process accepts
    # connections on it, and the engine keeps a home consistent across processes.
    worker = [sys.executable, "-m", "workbench.cli", "serve", "--home", str(home)]
    worker += [f"--credentials={item}" for item in credentials]
    worker += ["--listen-fd", str(sock.fileno()), "--worker-of", str(os.getpid())]
    children = [subprocess.Popen(worker, pass_fds=[sock.fileno()]) for _ in range(workers - 1)]
    typer.echo(f"Kinesis and Firehose endpoint for home {home} (Ctrl-C stops it)")
    try:
        endpoint.serve_forever(announce=lambda url: typer.echo(f"endpoint_url: {url}"), sock=sock)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _end_with(parent: int) -> None:
    """Stop this process (as Ctrl-C would) once ``parent``, the process that started it, is no
    longer its parent: gone, even killed without a chance to stop its workers (it would otherwise
    serve on, unseen), maybe before this one started watching."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="workbench-parent-watch", daemon=True).start()


@app.command()
def athena(
    sql: str = typer.Argument(..., help="One Athena statement (SELECT, CTAS or DDL)."),
    database: str = typer.Option("default", "--database", "-d", help="The current database."),
    home: Path = HomeOption,
) -> None:
    """Run one Athena statement over the lake and print its result and where its CSV is."""
    from workbench import Workbench

    wb = Workbench(home=home)
    with _exit_on(ServiceError):
        result = wb.athena.execute(sql, database=database)
    typer.echo(result.to_polars())
    scanned = f"{result.data_scanned_bytes:,} bytes scanned"
    typer.echo(f"query {result.query_id}: {result.engine_ms} ms, {scanned}")
    typer.echo(f"results: {result.output_location}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
