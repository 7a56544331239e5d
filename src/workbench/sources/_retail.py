"""Retail transactions shaped like UCI "Online Retail II", as the lab's producer sends them.

One unit is an invoice: several lines sharing Invoice, InvoiceDate, Customer_ID and Country.
Countries and products follow steep popularity curves (the United Kingdom and a few best
sellers dominate), customers come back (a Zipf activity curve), and a few invoices are by
guests with an empty Customer_ID, as in the real data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import polars as pl

from workbench.sources._knobs import Rate, count, fraction, positive
from workbench.sources._source import Weighted, seconds_as_text, zipf_weights

FIRST_INVOICE = 489434
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# The real data set's countries, most frequent first; the UK holds about 80% of invoices.
COUNTRIES = [
    "United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain", "Belgium",
    "Switzerland", "Portugal", "Australia", "Norway", "Sweden", "Italy", "Channel Islands",
    "Finland", "Cyprus", "Denmark", "Austria", "Japan", "Poland", "Israel", "USA", "Hong Kong",
    "Singapore", "Unspecified", "Iceland", "Canada", "Greece", "Malta", "United Arab Emirates",
    "European Community", "RSA", "Lebanon", "Lithuania", "Brazil", "Czech Republic", "Bahrain",
    "Saudi Arabia",
]  # fmt: skip
UK_SHARE = 0.8
_ADJECTIVES = [
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "VINTAGE", "REGENCY", "RETRO", "SMALL",
    "LARGE", "JUMBO", "MINI", "HANGING", "PAPER", "GLASS", "WOODEN", "ENAMEL", "CERAMIC",
    "POLKADOT", "CHRISTMAS", "HEART", "STAR", "FLORAL", "SPOTTY", "PARTY", "ANTIQUE", "SET OF 3",
]  # fmt: skip
_NOUNS = [
    "T-LIGHT HOLDER", "LUNCH BAG", "CAKE CASES", "BUNTING", "NAPKINS", "CANDLE", "MUG",
    "TEACUP AND SAUCER", "DOORMAT", "PHOTO FRAME", "STORAGE TIN", "JAM JAR", "BIRD ORNAMENT",
    "SHOPPING BAG", "WATER BOTTLE", "CUSHION COVER", "ALARM CLOCK", "GLASS BALL 20 LIGHTS",
    "PEG BAG", "CHALKBOARD", "TRINKET BOX", "DRAWER KNOB", "WALL ART", "PLASTERS IN TIN",
]  # fmt: skip
_QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 36, 48, 96])
_QUANTITY_TABLE = Weighted(np.array([24, 14, 7, 6, 10, 4, 4, 16, 7, 2, 3, 1], dtype=float))


class RetailModel:
    """The retail world: a product catalogue, returning customers and invoices of several lines."""

    columns: ClassVar[list[str]] = [
        "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
        "Customer_ID", "Country",
    ]  # fmt: skip
    time_column: ClassVar[str] = "InvoiceDate"
    layouts: ClassVar[list[tuple[pl.Expr | None, list[str]]]] = [(None, columns)]
    defaults: ClassVar[dict[str, Any]] = {
        "products": 4000,
        "customers": 5000,
        "lines_per_invoice": 12.0,
        "guest_share": 0.05,
    }

    def __init__(
        self, rng: np.random.Generator, options: dict[str, Any], start: float, rate: Rate
    ) -> None:
        o = {**self.defaults, **options}
        self._rng = rng
        self._guest_share = fraction("guest_share", o["guest_share"])
        self.events_per_unit = max(positive("lines_per_invoice", o["lines_per_invoice"]), 1.0)
        self._line_p = 1.0 / self.events_per_unit
        products, customers = count("products", o["products"]), count("customers", o["customers"])

        codes = rng.choice(np.arange(10000, 100000), products, replace=False).astype(str)
        letters = np.where(
            rng.random(products) < 0.12, rng.choice(list("ABCDEFGHJKLMNPRSW"), products), ""
        )
        names = [f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS]
        self._stock = pl.Series(np.char.add(codes, letters))
        self._description = pl.Series(np.array(names)[rng.integers(0, len(names), products)])
        # Prices cluster under a few pounds, in pence, with a long tail of furniture.
        pence = np.round(rng.lognormal(np.log(2.5), 0.8, products).clip(0.1, 300.0) * 100)
        self._price = pl.Series(pence / 100.0)
        self._product_table = Weighted(zipf_weights(products, 1.1))

        country_weights = np.concatenate(
            [[UK_SHARE], (1 - UK_SHARE) * _normalised(zipf_weights(len(COUNTRIES) - 1, 1.3))]
        )
        self._countries = pl.Series(COUNTRIES)
        ids = 12346 + rng.choice(6000 if customers <= 6000 else customers * 2, customers, False)
        # The last entry stands for a guest: an empty Customer_ID, as the real data has.
        self._customer_id = pl.Series([*(f"{i}.0" for i in ids), ""])
        self._country_table = Weighted(country_weights)
        self._customer_country = self._country_table.sample(rng, customers)
        self._customer_table = Weighted(zipf_weights(customers, 0.8))
        self._next_invoice = FIRST_INVOICE

    def chunk(self, times: np.ndarray) -> pl.DataFrame:
        invoices, rng = len(times), self._rng
        lines = np.minimum(rng.geometric(self._line_p, invoices), 200)
        of_line = np.repeat(np.arange(invoices), lines)
        count = int(lines.sum())

        number = (self._next_invoice + np.arange(invoices) - 100000) % 900000 + 100000
        self._next_invoice += invoices
        guest = rng.random(invoices) < self._guest_share
        customer = self._customer_table.sample(rng, invoices)
        country = np.where(
            guest,
            self._country_table.sample(rng, invoices),
            self._customer_country[customer],
        )
        customer[guest] = len(self._customer_id) - 1
        product = self._product_table.sample(rng, count)
        quantity = _QUANTITIES[_QUANTITY_TABLE.sample(rng, count)]
        return pl.DataFrame(
            {
                "Invoice": pl.Series(number).cast(pl.String).gather(of_line),
                "StockCode": self._stock.gather(product),
                "Description": self._description.gather(product),
                "Quantity": quantity,
                "Price": self._price.gather(product),
                "Customer_ID": self._customer_id.gather(customer[of_line]),
                "Country": self._countries.gather(country[of_line]),
                "_t": times[of_line],
            }
        )

    @staticmethod
    def event_time(seconds: np.ndarray) -> pl.Series:
        # The lab's producer stamps whole seconds in UTC wall-clock text.
        return seconds_as_text(seconds, TIME_FORMAT)


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()
