"""Anomaly scores per record with a random cut forest, as Kinesis's ``RANDOM_CUT_FOREST``.

Each tree is grown on a sample of recent records by random cuts whose dimension is chosen in
proportion to the span of the data in it (the RCF rule, unlike isolation forests' uniform
choice). The score is RCF's (the one Kinesis Data Analytics' ``ANOMALY_SCORE`` reports): a
record is scored as if it were inserted into each tree. Walking down its path, a random cut of
each node's bounding box, grown to take the record in, separates the record from the node's
points with probability (growth of the box) / (grown box), summed over dimensions; separated
at depth ``k`` the record scores ``1 / (k + 1)``, and reaching a leaf of its own value it scores
``1 / (k + log2(mass + 1))``. The expectation over the path, times ``log2(1 + sample size)`` and
averaged over the trees, is about 1 for records like the sample and several times that for a
record that displaces a whole subtree high up. Records are scored against a forest of the
records before them ("score, then learn"), in chunks, and trees are regrown from a time-decayed
sample, so the score follows a drifting signal.

Written with numpy rather than taken from ``rrcf``, the maintained Python RRCF: rrcf inserts
one point at a time in pure Python (1,000 points x 40 trees took 28 s here), too slow for a
stream; here a chunk of records descends every tree in one vectorised walk.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> values = rng.normal(size=(2000, 2)); values[1500] = [8, -8]
>>> scores = random_cut_forest(values, number_of_trees=30, seed=1)
>>> int(np.argmax(scores)), bool(scores[1500] > 2 * np.median(scores[600:]))
(1500, True)
"""

from __future__ import annotations

import numpy as np

from workbench.errors import ValidationException


class _Tree:
    """A random cut tree in flat arrays: per node its cut, children, size, depth and bounding
    box (of the sample points below it)."""

    def __init__(self, points: np.ndarray, rng: np.random.Generator, max_depth: int) -> None:
        # Grown level by level: every node of a level is boxed and cut in one vectorised pass.
        n, d = points.shape
        capacity = 2 * n + 1
        self.mass = n
        self.dim = np.full(capacity, -1)
        self.cut = np.zeros(capacity)
        self.left = np.full(capacity, -1)
        self.right = np.full(capacity, -1)
        self.size = np.zeros(capacity, dtype=np.int64)
        self.depth = np.zeros(capacity, dtype=np.int64)
        self.low = np.zeros((capacity, d))
        self.high = np.zeros((capacity, d))
        self.size[0] = n
        node_of = np.zeros(n, dtype=np.int64)
        frontier = np.array([0])
        used = 1
        for level in range(max_depth + 1):
            rows = np.nonzero(np.isin(node_of, frontier))[0]
            slot = np.searchsorted(frontier, node_of[rows])
            k = len(frontier)
            low = np.full((k, d), np.inf)
            high = np.full((k, d), -np.inf)
            np.minimum.at(low, slot, points[rows])
            np.maximum.at(high, slot, points[rows])
            self.low[frontier], self.high[frontier] = low, high
            span = high - low
            total = span.sum(axis=1)
            splits = (total > 0) & (self.size[frontier] > 1)
            if level == max_depth or not splits.any():
                break
            # The RCF rule: a dimension with probability proportional to its span.
            pick = rng.random(k) * total
            dim = np.minimum((np.cumsum(span, axis=1) <= pick[:, None]).sum(axis=1), d - 1)
            at = np.arange(k)
            cut = low[at, dim] + rng.random(k) * span[at, dim]
            parents = frontier[splits]
            lefts = used + 2 * np.arange(len(parents))
            used += 2 * len(parents)
            self.dim[parents], self.cut[parents] = dim[splits], cut[splits]
            self.left[parents], self.right[parents] = lefts, lefts + 1
            child = np.full(k, -1)
            child[splits] = lefts
            moving = splits[slot]
            rows, slot = rows[moving], slot[moving]
            go_right = points[rows, dim[slot]] > cut[slot]
            node_of[rows] = child[slot] + go_right
            counts = np.bincount(node_of[rows], minlength=used)
            children = np.arange(used - 2 * len(parents), used)
            # A cut lies inside the box's span, so both sides hold a point; a point alone is
            # its own box.
            self.size[children], self.depth[children] = counts[children], level + 1
            alone = counts[node_of[rows]] == 1
            self.low[node_of[rows[alone]]] = self.high[node_of[rows[alone]]] = points[rows[alone]]
            frontier = children[counts[children] > 1]
            if frontier.size == 0:
                break


class _Forest:
    """The trees' arrays end to end, so a chunk of points descends every tree at once."""

    def __init__(self, trees: list[_Tree]) -> None:
        starts = np.cumsum([0, *(len(t.dim) for t in trees)])[:-1]
        self.roots = starts
        self.dim = np.concatenate([t.dim for t in trees])
        self.cut = np.concatenate([t.cut for t in trees])
        self.left = np.concatenate([t.left + o for t, o in zip(trees, starts, strict=True)])
        self.right = np.concatenate([t.right + o for t, o in zip(trees, starts, strict=True)])
        self.size = np.concatenate([t.size for t in trees])
        self.depth = np.concatenate([t.depth for t in trees])
        self.low = np.concatenate([t.low for t in trees])
        self.high = np.concatenate([t.high for t in trees])
        self.mass = np.array([t.mass for t in trees], dtype=np.float64)
        self.mass_of = np.concatenate([np.full(len(t.dim), float(t.mass)) for t in trees])

    def score(self, points: np.ndarray) -> np.ndarray:
        """The RCF anomaly score of each point: its mean over the trees, as if inserted.

        Walking down from the root, a random cut of a node's box grown to take the point in
        separates the point there with probability (growth of the box's span sum) / (grown span
        sum); the point then sits at that depth, scoring 1 / (depth + 1). A point that reaches
        a leaf holding its own value scores 1 / (depth + log2(mass + 1)), damped by the leaf's
        share of the tree. Each tree's expectation is scaled by log2(1 + tree mass), so points
        like the sample score about 1 and isolated ones several times more.
        """
        m, trees = len(points), len(self.roots)
        node = np.repeat(self.roots, m)
        point = np.tile(np.arange(m), trees)
        weight = np.ones(m * trees)
        total = np.zeros(m * trees)
        rows = np.arange(m * trees)
        while rows.size:
            at = node[rows]
            x = points[point[rows]]
            low, high = self.low[at], self.high[at]
            grown = (np.maximum(high, x) - np.minimum(low, x)).sum(axis=1)
            held = (high - low).sum(axis=1)
            separate = np.where(grown > 0, (grown - held) / np.where(grown > 0, grown, 1), 0.0)
            depth = self.depth[at]
            total[rows] += weight[rows] * separate / (depth + 1)
            weight[rows] *= 1 - separate
            leaf = self.dim[at] < 0
            if leaf.any():
                mass = self.size[at[leaf]]
                damp = 1 - mass / (2 * self.mass_of[at[leaf]])
                total[rows[leaf]] += weight[rows[leaf]] * damp / (depth[leaf] + np.log2(mass + 1))
            rows, at, x = rows[~leaf], at[~leaf], x[~leaf]
            go_left = x[np.arange(len(rows)), self.dim[at]] <= self.cut[at]
            node[rows] = np.where(go_left, self.left[at], self.right[at])
        per_tree = total.reshape(trees, m) * np.log2(1 + self.mass)[:, None]
        return per_tree.mean(axis=0)


class AnomalyScorer:
    """Scores batches of records as they come, learning from them after scoring.

    number_of_trees, sub_sample_size, time_decay and shingle_size mean what they mean in
    ``RANDOM_CUT_FOREST``: trees, points per tree, how many recent records the sample is drawn
    from, and how many consecutive records form one point.
    """

    def __init__(
        self,
        number_of_trees: int = 100,
        sub_sample_size: int = 256,
        time_decay: int = 100_000,
        shingle_size: int = 1,
        seed: int = 0,
    ) -> None:
        if number_of_trees < 1 or sub_sample_size < 2 or time_decay < 1 or shingle_size < 1:
            raise ValidationException(
                "number_of_trees >= 1, sub_sample_size >= 2, time_decay >= 1 and "
                "shingle_size >= 1 are required"
            )
        self.number_of_trees = number_of_trees
        self.sub_sample_size = sub_sample_size
        self.time_decay = time_decay
        self.shingle_size = shingle_size
        self._rng = np.random.default_rng(seed)
        self._history = np.empty((0, 0))
        self._tail = np.empty((0, 0))
        self._trees: list[_Tree] = []
        self._forest: _Forest | None = None

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(the recent points the trees are grown from, the records a shingle carries over)."""
        return self._history, self._tail

    def resume(self, history: np.ndarray, tail: np.ndarray) -> None:
        """Go on from a :meth:`sample` (after a restart): the trees are regrown from it."""
        self._history, self._tail = history, tail
        if len(history) >= max(1, self.sub_sample_size // 2):
            self._grow(self.number_of_trees)

    def _shingle(self, values: np.ndarray) -> np.ndarray:
        if self.shingle_size == 1:
            return values
        joined = np.vstack([self._tail, values]) if self._tail.size else values
        self._tail = joined[-(self.shingle_size - 1) :]
        if len(joined) < self.shingle_size:
            return np.empty((0, values.shape[1] * self.shingle_size))
        windows = np.lib.stride_tricks.sliding_window_view(joined, self.shingle_size, axis=0)
        points = windows.transpose(0, 2, 1).reshape(len(windows), -1)
        missing = len(values) - len(points)  # the first records have no full shingle yet
        return np.vstack([np.repeat(points[:1], missing, axis=0), points]) if missing else points

    def _grow(self, count: int) -> None:
        """Regrow ``count`` of the trees (the oldest) from a fresh sample."""
        history = self._history
        size = min(self.sub_sample_size, len(history))
        # Recent records are likelier in the sample: a decay over time_decay records.
        age = np.arange(len(history))[::-1]
        weight = np.exp(-age / self.time_decay)
        weight /= weight.sum()
        max_depth = int(np.ceil(np.log2(max(size, 2)))) * 2
        fresh = [
            _Tree(
                history[self._rng.choice(len(history), size, replace=False, p=weight)],
                self._rng,
                max_depth,
            )
            for _ in range(count)
        ]
        self._trees = [*self._trees[count:], *fresh][-self.number_of_trees :]
        self._forest = _Forest(self._trees)

    def score(self, values: np.ndarray) -> np.ndarray:
        """ANOMALY_SCORE of each row of ``values`` (rows x numeric columns); 0 while warming up."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValidationException("values must be a 2-D array: records x numeric columns")
        points = self._shingle(values)
        scores = np.zeros(len(points))
        chunk = max(1, self.sub_sample_size // 4)
        for start in range(0, len(points), chunk):
            part = points[start : start + chunk]
            if self._forest is not None:
                scores[start : start + len(part)] = self._forest.score(part)
            history = np.vstack([self._history, part]) if self._history.size else part
            self._history = history[-self.time_decay :]
            if len(self._history) >= self.sub_sample_size // 2:
                # Like RCF's streaming updates, the forest changes a little with each chunk:
                # every tree is regrown once per sub_sample_size records.
                share = self.number_of_trees * len(part) / self.sub_sample_size
                count = self.number_of_trees if not self._trees else int(np.ceil(share))
                self._grow(min(count, self.number_of_trees))
        return scores


def random_cut_forest(
    values: np.ndarray,
    *,
    number_of_trees: int = 100,
    sub_sample_size: int = 256,
    time_decay: int = 100_000,
    shingle_size: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """ANOMALY_SCORE per record of ``values`` (rows x numeric columns), scored in order."""
    scorer = AnomalyScorer(number_of_trees, sub_sample_size, time_decay, shingle_size, seed)
    return scorer.score(values)
