"""The context object a Lambda handler receives as its second argument."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from workbench.clock import Clock
from workbench.functions._events import function_arn


@dataclass
class LambdaContext:
    """What ``context`` offers in AWS Lambda's Python runtime, on the workbench clock."""

    function_name: str
    clock: Clock
    timeout_s: float = 300.0
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self._deadline = self.clock.now() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"workbench/[{self.function_version}]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self.clock.now()) * 1000))
