"""``wb.functions``: Lambda functions fed by data streams through event source mappings."""

from __future__ import annotations

import re
import uuid as uuid_module
from pathlib import Path
from typing import Any

from workbench._files import atomic_write_json, read_json
from workbench.clock import Clock, parse_duration
from workbench.errors import InvalidArgumentException, ResourceNotFoundException
from workbench.functions._mapping import (
    Destination,
    EventSourceMapping,
    Handler,
    stream_destination,
)
from workbench.streams import Stream, Streams

_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")


class Functions:
    """Event source mappings of this home: which function reads which stream, and how.

    A mapping's settings are kept in the home and its progress in a consumer application of
    the stream named ``lambda-<function name>``, so creating the same mapping again after a
    restart resumes from its checkpoints. The function itself is Python code and is passed
    again each time.
    """

    def __init__(self, folder: Path, streams: Streams, clock: Clock) -> None:
        self._file = folder / "event-source-mappings.json"
        self._streams = streams
        self.clock = clock
        self._live: dict[str, EventSourceMapping] = {}

    def create_event_source_mapping(
        self,
        handler: Handler,
        event_source: str,
        *,
        function_name: str | None = None,
        batch_size: int = 100,
        starting_position: str = "LATEST",
        starting_position_timestamp: str | float | None = None,
        maximum_batching_window: str | float = 0,
        maximum_retry_attempts: int = -1,
        maximum_record_age: str | float = -1,
        bisect_batch_on_function_error: bool = False,
        on_failure: Destination | Stream | str | None = None,
        environment: dict[str, str] | None = None,
        function_response_types: tuple[str, ...] = (),
        timeout: str | float = "3s",
    ) -> EventSourceMapping:
        """Feed ``event_source`` (a stream name or ARN) to ``handler(event, context)``.

        Settings and ranges as in Lambda's CreateEventSourceMapping for Kinesis: batch_size
        1-10,000 (default 100); starting_position LATEST, TRIM_HORIZON or AT_TIMESTAMP;
        maximum_batching_window 0-300 s; maximum_retry_attempts -1 (until the record expires)
        or 0-10,000; maximum_record_age -1 or 60-604,800 s; on_failure a callable, a stream or
        a stream name that receives a description of each batch given up on.
        """
        name = function_name or getattr(handler, "__name__", "function")
        if not _FUNCTION_NAME.fullmatch(name):
            raise InvalidArgumentException(
                f"Function name {name!r} is not valid: use 1-64 letters, digits, '-' or '_'."
            )
        _check_range("BatchSize", batch_size, 1, 10_000)
        window = parse_duration(maximum_batching_window)
        _check_range("MaximumBatchingWindowInSeconds", window, 0, 300)
        if maximum_retry_attempts != -1:
            _check_range("MaximumRetryAttempts", maximum_retry_attempts, 0, 10_000)
        record_age = parse_duration(maximum_record_age)
        if record_age != -1:
            _check_range("MaximumRecordAgeInSeconds", record_age, 60, 604_800)
        if starting_position not in STARTING_POSITIONS:
            raise InvalidArgumentException(
                f"StartingPosition {starting_position!r} is not valid for Kinesis: use "
                f"{', '.join(STARTING_POSITIONS)}."
            )
        unknown = set(function_response_types) - {"ReportBatchItemFailures"}
        if unknown:
            raise InvalidArgumentException(
                f"FunctionResponseTypes {sorted(unknown)} are not valid: use "
                "ReportBatchItemFailures."
            )
        stream = self._streams.stream(event_source)
        mapping_id = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"{stream.arn}|{name}"))
        if mapping_id in self._live:
            self._live.pop(mapping_id).close()
        application = self._streams.consumer(
            stream.name,
            f"lambda-{name}",
            initial_position=starting_position,
            timestamp=starting_position_timestamp,
            limit=batch_size,
            format="arrow",
        )
        mapping = EventSourceMapping(
            uuid=mapping_id,
            handler=handler,
            function_name=name,
            stream=stream,
            application=application,
            clock=self.clock,
            batch_size=batch_size,
            maximum_batching_window=window,
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_record_age=record_age,
            bisect_batch_on_function_error=bisect_batch_on_function_error,
            on_failure=self._destination(on_failure),
            environment=dict(environment or {}),
            report_batch_item_failures="ReportBatchItemFailures" in function_response_types,
            timeout=parse_duration(timeout),
        )
        self._live[mapping_id] = mapping
        saved = self._saved()
        saved[mapping_id] = mapping.describe()
        atomic_write_json(self._file, saved)
        return mapping

    def _destination(self, on_failure: Destination | Stream | str | None) -> Destination | None:
        if isinstance(on_failure, str):
            return stream_destination(self._streams.stream(on_failure))
        if isinstance(on_failure, Stream):
            return stream_destination(on_failure)
        return on_failure

    def _saved(self) -> dict[str, dict[str, Any]]:
        return dict(read_json(self._file, {}))

    def list_event_source_mappings(self) -> list[dict[str, Any]]:
        """Every mapping made in this home, live ones with their current state."""
        saved = self._saved()
        saved.update({k: m.describe() for k, m in self._live.items()})
        return list(saved.values())

    def get_event_source_mapping(self, uuid: str) -> EventSourceMapping:
        if uuid not in self._live:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist: no live event source mapping {uuid}"
            )
        return self._live[uuid]

    def delete_event_source_mapping(self, uuid: str) -> dict[str, Any]:
        saved = self._saved()
        if uuid not in saved and uuid not in self._live:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist: event source mapping {uuid}"
            )
        description = saved.pop(uuid, None)
        if uuid in self._live:
            mapping = self._live.pop(uuid)
            description = mapping.describe()
            mapping.close()
        atomic_write_json(self._file, saved)
        return {**description, "State": "Deleting"}


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidArgumentException(
            f"{name} {value:g} is not valid: it must be between {low:g} and {high:g}."
        )
