"""Random cut forest scores against the sensor source's anomaly labels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from workbench.analytics import AnomalyScorer, random_cut_forest
from workbench.analytics._anomaly import _Forest, _Tree
from workbench.errors import ValidationException
from workbench.sources import sensors

COLUMNS = ["temperature", "humidity", "vibration"]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that an anomaly outscores a normal record (ties count half)."""
    ranks = pl.Series(scores).rank().to_numpy()
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def test_scores_separate_labelled_sensor_anomalies():
    frame = sensors(devices=3, seed=3, anomaly_rate=0.01).frame(3000)
    scores = random_cut_forest(frame.select(COLUMNS).to_numpy(), number_of_trees=40, seed=1)
    labels = frame["anomaly"].to_numpy()
    warm = 300  # the forest learns from the first records before it scores
    assert labels[warm:].sum() >= 10
    assert roc_auc(scores[warm:], labels[warm:]) >= 0.97
    assert np.all(scores[:64] == 0)  # nothing to compare with yet


def test_batches_score_the_same_as_one_call():
    values = np.random.default_rng(2).normal(size=(900, 2))
    whole = AnomalyScorer(number_of_trees=10, seed=4).score(values)
    scorer = AnomalyScorer(number_of_trees=10, seed=4)
    parts = np.concatenate([scorer.score(values[i : i + 64]) for i in range(0, 900, 64)])
    assert np.allclose(whole, parts)


def test_shingles_see_a_broken_rhythm():
    signal = np.sin(np.arange(3000) / 5.0)[:, None]
    signal[2500:2510] = signal[2400:2410][::-1]  # values in range, order wrong
    plain = random_cut_forest(signal, number_of_trees=20, seed=1)
    shingled = random_cut_forest(signal, number_of_trees=20, seed=1, shingle_size=8)
    window = slice(2500, 2510)
    assert shingled[window].max() / np.median(shingled[1000:]) > (
        plain[window].max() / np.median(plain[1000:])
    )


@pytest.mark.parametrize("bad", [{"number_of_trees": 0}, {"sub_sample_size": 1}])
def test_bad_parameters_are_rejected(bad):
    with pytest.raises(ValidationException):
        AnomalyScorer(**bad)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # Inside the root's box: no cut separates it there; at the leaf of 0 or 1 it is cut
        # off at depth 1.
        (0.5, 1 / 2),
        # Beyond the box: separated at the root with probability 2/3 (the box grows from 1 to
        # 3), else cut off at the leaf of 1.
        (3.0, 2 / 3 * 1 + 1 / 3 * 1 / 2),
        # A sample value: never separated; its leaf of mass 1 at depth 1, damped by 1 - 1/4.
        (0.0, (1 - 1 / 4) / (1 + np.log2(2))),
    ],
)
def test_a_score_is_the_expected_depth_score_of_inserting_the_record(record, expected):
    # Two points make one tree whatever the cut: a root and two leaves.
    tree = _Tree(np.array([[0.0], [1.0]]), np.random.default_rng(0), max_depth=4)
    score = _Forest([tree]).score(np.array([[record]]))[0]
    assert score == pytest.approx(expected * np.log2(3))


def test_ordinary_records_score_about_one_and_isolated_ones_far_more():
    values = np.random.default_rng(5).normal(size=(3000, 3))
    values[2900] = [6, -6, 6]
    scores = random_cut_forest(values, number_of_trees=30, seed=2)
    assert 0.5 < np.median(scores[500:]) < 1.5
    assert scores[2900] > 3 * np.median(scores[500:])
