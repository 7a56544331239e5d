"""A delivery stream's configuration: AWS's shapes, defaults, ranges and the rules between them.

Everything is validated here before a delivery stream is created or updated, so the delivery
code can trust the dictionaries it reads. Names and shapes are those of the Firehose API
(``ExtendedS3DestinationConfiguration``...), so a configuration written for AWS works unchanged.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from workbench.errors import InvalidArgumentException, ValidationException
from workbench.firehose._convert import arrow_schema
from workbench.firehose._partition import compile_query
from workbench.firehose._prefix import Prefixes

ACCOUNT = "000000000000"
REGION = "us-east-1"
MAX_NAME = 64
_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
DELIVERY_STREAM_TYPES = ("DirectPut", "KinesisStreamAsSource")
COMPRESSION_FORMATS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
PARQUET_COMPRESSIONS = ("UNCOMPRESSED", "GZIP", "SNAPPY")
SIZE_RANGE = (1, 128)
INTERVAL_RANGE = (0, 900)
DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL_S = 300
CONVERSION_MIN_SIZE_MB = 64
CONVERSION_DEFAULT_SIZE_MB = 128
LAMBDA_RETRIES = 3
PROCESSOR_TYPES = ("Lambda", "MetadataExtraction", "AppendDelimiterToRecord", "RecordDeAggregation")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not _NAME.match(name):
        raise ValidationException(
            f"1 validation error detected: Value {name!r} at 'deliveryStreamName' failed to "
            f"satisfy constraint: Member must have length between 1 and {MAX_NAME} and match "
            "pattern [a-zA-Z0-9_.-]+"
        )
    return name


def stream_arn(name: str) -> str:
    return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"


def kinesis_arn(stream: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"


def lambda_arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def arn_name(arn: str, kind: str) -> str:
    """The resource name at the end of an ARN (stream name, bucket, function name)."""
    separators = {"kinesis": "stream/", "s3": ":::", "lambda": "function:"}
    sep = separators[kind]
    if not isinstance(arn, str) or sep not in arn:
        raise InvalidArgumentException(f"{arn!r} is not a {kind} ARN (expected ...{sep}<name>).")
    return arn.split(sep, 1)[1].split(":", 1)[0]


def processor_parameters(processor: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}


def _int_in(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentException(
            f"{what} must be an integer from {low} to {high}, not {value!r}."
        )
    return value


@dataclass(frozen=True)
class Destination:
    """The parts of an ExtendedS3DestinationConfiguration that delivery needs, checked."""

    config: dict[str, Any]
    bucket: str
    prefixes: Prefixes
    size_bytes: int
    interval_s: int
    compression: str
    lambda_function: str | None
    lambda_retries: int
    query: str | None
    append_delimiter: bool
    dynamic_partitioning: bool
    conversion: dict[str, Any] | None
    backup: Prefixes | None
    backup_bucket: str | None


def check_destination(config: dict[str, Any]) -> Destination:
    """Fill AWS's defaults into ``config`` (a copy) and check every rule; a Destination."""
    if not isinstance(config, dict):
        raise InvalidArgumentException("ExtendedS3DestinationConfiguration must be a dictionary.")
    config = copy.deepcopy(config)
    if "BucketARN" not in config:
        raise InvalidArgumentException("ExtendedS3DestinationConfiguration needs a BucketARN.")
    bucket = arn_name(config["BucketARN"], "s3")
    conversion = config.get("DataFormatConversionConfiguration")
    converting = bool(conversion and conversion.get("Enabled", True))
    hints = config.setdefault("BufferingHints", {})
    default_size = CONVERSION_DEFAULT_SIZE_MB if converting else DEFAULT_SIZE_MB
    size = _int_in(hints.setdefault("SizeInMBs", default_size), *SIZE_RANGE, "SizeInMBs")
    interval = _int_in(
        hints.setdefault("IntervalInSeconds", DEFAULT_INTERVAL_S), *INTERVAL_RANGE,
        "IntervalInSeconds",
    )  # fmt: skip
    if converting and size < CONVERSION_MIN_SIZE_MB:
        raise InvalidArgumentException(
            f"BufferingHints.SizeInMBs must be at least {CONVERSION_MIN_SIZE_MB} when data "
            f"format conversion is enabled, not {size}."
        )
    compression = config.setdefault("CompressionFormat", "UNCOMPRESSED")
    if compression not in COMPRESSION_FORMATS:
        raise InvalidArgumentException(
            f"CompressionFormat {compression!r} is not one of {', '.join(COMPRESSION_FORMATS)}."
        )
    if converting and compression != "UNCOMPRESSED":
        raise InvalidArgumentException(
            "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled; "
            "set the compression in ParquetSerDe instead."
        )
    lambda_function, retries, query, append = _processors(config)
    dynamic = bool(config.get("DynamicPartitioningConfiguration", {}).get("Enabled", False))
    if query is not None and not dynamic:
        raise InvalidArgumentException(
            "A MetadataExtraction processor needs dynamic partitioning to be enabled."
        )
    prefixes = Prefixes.from_config(
        config.get("Prefix"),
        config.get("ErrorOutputPrefix"),
        dynamic_partitioning=dynamic,
        query_keys=_query_keys(query) if query is not None else None,
        lambda_keys_allowed=lambda_function is not None,
    )
    backup = backup_bucket = None
    mode = config.setdefault("S3BackupMode", "Disabled")
    if mode not in ("Disabled", "Enabled"):
        raise InvalidArgumentException(f"S3BackupMode must be Disabled or Enabled, not {mode!r}.")
    if mode == "Enabled":
        backup_config = config.get("S3BackupConfiguration")
        if not backup_config or "BucketARN" not in backup_config:
            raise InvalidArgumentException(
                "S3BackupMode Enabled needs an S3BackupConfiguration with a BucketARN."
            )
        backup_bucket = arn_name(backup_config["BucketARN"], "s3")
        backup = Prefixes.from_config(
            backup_config.get("Prefix"), backup_config.get("ErrorOutputPrefix")
        )
    return Destination(
        config=config,
        bucket=bucket,
        prefixes=prefixes,
        size_bytes=size * 1024 * 1024,
        interval_s=interval,
        compression=compression,
        lambda_function=lambda_function,
        lambda_retries=retries,
        query=query,
        append_delimiter=append,
        dynamic_partitioning=dynamic,
        conversion=_check_conversion(conversion) if converting else None,
        backup=backup,
        backup_bucket=backup_bucket,
    )


def _processors(config: dict[str, Any]) -> tuple[str | None, int, str | None, bool]:
    processing = config.get("ProcessingConfiguration") or {}
    if not processing.get("Enabled", bool(processing.get("Processors"))):
        return None, LAMBDA_RETRIES, None, False
    function = query = None
    retries = LAMBDA_RETRIES
    append = False
    for processor in processing.get("Processors", []):
        kind = processor.get("Type")
        if kind not in PROCESSOR_TYPES:
            raise InvalidArgumentException(
                f"Processor type {kind!r} is not one of {', '.join(PROCESSOR_TYPES)}."
            )
        params = processor_parameters(processor)
        if kind == "Lambda":
            if "LambdaArn" not in params:
                raise InvalidArgumentException("A Lambda processor needs a LambdaArn parameter.")
            function = arn_name(params["LambdaArn"], "lambda")
            retries = _int_in(int(params.get("NumberOfRetries", LAMBDA_RETRIES)), 0, 300,
                              "NumberOfRetries")  # fmt: skip
        elif kind == "MetadataExtraction":
            query = params.get("MetadataExtractionQuery")
            if not query:
                raise InvalidArgumentException(
                    "A MetadataExtraction processor needs a MetadataExtractionQuery parameter, "
                    "a JQ expression such as {customer_id:.customer_id}."
                )
            _query_keys(query)
        elif kind == "AppendDelimiterToRecord":
            append = True
    return function, retries, query, append


_QUERY_KEY = re.compile(r"[{,]\s*\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*:")


def _query_keys(query: str) -> frozenset[str]:
    """The keys of the object a MetadataExtraction JQ query builds (``{key: .path, ...}``)."""
    compile_query(query)
    keys = frozenset(_QUERY_KEY.findall(query))
    if not query.strip().startswith("{") or not keys:
        raise InvalidArgumentException(
            f"MetadataExtractionQuery {query!r} must build an object of partition keys, such as "
            '{customer_id:.customer_id, year:.event_timestamp|strftime("%Y")}.'
        )
    return keys


def _check_conversion(conversion: dict[str, Any]) -> dict[str, Any]:
    schema = conversion.get("SchemaConfiguration") or {}
    if not schema.get("Columns") and not (schema.get("DatabaseName") and schema.get("TableName")):
        raise InvalidArgumentException(
            "DataFormatConversionConfiguration.SchemaConfiguration needs DatabaseName and "
            "TableName of a catalog table, or Columns [{Name, Type}] given explicitly."
        )
    if schema.get("Columns"):
        arrow_schema(schema["Columns"])
    deserializer = (conversion.get("InputFormatConfiguration") or {}).get("Deserializer") or {
        "OpenXJsonSerDe": {}
    }
    if not set(deserializer) <= {"OpenXJsonSerDe", "HiveJsonSerDe"} or len(deserializer) != 1:
        raise InvalidArgumentException(
            "InputFormatConfiguration.Deserializer must be one of OpenXJsonSerDe or HiveJsonSerDe."
        )
    serializer = (conversion.get("OutputFormatConfiguration") or {}).get("Serializer") or {
        "ParquetSerDe": {}
    }
    if set(serializer) != {"ParquetSerDe"}:
        raise InvalidArgumentException(
            "OutputFormatConfiguration.Serializer must be ParquetSerDe (ORC is not available)."
        )
    parquet = serializer["ParquetSerDe"]
    parquet.setdefault("Compression", "SNAPPY")
    if parquet["Compression"] not in PARQUET_COMPRESSIONS:
        raise InvalidArgumentException(
            f"ParquetSerDe Compression must be one of {', '.join(PARQUET_COMPRESSIONS)}."
        )
    conversion["InputFormatConfiguration"] = {"Deserializer": deserializer}
    conversion["OutputFormatConfiguration"] = {"Serializer": serializer}
    conversion.setdefault("Enabled", True)
    return conversion
