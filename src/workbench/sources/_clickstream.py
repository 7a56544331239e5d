"""Clickstream: users browsing a shop in sessions, with a purchase funnel.

One unit is a session start. A session lands on a page, then views products and searches, some
sessions add to cart, and some of those buy. Think times between a session's events stay below
half the ``session_gap`` and a user's next session starts at least ``session_gap`` after the
last one ends, so session windows with that gap find exactly the ``session_id`` sessions.
The default rate follows a daily traffic shape.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import polars as pl

from workbench.clock import parse_duration
from workbench.sources._knobs import Rate, count, positive
from workbench.sources._source import Weighted, seconds_as_datetime, zipf_weights

EVENT_TYPES = ("page_view", "search", "add_to_cart", "purchase")
_REFERRERS = ["direct", "google", "facebook", "instagram", "newsletter", "partner", "bing"]
_REFERRER_TABLE = Weighted(np.array([30, 35, 12, 8, 7, 5, 3], dtype=float))
_DEVICES = ["mobile", "desktop", "tablet"]
_DEVICE_TABLE = Weighted(np.array([58, 36, 6], dtype=float))
_COUNTRIES = ["US", "GB", "DE", "FR", "IN", "CA", "BR", "JP", "AU", "ES", "IT", "NL", "SE", "MX"]
_QUERIES = [
    "shoes", "running shoes", "jacket", "rain jacket", "backpack", "water bottle", "socks",
    "sunglasses", "watch", "headphones", "yoga mat", "t-shirt", "hoodie", "gift card",
]  # fmt: skip
_QUERY_TABLE = pl.Series([*_QUERIES, None], dtype=pl.String)
_MIDDLE_P = 0.25  # geometric: a session has on average 3 events between landing and cart
_CART_P, _BUY_P, _SEARCH_P = 0.3, 0.35, 0.3


class ClickstreamModel:
    """Sessions expanded into events; events past the chunk's horizon wait for the next chunk."""

    columns: ClassVar[list[str]] = [
        "event_time", "user_id", "session_id", "event_type", "page", "product_id",
        "search_query", "referrer", "device", "country",
    ]  # fmt: skip
    time_column: ClassVar[str] = "event_time"
    layouts: ClassVar[list[tuple[pl.Expr | None, list[str]]]] = [(None, columns)]
    defaults: ClassVar[dict[str, Any]] = {
        "users": None,
        "products": 500,
        "session_gap": "30m",
        "think_time": "20s",
    }
    events_per_unit = 1 + (1 - _MIDDLE_P) / _MIDDLE_P + _CART_P * (1 + _BUY_P)

    def __init__(
        self, rng: np.random.Generator, options: dict[str, Any], start: float, rate: Rate
    ) -> None:
        o = {**self.defaults, **options}
        self._rng = rng
        self._gap = positive("session_gap", parse_duration(o["session_gap"]))
        self._think = positive("think_time", parse_duration(o["think_time"]))
        if o["users"] is None:
            # Enough users that, even at twice the average rate, a user is busy (in a session or
            # its gap) a third of the time at most: repeat visits without piling up sessions.
            busy = rate.per_second / self.events_per_unit * (self._gap + 10 * self._think)
            self._users = int(np.clip(6 * busy, 1000, 5_000_000))
        else:
            self._users = count("users", o["users"])
        self._device = _DEVICE_TABLE.sample(rng, self._users).astype(np.int8)
        self._country = (
            Weighted(zipf_weights(len(_COUNTRIES), 1.2)).sample(rng, self._users).astype(np.int8)
        )
        products = count("products", o["products"])
        self._product_table = Weighted(zipf_weights(products, 1.0))
        ids = [f"{i:05d}" for i in range(products)]
        self._products = pl.Series([*ids, None], dtype=pl.String)
        self._pages = pl.Series(
            ["/", "/search", "/cart", "/checkout", *(f"/product/{i}" for i in ids)]
        )
        self._free_from = np.full(self._users, -np.inf)  # when each user may start a new session
        self._session = 0
        self._pending: dict[str, np.ndarray] = {}

    def chunk(self, starts: np.ndarray) -> pl.DataFrame:
        rng, sessions = self._rng, len(starts)
        middle = rng.geometric(_MIDDLE_P, sessions) - 1
        cart = rng.random(sessions) < _CART_P
        buy = cart & (rng.random(sessions) < _BUY_P)
        length = 1 + middle + cart + buy
        total = int(length.sum())
        first = np.concatenate([[0], np.cumsum(length)[:-1]])
        of = np.repeat(np.arange(sessions), length)
        position = np.arange(total) - first[of]

        think = np.minimum(rng.exponential(self._think, total), self._gap / 2)
        think[first] = 0.0
        elapsed = np.cumsum(think)
        offset = elapsed - elapsed[first][of]
        duration = offset[first + length - 1]

        user = rng.integers(0, self._users, sessions)
        begin = self._respect_gaps(user, starts, duration)

        from_end = length[of] - 1 - position
        kind = np.where(position == 0, 0, np.where(rng.random(total) < _SEARCH_P, 1, 0))
        kind = np.where(cart[of] & (from_end == buy[of].astype(int)), 2, kind)
        kind = np.where(buy[of] & (from_end == 0), 3, kind)
        focus = self._product_table.sample(rng, sessions)
        viewed = self._product_table.sample(rng, total)
        events = {
            "_t": begin[of] + offset,
            "user": user[of],
            "session": self._session + of,
            "kind": kind.astype(np.int8),
            "landing": position == 0,
            "product": np.where(kind >= 2, focus[of], viewed),
            "query": rng.integers(0, len(_QUERIES), total),
            "referrer": _REFERRER_TABLE.sample(rng, sessions)[of],
        }
        self._session += sessions
        # Later chunks start sessions after the last start here, so events up to it are final.
        # Sorting and holding back happen on numbers; text is made only for what is emitted.
        if self._pending:
            events = {k: np.concatenate([self._pending[k], v]) for k, v in events.items()}
        order = np.argsort(events["_t"])
        ready = int(np.searchsorted(events["_t"], float(starts[-1]), side="right", sorter=order))
        self._pending = {k: v[order[ready:]] for k, v in events.items()}
        return self._texts({k: v[order[:ready]] for k, v in events.items()})

    def _texts(self, e: dict[str, np.ndarray]) -> pl.DataFrame:
        # Every text column is gathered from a table made once: building strings row by row
        # (even vectorised) costs several times more than the rest of the model.
        kind, products = e["kind"], self._products
        has_product = (kind >= 2) | ((kind == 0) & ~e["landing"])
        none = products.len() - 1  # the tables end with a null
        page = np.where(e["landing"], 0, np.where(kind == 0, 4 + e["product"], kind))
        return pl.DataFrame(
            {
                "user_id": _user_ids(self._users).gather(e["user"]),
                "session_id": e["session"],
                "event_type": pl.Series(EVENT_TYPES).gather(kind),
                "page": self._pages.gather(page),
                "product_id": products.gather(np.where(has_product, e["product"], none)),
                "search_query": _QUERY_TABLE.gather(np.where(kind == 1, e["query"], len(_QUERIES))),
                "referrer": pl.Series(_REFERRERS).gather(e["referrer"]),
                "device": pl.Series(_DEVICES).gather(self._device[e["user"]]),
                "country": pl.Series(_COUNTRIES).gather(self._country[e["user"]]),
                "_t": e["_t"],
            }
        )

    def _respect_gaps(
        self, user: np.ndarray, starts: np.ndarray, duration: np.ndarray
    ) -> np.ndarray:
        """Delay sessions so each user's sessions are ``session_gap`` apart, vectorised.

        For one user's sessions in start order, begin_i = max(start_i, begin_(i-1) + need_(i-1))
        with need = duration + gap; writing c_i for the sum of need before i, that is
        begin_i = c_i + running max of (start_j - c_j) over j <= i.
        """
        need = duration + self._gap
        starts = np.maximum(starts, self._free_from[user])
        order = np.lexsort((starts, user))
        u, s, d = user[order], starts[order], need[order]
        group_start = np.concatenate([[True], u[1:] != u[:-1]])
        total = np.cumsum(d) - d
        before = total - np.maximum.accumulate(np.where(group_start, total, -np.inf))
        # A running max per user in one pass: lift each user's values above the previous user's.
        value = s - before
        lowest = float(value.min()) if value.size else 0.0
        lift = np.cumsum(group_start) * (float(value.max()) - lowest + 1.0 if value.size else 0.0)
        shifted = np.maximum.accumulate(value - lowest + lift) - lift + lowest + before
        begin = np.empty_like(shifted)
        begin[order] = shifted
        last = np.concatenate([group_start[1:], [True]])
        self._free_from[u[last]] = shifted[last] + d[last]
        return begin

    @staticmethod
    def event_time(seconds: np.ndarray) -> pl.Series:
        return seconds_as_datetime(seconds)


@functools.cache
def _user_ids(users: int) -> pl.Series:
    """``user-000042`` for every user number, made once per population size."""
    return "user-" + pl.Series(np.arange(users)).cast(pl.String).str.zfill(6)
