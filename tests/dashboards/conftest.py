import random
from datetime import UTC, datetime, timedelta

import pytest

from workbench import SimulatedClock, Workbench

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COUNTRIES = ["United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands"]


def retail_documents(n, seed=3, span_s=1800, end=NOW):
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        when = end - timedelta(seconds=rng.uniform(0, span_s))
        docs.append(
            (
                f"d{seed}-{i}",
                {
                    "Invoice": str(500000 + i),
                    "StockCode": f"{rng.randrange(10000, 99999)}",
                    "Description": rng.choice(["HEART T-LIGHT", "JUMBO BAG", "LUNCH BOX"]),
                    "Quantity": rng.randrange(1, 24),
                    "Price": round(rng.uniform(0.4, 9.0), 2),
                    "Country": rng.choice(COUNTRIES),
                    "InvoiceDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        )
    return docs


@pytest.fixture
def make_workbench(tmp_path):
    """Factory: a workbench on a simulated clock at NOW whose ``retail`` index holds n docs."""

    def make(n=300, seed=3):
        wb = Workbench(home=tmp_path / f"home{seed}", clock=SimulatedClock(start=NOW))
        wb.search.index_documents("retail", retail_documents(n, seed))
        return wb

    return make
