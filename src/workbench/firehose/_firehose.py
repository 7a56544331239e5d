"""The Firehose service: delivery streams' lifecycle and the Put API, one handler per action.

State on disk, under ``<home>/firehose/<name>/``: ``config.json`` (the description, with the
version), ``state.json`` (the delivery journal) and, for DirectPut, ``buffer/`` (the put journal).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._files import atomic_write_json, locked, read_json
from workbench.errors import (
    ConcurrentModificationException,
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from workbench.firehose._config import (
    ACCOUNT,
    DELIVERY_STREAM_TYPES,
    arn_name,
    bucket_arn,
    check_destination,
    check_name,
    kinesis_arn,
    lambda_arn,
    stream_arn,
)
from workbench.firehose._delivery import Delivery
from workbench.firehose._sources import DirectPutSource, StreamSource

MAX_RECORD_BYTES = 1_000 * 1024
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
DESTINATION_ID = "destinationId-000000000001"


def _not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Firehose {name} under account {ACCOUNT} not found.")


class DeliveryStream:
    """One delivery stream as a notebook holds it: put records, deliver, read metrics.

    Delivery runs stepwise (:meth:`run_until_idle`, :meth:`flush`) on the workbench clock, or
    in the background (:meth:`start` / :meth:`stop`).
    """

    def __init__(self, firehose: Firehose, name: str) -> None:
        self._firehose = firehose
        self.name = name

    @property
    def _delivery(self) -> Delivery:
        return self._firehose._delivery(self.name)

    def describe(self) -> dict[str, Any]:
        return self._firehose.describe_delivery_stream(self.name)

    def put_record(self, data: bytes | str) -> dict[str, Any]:
        return self._firehose.put_record(self.name, data)

    def put_record_batch(self, records: list[Any]) -> dict[str, Any]:
        return self._firehose.put_record_batch(self.name, records)

    def step(self) -> int:
        return self._delivery.step()

    def run_until_idle(self) -> dict[str, Any]:
        return self._delivery.run_until_idle()

    def flush(self) -> dict[str, Any]:
        return self._delivery.flush()

    def start(self) -> None:
        self._delivery.start()

    def stop(self) -> None:
        self._delivery.stop()

    @property
    def running(self) -> bool:
        return self._delivery.running

    def metrics(self) -> dict[str, Any]:
        """Records in, records / bytes / objects delivered, failures by error output type,
        dropped records, records still buffered and data freshness in seconds."""
        delivery = self._delivery
        if delivery.recovered:
            return dict(delivery.metrics.as_dict(), last_error=delivery.last_error)
        # Not delivering in this process (maybe in another one): what the journal last committed.
        return dict(delivery.committed_metrics(), last_error=None)

    def progress(self, total: int | None = None, **tqdm_options: Any) -> Any:
        """A tqdm bar (a widget in notebooks) of delivered records; call ``.update_to()``."""
        from workbench.firehose._progress import DeliveryProgress

        return DeliveryProgress(self, total, **tqdm_options)

    def __repr__(self) -> str:
        return f"DeliveryStream({self.name!r})"


class Firehose:
    """Kinesis Data Firehose on the workbench: ``wb.firehose``.

    >>> import tempfile
    >>> from workbench import SimulatedClock, Workbench
    >>> wb = Workbench(tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01T10:00:00Z"))
    >>> _ = wb.lake.create_bucket("lab")
    >>> _ = wb.firehose.create_delivery_stream("clicks", bucket="lab", buffer_interval_s=60)
    >>> wb.firehose.put_record("clicks", b'{"page": "/"}\\n')["Encrypted"]
    False
    >>> wb.clock.advance("60s")
    >>> wb.firehose.delivery_stream("clicks").run_until_idle()["delivered_records"]
    1
    >>> [o.key[:24] for o in wb.lake.list("s3://lab/")]
    ['2026/01/01/10/clicks-1-2']
    """

    def __init__(self, workbench: Any) -> None:
        self._wb = workbench
        self._root = workbench.home.service_dir("firehose")
        self._functions: dict[str, Callable[..., Any]] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._guard = threading.RLock()

    # -- functions --------------------------------------------------------------------------------
    def register_function(self, name: str, function: Callable[..., Any]) -> str:
        """Make ``function`` the Lambda ``name`` that transforms records; its ARN."""
        if not callable(function):
            raise InvalidArgumentException(f"{function!r} is not callable.")
        self._functions[name] = function
        return lambda_arn(name)

    # -- lifecycle --------------------------------------------------------------------------------
    def _folder(self, name: str) -> Path:
        return self._root / check_name(name)

    def _config(self, name: str) -> dict[str, Any]:
        config = read_json(self._folder(name) / "config.json")
        if not isinstance(config, dict):
            raise _not_found(name)
        return config

    def create_delivery_stream(
        self,
        name: str,
        *,
        delivery_stream_type: str | None = None,
        kinesis_stream_source_configuration: dict[str, Any] | None = None,
        extended_s3_destination_configuration: dict[str, Any] | None = None,
        kinesis_stream: str | None = None,
        bucket: str | None = None,
        prefix: str | None = None,
        error_output_prefix: str | None = None,
        buffer_size_mb: int | None = None,
        buffer_interval_s: int | None = None,
        compression: str | None = None,
        transform: Callable[..., Any] | str | None = None,
        partition_query: str | None = None,
        parquet_columns: dict[str, str] | list[dict[str, str]] | None = None,
        parquet_table: str | None = None,
        parquet_compression: str | None = None,
        backup_prefix: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Create a delivery stream into the lake; ``{"DeliveryStreamARN": ...}``.

        Give AWS's ``extended_s3_destination_configuration`` (and
        ``kinesis_stream_source_configuration``) as on AWS, or the short forms: ``bucket``,
        ``prefix``, ``error_output_prefix``, ``buffer_size_mb``, ``buffer_interval_s``,
        ``compression``, ``transform`` (a function, or a registered function's name),
        ``partition_query`` (a JQ query for dynamic partitioning), ``parquet_columns``
        (``{"column": "glue type"}``) or ``parquet_table`` (``"database.table"`` of the catalog),
        ``parquet_compression``, ``backup_prefix``; and ``kinesis_stream`` for a stream source.
        """
        folder = self._folder(name)
        if kinesis_stream is not None:
            kinesis_stream_source_configuration = {"KinesisStreamARN": kinesis_arn(kinesis_stream)}
        if delivery_stream_type is None:
            delivery_stream_type = (
                "KinesisStreamAsSource" if kinesis_stream_source_configuration else "DirectPut"
            )
        if delivery_stream_type not in DELIVERY_STREAM_TYPES:
            raise InvalidArgumentException(
                f"DeliveryStreamType {delivery_stream_type!r} is not one of "
                f"{', '.join(DELIVERY_STREAM_TYPES)}."
            )
        source = None
        if delivery_stream_type == "KinesisStreamAsSource":
            if not kinesis_stream_source_configuration or (
                "KinesisStreamARN" not in kinesis_stream_source_configuration
            ):
                raise InvalidArgumentException(
                    "KinesisStreamAsSource needs KinesisStreamSourceConfiguration with a "
                    "KinesisStreamARN (or kinesis_stream='name')."
                )
            stream = arn_name(kinesis_stream_source_configuration["KinesisStreamARN"], "kinesis")
            self._wb.streams.stream(stream)  # ResourceNotFoundException if it does not exist
            source = {
                "KinesisStreamSourceDescription": {
                    "KinesisStreamARN": kinesis_stream_source_configuration["KinesisStreamARN"],
                    "RoleARN": kinesis_stream_source_configuration.get(
                        "RoleARN", f"arn:aws:iam::{ACCOUNT}:role/firehose"
                    ),
                    "DeliveryStartTimestamp": self._wb.clock.datetime().isoformat(),
                }
            }
        elif kinesis_stream_source_configuration:
            raise InvalidArgumentException(
                "KinesisStreamSourceConfiguration is only for DeliveryStreamType "
                "KinesisStreamAsSource."
            )
        config = self._short_forms(
            dict(extended_s3_destination_configuration or {}),
            bucket=bucket, prefix=prefix, error_output_prefix=error_output_prefix,
            buffer_size_mb=buffer_size_mb, buffer_interval_s=buffer_interval_s,
            compression=compression, transform=transform, partition_query=partition_query,
            parquet_columns=parquet_columns, parquet_table=parquet_table,
            parquet_compression=parquet_compression, backup_prefix=backup_prefix,
        )  # fmt: skip
        destination = check_destination(config)
        with locked(self._root / ".lock"):
            if (folder / "config.json").exists():
                raise ResourceInUseException(
                    f"Firehose {name} under accountId {ACCOUNT} already exists."
                )
            folder.mkdir(exist_ok=True)
            now = self._wb.clock.datetime().isoformat()
            description = {
                "DeliveryStreamName": name,
                "DeliveryStreamARN": stream_arn(name),
                "DeliveryStreamStatus": "ACTIVE",
                "DeliveryStreamType": delivery_stream_type,
                "VersionId": "1",
                "CreateTimestamp": now,
                "LastUpdateTimestamp": now,
                "Destinations": [
                    {
                        "DestinationId": DESTINATION_ID,
                        "ExtendedS3DestinationDescription": destination.config,
                    }
                ],
                "HasMoreDestinations": False,
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            }
            if source:
                description["Source"] = source
                # A consumer application of its own, new for each delivery stream created: a
                # deleted and re-created delivery stream starts from TRIM_HORIZON again.
                atomic_write_json(
                    folder / "source.json",
                    {"application": f"firehose-{name}-{uuid.uuid4().hex[:8]}"},
                )
            atomic_write_json(folder / "config.json", description)
        return {"DeliveryStreamARN": stream_arn(name)}

    def _short_forms(self, config: dict[str, Any], **short: Any) -> dict[str, Any]:
        if short["bucket"] is not None:
            config["BucketARN"] = bucket_arn(short["bucket"].removeprefix("s3://").rstrip("/"))
        for key, field in (("prefix", "Prefix"), ("error_output_prefix", "ErrorOutputPrefix"),
                           ("compression", "CompressionFormat")):  # fmt: skip
            if short[key] is not None:
                config[field] = short[key]
        hints = config.setdefault("BufferingHints", {})
        if short["buffer_size_mb"] is not None:
            hints["SizeInMBs"] = short["buffer_size_mb"]
        if short["buffer_interval_s"] is not None:
            hints["IntervalInSeconds"] = short["buffer_interval_s"]
        processors = []
        transform = short["transform"]
        if transform is not None:
            function = transform if isinstance(transform, str) else transform.__name__
            if not isinstance(transform, str):
                self.register_function(function, transform)
            arn = lambda_arn(function)
            parameters = [{"ParameterName": "LambdaArn", "ParameterValue": arn}]
            processors.append({"Type": "Lambda", "Parameters": parameters})
        if short["partition_query"] is not None:
            config["DynamicPartitioningConfiguration"] = {"Enabled": True}
            processors.append(
                {"Type": "MetadataExtraction",
                 "Parameters": [
                     {"ParameterName": "MetadataExtractionQuery",
                      "ParameterValue": short["partition_query"]},
                     {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}
            )  # fmt: skip
        if processors:
            config["ProcessingConfiguration"] = {"Enabled": True, "Processors": processors}
        columns, table = short["parquet_columns"], short["parquet_table"]
        if columns is not None or table is not None:
            schema: dict[str, Any] = {}
            if isinstance(columns, dict):
                columns = [{"Name": k, "Type": v} for k, v in columns.items()]
            if columns is not None:
                schema["Columns"] = columns
            if table is not None:
                database, _, name = table.partition(".")
                schema.update(DatabaseName=database, TableName=name)
            parquet = {}
            if short["parquet_compression"] is not None:
                parquet["Compression"] = short["parquet_compression"]
            config["DataFormatConversionConfiguration"] = {
                "Enabled": True,
                "SchemaConfiguration": schema,
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": parquet}},
            }
        if short["backup_prefix"] is not None:
            config["S3BackupMode"] = "Enabled"
            config["S3BackupConfiguration"] = {
                "BucketARN": config.get("BucketARN"),
                "Prefix": short["backup_prefix"],
            }
        return config

    def describe_delivery_stream(self, name: str) -> dict[str, Any]:
        """``{"DeliveryStreamDescription": {...}}`` as AWS describes it."""
        description = self._config(name)
        description = dict(description)
        for key in ("CreateTimestamp", "LastUpdateTimestamp"):
            description[key] = datetime.fromisoformat(description[key]).astimezone(UTC)
        description.pop("Tags", None)
        return {"DeliveryStreamDescription": description}

    def list_delivery_streams(
        self,
        *,
        limit: int = 10,
        delivery_stream_type: str | None = None,
        exclusive_start_delivery_stream_name: str | None = None,
    ) -> dict[str, Any]:
        """``{"DeliveryStreamNames": [...], "HasMoreDeliveryStreams": bool}``, by name."""
        if not 1 <= limit <= 10000:
            raise ValidationException(f"Limit must be from 1 to 10000, not {limit}.")
        names = []
        for folder in sorted(self._root.iterdir()):
            config = read_json(folder / "config.json") if folder.is_dir() else None
            if not isinstance(config, dict):
                continue
            if delivery_stream_type and config["DeliveryStreamType"] != delivery_stream_type:
                continue
            if exclusive_start_delivery_stream_name and folder.name <= (
                exclusive_start_delivery_stream_name
            ):
                continue
            names.append(folder.name)
        return {"DeliveryStreamNames": names[:limit], "HasMoreDeliveryStreams": len(names) > limit}

    def delete_delivery_stream(self, name: str) -> None:
        """Delete the delivery stream and every record still buffered in it (as on AWS)."""
        self._config(name)
        with self._guard:
            delivery = self._deliveries.pop(name, None)
            if delivery is not None:
                delivery.close()
        shutil.rmtree(self._folder(name))

    def update_destination(
        self,
        name: str,
        *,
        current_delivery_stream_version_id: str,
        destination_id: str = DESTINATION_ID,
        extended_s3_destination_update: dict[str, Any],
    ) -> None:
        """Change the destination's configuration; the version goes up by one."""
        with locked(self._root / ".lock"):
            description = self._config(name)
            if description["VersionId"] != str(current_delivery_stream_version_id):
                raise ConcurrentModificationException(
                    f"Version {current_delivery_stream_version_id} of {name} is not the current "
                    f"version {description['VersionId']}; describe it again and retry."
                )
            if destination_id != DESTINATION_ID:
                raise InvalidArgumentException(f"Destination {destination_id} not found.")
            current = description["Destinations"][0]["ExtendedS3DestinationDescription"]
            merged = {**current, **extended_s3_destination_update}
            destination = check_destination(merged)
            description["Destinations"][0]["ExtendedS3DestinationDescription"] = destination.config
            description["VersionId"] = str(int(description["VersionId"]) + 1)
            description["LastUpdateTimestamp"] = self._wb.clock.datetime().isoformat()
            with self._guard:
                delivery = self._deliveries.pop(name, None)
            if delivery is not None:
                # Buffers go out under the old configuration before the new one takes over.
                delivery.flush()
                delivery.close()
            atomic_write_json(self._folder(name) / "config.json", description)

    # -- records ----------------------------------------------------------------------------------
    def put_record(self, name: str, data: bytes | str) -> dict[str, Any]:
        """Put one record (at most 1,000 KiB); ``{"RecordId", "Encrypted"}``."""
        result = self._put(name, [data], batch=False)
        return {"RecordId": result[0], "Encrypted": False}

    def put_record_batch(self, name: str, records: list[Any]) -> dict[str, Any]:
        """Put up to 500 records, 4 MiB in all (bytes, str or ``{"Data": ...}``)."""
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH_RECORDS:
            count = len(records) if isinstance(records, list) else records
            raise ValidationException(
                f"1 validation error detected: Value at 'records' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_BATCH_RECORDS} and greater "
                f"than or equal to 1 (got {count})."
            )
        ids = self._put(name, records, batch=True)
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": i} for i in ids],
        }

    def _put(self, name: str, records: list[Any], *, batch: bool) -> list[str]:
        description = self._config(name)
        if description["DeliveryStreamType"] != "DirectPut":
            raise InvalidArgumentException(
                f"This operation is not permitted on KinesisStreamAsSource delivery stream "
                f"type: {name} reads from a data stream; put records into the stream instead."
            )
        payload = [_record_bytes(r) for r in records]
        for i, data in enumerate(payload):
            if len(data) > MAX_RECORD_BYTES:
                where = f"records.{i + 1}.member.data" if batch else "record.data"
                raise ValidationException(
                    f"1 validation error detected: Value at '{where}' failed to satisfy "
                    f"constraint: Member must have length less than or equal to "
                    f"{MAX_RECORD_BYTES} ({len(data)} bytes given)."
                )
        total = sum(len(d) for d in payload)
        if total > MAX_BATCH_BYTES:
            raise InvalidArgumentException(
                f"Records size exceeds 4 MB limit: the batch has {total} bytes; PutRecordBatch "
                f"takes at most {MAX_BATCH_BYTES} bytes in all."
            )
        journal = self._direct_source(name).journal
        first = journal.append(payload, self._wb.clock.now_ms())
        with self._guard:
            delivery = self._deliveries.get(name)
        if delivery is not None:
            delivery.wake()
        return [_record_id(first + i) for i in range(len(payload))]

    def _direct_source(self, name: str) -> DirectPutSource:
        with self._guard:
            delivery = self._deliveries.get(name)
        if delivery is not None:
            return delivery.source
        return DirectPutSource(self._folder(name) / "buffer")

    # -- delivery ---------------------------------------------------------------------------------
    def delivery_stream(self, name: str) -> DeliveryStream:
        """The delivery stream ``name`` (ResourceNotFoundException)."""
        self._config(name)
        return DeliveryStream(self, name)

    def _delivery(self, name: str) -> Delivery:
        with self._guard:
            delivery = self._deliveries.get(name)
            if delivery is not None:
                return delivery
            description = self._config(name)
            destination = check_destination(
                description["Destinations"][0]["ExtendedS3DestinationDescription"]
            )
            folder = self._folder(name)
            if description["DeliveryStreamType"] == "DirectPut":
                source: Any = DirectPutSource(folder / "buffer")
            else:
                arn = description["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"]
                application = read_json(folder / "source.json")["application"]
                source = StreamSource(
                    lambda: self._wb.streams.consumer(
                        arn_name(arn, "kinesis"),
                        application,
                        # One process delivers a delivery stream (deliver.lock): a fixed worker
                        # id takes its leases back at once after a crash.
                        worker_id=application,
                        format="arrow",
                    ),
                    arn,
                )
            delivery = Delivery(
                name=name,
                arn=description["DeliveryStreamARN"],
                version=int(description["VersionId"]),
                folder=folder,
                destination=destination,
                source=source,
                lake=self._wb.lake,
                clock=self._wb.clock,
                functions=self._functions.get,
                catalog=self._catalog_columns,
            )
            self._deliveries[name] = delivery
            return delivery

    def _catalog_columns(self, schema: dict[str, Any]) -> list[dict[str, str]]:
        catalog = getattr(self._wb, "catalog", None)
        if catalog is None:
            raise ResourceNotFoundException(
                f"No catalog to read table {schema['DatabaseName']}.{schema['TableName']} from."
            )
        table = catalog.get_table(database_name=schema["DatabaseName"], name=schema["TableName"])
        return table["Table"]["StorageDescriptor"]["Columns"]

    def close(self) -> None:
        """Stop every background delivery of this process."""
        with self._guard:
            for delivery in self._deliveries.values():
                delivery.close()
            self._deliveries.clear()


def _record_bytes(record: Any) -> bytes:
    if isinstance(record, dict):
        if "Data" not in record:
            raise ValidationException("A record is {'Data': bytes}; 'Data' is missing.")
        record = record["Data"]
    if isinstance(record, str):
        return record.encode()
    if isinstance(record, (bytes, bytearray, memoryview)):
        return bytes(record)
    raise ValidationException(f"Record data must be bytes or str, not {type(record).__name__}.")


def _record_id(ordinal: int) -> str:
    # AWS record ids are opaque 224-character strings; ours name the journal position.
    return f"{ordinal:056d}"
