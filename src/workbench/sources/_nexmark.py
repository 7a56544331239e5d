"""Nexmark, the standard streaming benchmark: an online auction's persons, auctions and bids.

Follows the reference generator: in every 50 events the first is a person, the next 3 are
auctions and 46 are bids (1:3:46); ids start at 1000; most bids go to a "hot" auction (the last
auction whose id is a multiple of 100) and come from hot bidders, the rest go to auctions still
in flight; prices are log-uniform. Event times are the arrival times (in order) unless the
disorder knobs move them; keep ``max_delay`` within 4 s and the benchmark's watermark
(``date_time - 4 s``) drops nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import polars as pl

from workbench.sources._knobs import Rate, count, positive
from workbench.sources._source import seconds_as_datetime

PROPORTION = 50  # events per cycle: 1 person, 3 auctions, 46 bids
PERSONS, AUCTIONS = 1, 3
FIRST_ID = 1000
FIRST_CATEGORY = 10
CATEGORIES = 5
HOT_EVERY = 100  # the hot auction / bidder / seller is the last id that is a multiple of this
IN_FLIGHT_AUCTIONS = 100
ACTIVE_PERSONS = 1000
ID_LEAD = 10
_FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah",
                "Deiter", "Walter"]  # fmt: skip
_LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones",
               "Noris"]  # fmt: skip
_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond",
           "Seattle", "Kent", "Cheyenne"]  # fmt: skip
_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
_HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]
_CHANNELS = 10000
_HOT_KINDS = ("auction", "bidder", "seller")

PERSON_FIELDS = [
    "id",
    "name",
    "email_address",
    "credit_card",
    "city",
    "state",
    "date_time",
    "extra",
]
AUCTION_FIELDS = ["id", "item_name", "description", "initial_bid", "reserve", "date_time",
                  "expires", "seller", "category", "extra"]  # fmt: skip
BID_FIELDS = ["auction", "bidder", "price", "channel", "url", "date_time", "extra"]


class NexmarkModel:
    """One event per unit; the event number decides its kind, as in the reference generator."""

    columns: ClassVar[list[str]] = [
        "event_type",
        *PERSON_FIELDS[:-2],
        *[f for f in AUCTION_FIELDS if f not in PERSON_FIELDS],
        *BID_FIELDS[:-2],
        "date_time",
        "extra",
    ]
    time_column: ClassVar[str] = "date_time"
    layouts: ClassVar[list[tuple[pl.Expr | None, list[str]]]] = [
        (pl.col("event_type") == kind, ["event_type", *fields])
        for kind, fields in (
            ("person", PERSON_FIELDS),
            ("auction", AUCTION_FIELDS),
            ("bid", BID_FIELDS),
        )
    ]
    defaults: ClassVar[dict[str, Any]] = {
        "hot_auction_ratio": 2,
        "hot_bidder_ratio": 4,
        "hot_seller_ratio": 4,
        "auction_length": "60s",
    }
    events_per_unit = 1.0

    def __init__(
        self, rng: np.random.Generator, options: dict[str, Any], start: float, rate: Rate
    ) -> None:
        from workbench.clock import parse_duration

        o = {**self.defaults, **options}
        self._rng = rng
        self._hot = {k: count(f"hot_{k}_ratio", o[f"hot_{k}_ratio"]) for k in _HOT_KINDS}
        self._auction_length = positive("auction_length", parse_duration(o["auction_length"]))
        self._words = pl.Series(
            ["".join(w) for w in rng.choice(list("abcdefghijklmnopqrstuvwxyz"), (2000, 7))]
        )
        self._event = 0
        # Text made once and gathered per event: building strings per row is the slow part.
        # As in the reference, each channel has one URL; numbered ones carry their id.
        words = self._words.to_list()
        numbered = range(_CHANNELS)
        self._channels = pl.Series([*_HOT_CHANNELS, *(f"channel-{n}" for n in numbered)])
        suffixes = [""] * len(_HOT_CHANNELS) + [f"&channel_id={n}" for n in numbered]
        self._channel_urls = pl.Series(
            [
                f"https://www.nexmark.com/{words[i % 2000]}/{words[(i * 7 + 1) % 2000]}/"
                f"{words[(i * 13 + 5) % 2000]}/item.htm?query=1{suffix}"
                for i, suffix in enumerate(suffixes)
            ]
        )

    def chunk(self, times: np.ndarray) -> pl.DataFrame:
        count = len(times)
        number = self._event + np.arange(count)
        self._event += count
        cycle, offset = number // PROPORTION, number % PROPORTION
        kind = np.where(offset < PERSONS, 0, np.where(offset < PERSONS + AUCTIONS, 1, 2))
        # Ids the reference generator derives from the event number.
        last_person = cycle
        last_auction = cycle * AUCTIONS + np.clip(offset - PERSONS, -1, AUCTIONS - 1)
        parts = []
        for code, name, build in (
            (0, "person", self._persons),
            (1, "auction", self._auctions),
            (2, "bid", self._bids),
        ):
            rows = np.flatnonzero(kind == code)
            if rows.size:
                part = build(rows.size, last_person[rows], last_auction[rows], times[rows])
                parts.append(
                    part.with_columns(pl.lit(name).alias("event_type"), pl.Series("_row", rows))
                )
        frame = pl.concat(parts, how="diagonal_relaxed").sort("_row")
        return frame.with_columns(pl.lit("").alias("extra"), pl.Series("_t", times)).drop("_row")

    def _pick_person(self, last: np.ndarray, hot_ratio: int) -> np.ndarray:
        rng, count = self._rng, len(last)
        hot = rng.integers(0, hot_ratio, count) > 0
        recent = np.maximum(last - ACTIVE_PERSONS, 0) + rng.integers(0, 1 << 30, count) % (
            np.minimum(last, ACTIVE_PERSONS) + ID_LEAD
        )
        hot_id = (last // HOT_EVERY) * HOT_EVERY
        # Unlike the reference, never name a person not created yet: joins stay complete.
        return FIRST_ID + np.where(hot, hot_id, np.minimum(recent, last))

    def _persons(self, count, last_person, _auction, _times) -> pl.DataFrame:
        rng, words = self._rng, self._words
        digits = pl.Series(rng.integers(0, 10000, count * 4)).cast(pl.String).str.zfill(4)
        card = [digits.gather(np.arange(i, count * 4, 4)) for i in range(4)]
        first = pl.Series(_FIRST_NAMES).gather(rng.integers(0, len(_FIRST_NAMES), count))
        last = pl.Series(_LAST_NAMES).gather(rng.integers(0, len(_LAST_NAMES), count))
        return pl.DataFrame(
            {
                "id": FIRST_ID + last_person,
                "name": first + " " + last,
                "email_address": words.gather(rng.integers(0, len(words), count))
                + "@"
                + words.gather(rng.integers(0, len(words), count))
                + ".com",
                "credit_card": card[0] + " " + card[1] + " " + card[2] + " " + card[3],
                "city": pl.Series(_CITIES).gather(rng.integers(0, len(_CITIES), count)),
                "state": pl.Series(_STATES).gather(rng.integers(0, len(_STATES), count)),
            }
        )

    def _auctions(self, count, last_person, last_auction, times) -> pl.DataFrame:
        rng, words = self._rng, self._words
        initial = _log_uniform_cents(rng, count)
        return pl.DataFrame(
            {
                "id": FIRST_ID + last_auction,
                "item_name": words.gather(rng.integers(0, len(words), count)),
                "description": words.gather(rng.integers(0, len(words), count))
                + " "
                + words.gather(rng.integers(0, len(words), count)),
                "initial_bid": initial,
                "reserve": initial + _log_uniform_cents(rng, count),
                "expires": seconds_as_datetime(
                    times + self._auction_length * (0.5 + rng.random(count))
                ),
                "seller": self._pick_person(last_person, self._hot["seller"]),
                "category": FIRST_CATEGORY + rng.integers(0, CATEGORIES, count),
            }
        )

    def _bids(self, count, last_person, last_auction, _times) -> pl.DataFrame:
        rng = self._rng
        hot = rng.integers(0, self._hot["auction"], count) > 0
        lowest = np.maximum(last_auction - IN_FLIGHT_AUCTIONS, 0)
        in_flight = lowest + rng.integers(0, 1 << 30, count) % (last_auction - lowest + 1 + ID_LEAD)
        # Unlike the reference, never bid on an auction not created yet: joins stay complete.
        in_flight = np.minimum(in_flight, last_auction)
        auction = np.where(hot, (last_auction // HOT_EVERY) * HOT_EVERY, in_flight)
        # Half the bids come through one of the hot channels, the rest through numbered ones.
        hot_channel = rng.integers(0, 2, count) > 0
        channel = np.where(
            hot_channel,
            rng.integers(0, len(_HOT_CHANNELS), count),
            len(_HOT_CHANNELS) + rng.integers(0, _CHANNELS, count),
        )
        return pl.DataFrame(
            {
                "auction": FIRST_ID + auction,
                "bidder": self._pick_person(last_person, self._hot["bidder"]),
                "price": _log_uniform_cents(rng, count),
                "channel": self._channels.gather(channel),
                "url": self._channel_urls.gather(channel),
            }
        )

    @staticmethod
    def event_time(seconds: np.ndarray) -> pl.Series:
        return seconds_as_datetime(seconds)


def _log_uniform_cents(rng: np.random.Generator, count: int) -> np.ndarray:
    # The reference: round(10 ** (U * 6) * 100), between one cent and a million dollars.
    return np.round(10.0 ** (rng.random(count) * 6.0) * 100.0).astype(np.int64)
