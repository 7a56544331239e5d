"""RANDOM_CUT_FOREST in the Kinesis SQL form: a score per record, in order, once, durable."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import ValidationException
from workbench.sources import sensors

from .test_anomaly import roc_auc

SCHEMA = {
    "device_id": "VARCHAR",
    "event_time": "VARCHAR",
    "temperature": "DOUBLE",
    "humidity": "DOUBLE",
    "vibration": "DOUBLE",
    "anomaly": "BOOLEAN",
}
SCORES = """SELECT STREAM *, ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(
    CURSOR(SELECT STREAM device_id, temperature, humidity, vibration, anomaly
           FROM sensors){parameters}))"""


def sensor_stream(wb, records: int):
    readings = sensors(devices=3, seed=3, anomaly_rate=0.01).frame(records)
    wb.streams.create_stream("sensors", shard_count=1).put_frame(
        readings, partition_key="device_id"
    )
    wb.analytics.create_table("sensors", "sensors", event_time="event_time", schema=SCHEMA)
    return readings


def test_every_record_gets_a_score_that_finds_the_labelled_anomalies(make_workbench):
    wb = make_workbench()
    readings = sensor_stream(wb, 3000)
    query = wb.analytics.create_sql_query(
        "scores", SCORES.format(parameters=", 40, 256, 100000, 1")
    )
    assert query.aggregate.scorer.number_of_trees == 40
    query.run_until_idle()
    got = query.results()
    assert got.columns == [
        "device_id", "temperature", "humidity", "vibration", "anomaly", "ANOMALY_SCORE"
    ]  # fmt: skip
    # One result per record, in the order the stream holds them.
    assert got.drop("ANOMALY_SCORE").equals(readings.select(got.columns[:-1]))
    assert query.late().is_empty()
    warm = 300
    scores, labels = got["ANOMALY_SCORE"].to_numpy(), got["anomaly"].to_numpy()
    assert labels[warm:].sum() >= 10
    assert roc_auc(scores[warm:], labels[warm:]) >= 0.97


def test_left_out_parameters_take_kinesis_defaults(make_workbench):
    wb = make_workbench()
    sensor_stream(wb, 10)
    scorer = wb.analytics.create_sql_query("q", SCORES.format(parameters="")).aggregate.scorer
    assert (scorer.number_of_trees, scorer.sub_sample_size) == (100, 256)
    assert (scorer.time_decay, scorer.shingle_size) == (100_000, 1)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM TABLE(RANDOM_CUT_FOREST(SELECT temperature FROM sensors))",
        SCORES.format(parameters=", many"),
        SCORES.format(parameters=", 1, 2, 3, 4, 5"),
        "SELECT * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT device_id FROM sensors)))",
    ],
)
def test_malformed_calls_are_rejected_when_the_query_is_created(make_workbench, sql):
    wb = make_workbench()
    sensor_stream(wb, 10)
    with pytest.raises(ValidationException):
        wb.analytics.create_sql_query("q", sql)


def test_a_restart_scores_each_record_once_with_the_forest_it_had_learnt(tmp_path):
    def workbench() -> Workbench:
        return Workbench(home=tmp_path, clock=SimulatedClock(start="2026-01-01T00:00:00Z"))

    first = workbench()
    sensor_stream(first, 1500)
    sql = SCORES.format(parameters=", 20, 128")
    before = first.analytics.create_sql_query("scores", sql, batch_limit=500)
    before.step()
    before.step()
    before.checkpoint()
    assert before.results().height == 1000

    again = workbench()
    again.analytics.create_table("sensors", "sensors", event_time="event_time", schema=SCHEMA)
    after = again.analytics.create_sql_query("scores", sql, batch_limit=500)
    after.run_until_idle()
    scores = after.results()["ANOMALY_SCORE"].to_numpy()
    assert len(scores) == 1500
    # No warm-up again: the forest grew back from the sample the checkpoint kept.
    assert np.all(scores[1000:] > 0)
