"""Straight lines through points and their bootstrap, for warden/forecasting/fit.py. Pure.

- Theil-Sen: the median of the slopes between every two points (a single outlier moves it
  little); beyond PAIRS pairs, the median over PAIRS pairs drawn with a seeded generator.
- Ordinary least squares, for comparison with published trend figures.
- The bootstrap: the points resampled with replacement and refitted, seeded so the same points
  and seed give identical lines. The Theil-Sen bootstrap computes every pair's slope once and
  gathers those of each resample's pairs; long series get fewer resamples (MAX_PAIRS slopes in
  all, never under MIN_SAMPLES resamples).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import chain
from operator import is_not
from typing import cast

PAIRS = 5000  # pairs of points per Theil-Sen fit; longer series use a seeded sample of pairs
MAX_PAIRS = 1_000_000  # pairwise slopes over all resamples; long series get fewer resamples
MIN_SAMPLES = 100


def theil_sen(
    ts: Sequence[float], ys: Sequence[float], rng: random.Random | None = None
) -> tuple[float, float] | None:
    """(intercept, slope) of the Theil-Sen line, or None when all times are equal. Beyond
    PAIRS pairs of points, the median is taken over PAIRS pairs drawn with `rng` (seeded)."""
    n = len(ts)
    if rng is not None and n * (n - 1) // 2 > PAIRS:
        picks = ((rng.randrange(n), rng.randrange(n)) for _ in range(PAIRS))
        pairs: Iterable[tuple[int, int]] = ((i, j) for i, j in picks if i != j)
    else:
        pairs = ((i, j) for i in range(n) for j in range(i + 1, n))
    slopes = [(ys[j] - ys[i]) / (ts[j] - ts[i]) for i, j in pairs if ts[j] != ts[i]]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    return statistics.median(y - slope * t for t, y in zip(ts, ys, strict=True)), slope


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted `values` (linear interpolation; infinities stay infinite)."""
    pos = q * (len(values) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    a, b = values[low], values[high]
    if low == high or a == b:
        return a
    return a + (b - a) * (pos - low)  # b infinite: infinite


def least_squares(ts: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(intercept, slope) of the ordinary least-squares line, or None when all times are
    equal."""
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    sxx = sum((t - mt) ** 2 for t in ts)
    if sxx == 0:
        return None
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / sxx
    return my - slope * mt, slope


def bootstrap_ols(
    ts: Sequence[float], ys: Sequence[float], seed: int, samples: int
) -> list[tuple[float, float]]:
    """Least-squares lines through `samples` resamples of the points."""
    rng = random.Random(seed)
    n = len(ts)
    out = []
    for _ in range(max(samples, MIN_SAMPLES)):
        picks = rng.choices(range(n), k=n)
        line = least_squares([ts[i] for i in picks], [ys[i] for i in picks])
        if line is not None:
            out.append(line)
    return out


def bootstrap(
    ts: Sequence[float], ys: Sequence[float], seed: int, samples: int
) -> list[tuple[float, float]]:
    """Theil-Sen lines through `samples` resamples of the points (fewer for long series). The
    slope of every pair is computed once; a resample gathers those of its pairs."""
    n = len(ts)
    pairs = min(n * (n - 1) // 2, PAIRS)
    wanted = max(MIN_SAMPLES, min(samples, MAX_PAIRS // max(pairs, 1)))
    rng = random.Random(seed)
    table = None
    if n * (n - 1) // 2 <= PAIRS:  # None where two points share a time: no slope
        table = [
            [(ys[j] - ys[i]) / (ts[j] - ts[i]) if ts[j] != ts[i] else None for j in range(n)]
            for i in range(n)
        ]
    out = []
    defined = partial(is_not, None)
    for _ in range(wanted):
        picks = rng.choices(range(n), k=n)
        if table is None:
            line = theil_sen([ts[i] for i in picks], [ys[i] for i in picks], rng)
        else:
            gathered = chain.from_iterable(
                map(table[i].__getitem__, picks[k + 1 :]) for k, i in enumerate(picks)
            )
            slopes = cast(list[float], list(filter(defined, gathered)))
            if not slopes:
                continue
            b = statistics.median(slopes)
            line = statistics.median([ys[i] - b * ts[i] for i in picks]), b
        if line is not None:
            out.append(line)
    return out
