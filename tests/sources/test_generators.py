"""Each source's world: the schema exactly, determinism, and the shape the issue asks for."""

import json
import re
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from workbench import SimulatedClock
from workbench.errors import InvalidArgumentException
from workbench.sources import SOURCES, Rate, clickstream, nexmark, retail, sensors

ALL = list(SOURCES.values())


@pytest.mark.parametrize("source", ALL, ids=lambda s: s.name)
def test_same_seed_same_records_different_seed_different(source):
    assert source(seed=3).frame(3000).equals(source(seed=3).frame(3000))
    assert list(source(seed=3).json_lines(500)) == list(source(seed=3).json_lines(500))
    assert not source(seed=3).frame(3000).equals(source(seed=4).frame(3000))


@pytest.mark.parametrize("source", ALL, ids=lambda s: s.name)
def test_every_mode_carries_the_same_events(source):
    lines = list(source.json_lines(2500))
    records = list(source.records(2500))
    assert len(lines) == len(records) == source.frame(2500).height == 2500
    assert [json.loads(line) for line in lines] == records
    # The first k events do not depend on how many were asked for.
    assert source.frame(700).equals(source.frame(2500).head(700))


def test_retail_schema_exactly_as_the_lab_sends_it():
    frame = retail.frame(20000)
    assert frame.columns == [
        "Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
        "Customer_ID", "Country",
    ]  # fmt: skip
    for record in retail.records(5000):
        assert list(record) == frame.columns
        assert re.fullmatch(r"\d{6}", record["Invoice"])
        assert re.fullmatch(r"\d{5}[A-Z]?", record["StockCode"])
        assert isinstance(record["Description"], str) and record["Description"]
        assert isinstance(record["Quantity"], int) and record["Quantity"] > 0
        datetime.strptime(record["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
        assert isinstance(record["Price"], float) and round(record["Price"], 2) == record["Price"]
        assert re.fullmatch(r"(\d{5}\.0)?", record["Customer_ID"])
        assert isinstance(record["Country"], str)
    assert frame["StockCode"].str.contains(r"[A-Z]$").any()


def test_retail_invoice_date_comes_from_the_clock():
    clock = SimulatedClock(start="2027-03-04T05:06:07Z")
    first = next(retail(clock=clock).records(1))
    assert first["InvoiceDate"] == "2027-03-04 05:06:07"


def test_retail_skew_repeat_customers_and_invoices_of_several_lines():
    frame = retail(seed=11).frame(200_000)
    invoices = frame.unique("Invoice", keep="first")
    countries = invoices["Country"].value_counts(sort=True)["count"].to_numpy() / invoices.height
    assert countries[0] >= 0.6 and countries[:5].sum() >= 0.85 and len(countries) >= 15
    products = frame["StockCode"].value_counts(sort=True)["count"].to_numpy()
    assert products[: len(products) // 10].sum() >= 0.5 * frame.height
    lines = frame.group_by("Invoice").len()["len"]
    assert lines.mean() > 5 and lines.max() > 30
    # Every line of an invoice shares its customer, country and time.
    assert frame.group_by("Invoice").agg(pl.n_unique("Customer_ID", "Country", "InvoiceDate"))[
        :, 1:
    ].max().row(0) == (1, 1, 1)
    known = invoices.filter(pl.col("Customer_ID") != "")
    per_customer = known.group_by("Customer_ID").len()["len"]
    assert per_customer.max() >= 20 and per_customer.mean() > 2
    guests = 1 - known.height / invoices.height
    assert 0.02 <= guests <= 0.1


def test_nexmark_ratio_fields_ids_and_hot_auctions():
    frame = nexmark(seed=2).frame(100_000)
    kinds = frame["event_type"].to_numpy().reshape(-1, 50)
    assert (kinds[:, 0] == "person").all() and (kinds[:, 1:4] == "auction").all()
    assert (kinds[:, 4:] == "bid").all()
    expected = {
        "person": {"id", "name", "email_address", "credit_card", "city", "state", "date_time"},
        "auction": {
            "id",
            "item_name",
            "description",
            "initial_bid",
            "reserve",
            "date_time",
            "expires",
            "seller",
            "category",
        },
        "bid": {"auction", "bidder", "price", "channel", "url", "date_time"},
    }
    seen = set()
    for record in nexmark.records(200):
        seen.add(record["event_type"])
        assert set(record) == expected[record["event_type"]] | {"event_type", "extra"}
    assert seen == set(expected)
    persons = frame.filter(pl.col("event_type") == "person")["id"]
    auctions = frame.filter(pl.col("event_type") == "auction")
    bids = frame.filter(pl.col("event_type") == "bid")
    assert persons.to_list() == list(range(1000, 1000 + persons.len()))
    assert auctions["id"].to_list() == list(range(1000, 1000 + auctions.height))
    # Bids name auctions and bidders that exist, and about half go to the hot auction.
    assert bids["auction"].is_in(auctions["id"].implode()).all()
    assert bids["bidder"].is_in(persons.implode()).all()
    hot_share = (bids["auction"] % 100 == 0).mean()
    assert 0.45 <= hot_share <= 0.6
    assert (auctions["expires"] > auctions["date_time"]).all()
    assert (auctions["reserve"] >= auctions["initial_bid"]).all()


def test_nexmark_disorder_within_4s_respects_the_watermark():
    frame = nexmark(out_of_order=0.3).frame(50_000)  # max_delay defaults to 4 s here
    times = frame["date_time"].dt.epoch("ms").to_numpy()
    watermark = np.maximum.accumulate(times) - 4000
    assert (times >= watermark).all()
    assert (np.diff(times) < 0).mean() > 0.1  # really out of order


def test_sensors_anomalies_are_labelled_and_stand_out():
    frame = sensors(seed=5, anomaly_rate=0.01).frame(100_000)
    labelled = frame.filter(pl.col("anomaly"))
    assert 0.008 <= labelled.height / frame.height <= 0.012
    assert set(labelled["anomaly_kind"].unique()) == {
        "temperature_spike", "humidity_drop", "vibration_burst",
    }  # fmt: skip
    assert frame.filter(~pl.col("anomaly"))["anomaly_kind"].null_count() == frame.height - (
        labelled.height
    )
    scored = frame.with_columns(
        z=(pl.col("temperature") - pl.col("temperature").median().over("device_id"))
        / pl.col("temperature").std().over("device_id")
    )
    spikes = scored.filter(pl.col("anomaly_kind") == "temperature_spike")["z"]
    normal = scored.filter(~pl.col("anomaly"))["z"].abs()
    assert spikes.min() > 2.5 and (normal > 4).mean() < 0.001


def test_sensors_dropouts_leave_whole_gaps_and_devices_drift():
    frame = sensors(seed=1, devices=20, dropout_rate=0.1, rate=20, dropout_for="1m").frame(80_000)
    per_device = frame.group_by("device_id").len()["len"]
    expected = 80_000 / 20
    assert per_device.min() > 0.7 * expected and per_device.max() < 1.3 * expected
    gaps = frame.sort("device_id", "event_time").with_columns(
        gap=pl.col("event_time").diff().over("device_id").dt.total_seconds(fractional=True)
    )["gap"]
    assert gaps.max() >= 59  # a whole minute silent
    clean = sensors(seed=1, devices=20, dropout_rate=0.0, rate=20).frame(80_000)
    assert clean.group_by("device_id").len()["len"].min() == 4000


def test_clickstream_sessions_are_separated_by_the_gap():
    frame = clickstream(seed=9, session_gap="30m").frame(100_000)
    assert frame["event_time"].is_sorted()
    spans = (
        frame.group_by("user_id", "session_id")
        .agg(first=pl.col("event_time").min(), last=pl.col("event_time").max())
        .sort("user_id", "first")
        .with_columns(gap=pl.col("first") - pl.col("last").shift(1).over("user_id"))
    )
    assert spans["gap"].drop_nulls().min().total_seconds() >= 1800
    assert spans["user_id"].is_duplicated().any()  # users come back
    within = frame.sort("session_id", "event_time").with_columns(
        d=pl.col("event_time").diff().over("session_id")
    )["d"]
    assert within.drop_nulls().max().total_seconds() < 1800


def test_clickstream_funnel_order_and_fields():
    frame = clickstream(seed=9).frame(50_000)
    by_session = frame.group_by("session_id").agg(
        pl.col("event_type").first().alias("first"),
        (pl.col("event_type") == "add_to_cart").any().alias("cart"),
        (pl.col("event_type") == "purchase").any().alias("buy"),
        pl.col("event_type").last().alias("last"),
        pl.n_unique("user_id", "referrer", "device", "country"),
    )
    assert (by_session["first"] == "page_view").all()
    sessions, carts, buys = by_session.height, by_session["cart"].sum(), by_session["buy"].sum()
    assert sessions > carts > buys > 0
    assert not by_session.filter(pl.col("buy") & ~pl.col("cart")).height
    assert (by_session.filter("buy")["last"] == "purchase").all()
    assert by_session.select("user_id", "referrer", "device", "country").max().row(0) == (
        1,
        1,
        1,
        1,
    )
    searches = frame.filter(pl.col("event_type") == "search")
    assert searches["search_query"].null_count() == 0
    assert frame.filter(pl.col("event_type") != "search")["search_query"].null_count() == (
        frame.height - searches.height
    )


def test_clickstream_daily_traffic_shape():
    frame = clickstream(seed=1, rate=Rate(3, shape="daily")).frame(150_000)
    hours = frame.group_by(pl.col("event_time").dt.hour()).len().sort("event_time")
    counts = dict(zip(*hours.get_columns(), strict=True))
    assert counts[12] > 3 * counts[3]


def test_unknown_settings_are_refused_with_what_is_allowed():
    with pytest.raises(InvalidArgumentException, match=r"no setting colour.*allowed:.*devices"):
        sensors(colour="red")


@pytest.mark.parametrize(
    ("source", "settings", "message"),
    [
        (sensors, {"devices": 0}, "devices must be a whole number"),
        (sensors, {"anomaly_rate": 2}, "anomaly_rate is a fraction"),
        (clickstream, {"session_gap": "0s"}, "session_gap must be"),
        (retail, {"customers": "many"}, "customers must be a whole number"),
        (nexmark, {"hot_auction_ratio": 0}, "hot_auction_ratio"),
        (retail, {"lines_per_invoice": "x"}, "lines_per_invoice must be a number"),
    ],
)
def test_bad_model_options_are_refused_with_what_is_allowed(source, settings, message):
    with pytest.raises(InvalidArgumentException, match=message):
        source(**settings).frame(10)
