"""``workbench produce``: the lab's gen_kinesis_data.py for every source."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.clock import Clock, SimulatedClock, WallClock
from workbench.errors import ServiceError
from workbench.sources._producer import LineSink, Producer

SERVICES = ("kinesis", "firehose", "console")


def produce_command(
    source: str,
    *,
    stream: str,
    rate: float | None,
    max_count: int | None,
    seed: int,
    speed: float,
    service_name: str,
    dry_run: bool,
    verbose: bool,
    home: Path,
) -> None:
    from workbench import Workbench
    from workbench.sources import SOURCES

    fail = _failure
    if source not in SOURCES:
        fail(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    if service_name not in SERVICES:
        fail(f"unknown --service-name {service_name!r}: choose one of {', '.join(SERVICES)}")
    if speed < 0:
        fail(f"--speed must be 0 (as fast as possible) or more, got {speed:g}")
    clock: Clock = WallClock() if speed in (0, 1) else SimulatedClock(speed=speed)
    wb = Workbench(home=home, clock=clock)
    try:
        settings = {"seed": seed, "clock": wb.clock, **({"rate": rate} if rate else {})}
        chosen = SOURCES[source](**settings)
        sink = _sink(wb, service_name, stream, dry_run, verbose)
        producer = Producer(chosen, sink, max_count=max_count, fast=speed == 0, progress=True)
    except ServiceError as error:
        fail(f"{error.code}: {error.message}")
    try:
        counts = producer.run()
    except KeyboardInterrupt:
        counts = producer.counts
    except ServiceError as error:
        fail(f"{error.code}: {error.message} (sent {producer.sent} before that)")
    where = (
        "nowhere (dry run)" if dry_run else service_name if service_name == "console" else stream
    )
    typer.echo(
        f"{source}: {counts['sent']:,} records to {where} in {counts['batches']:,} batches, "
        f"{counts['retried']:,} retried, {counts['failed']:,} failed"
    )


def _sink(wb, service_name: str, stream: str, dry_run: bool, verbose: bool):
    echo = typer.echo if verbose or service_name == "console" else None
    if dry_run or service_name == "console":
        return LineSink(echo)
    if service_name == "firehose":
        if not hasattr(type(wb), "firehose"):
            _failure(
                "--service-name firehose needs the Firehose room, which this workbench does not "
                "have yet: use kinesis (a data stream) or console"
            )
        target = wb.firehose.delivery_stream(stream)
    else:
        target = wb.streams.stream(stream)
    return LineSink(echo, then=target) if verbose else target


def _failure(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
