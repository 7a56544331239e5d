"""A progress display of a delivery stream: a tqdm bar, shown as a widget in notebooks."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


class DeliveryProgress:
    """Delivered records against ``total``, with objects, buffered and failed records beside.

    Call :meth:`update` after delivery steps (or from a loop) to move the bar.
    """

    def __init__(self, stream: Any, total: int | None = None, **options: Any) -> None:
        self._stream = stream
        options.setdefault("unit", " records")
        options.setdefault("desc", f"{stream.name} delivered")
        self.bar = tqdm(total=total, **options)

    def update(self) -> dict[str, Any]:
        metrics = self._stream.metrics()
        self.bar.n = metrics["delivered_records"]
        self.bar.set_postfix(
            objects=metrics["delivered_objects"],
            buffered=metrics["buffered_records"],
            failed=sum(metrics["failed_records"].values()),
            freshness=f"{metrics['data_freshness_s']:.0f}s",
        )
        self.bar.refresh()
        return metrics

    def close(self) -> None:
        self.update()
        self.bar.close()

    def __enter__(self) -> DeliveryProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
