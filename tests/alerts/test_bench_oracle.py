"""The alert evaluation's yardsticks: burst shapes and the Poisson oracle in bench/alerts.py."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.servers import REPO


@pytest.fixture(scope="module")
def bench():
    # Loaded by path: the script's module name would clash with the `alerts` package.
    spec = importlib.util.spec_from_file_location("nw_bench_alerts", REPO / "bench" / "alerts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shape", ["step", "decay", "ramp"])
def test_every_burst_shape_adds_the_same_volume(bench, shape):
    prof = bench.burst_profile(shape, 5.0, 24)
    assert prof.mean() == pytest.approx(5.0)
    if shape == "ramp":
        # A ramp "of 5x" starts far below 5x, which is why its delay is also reported from its
        # first interval at 5x usual.
        assert prof[0] < 1.5 < 5.0 < prof[-1]


def test_oracle_fires_only_on_a_real_excess(bench):
    mu = np.full(48, 2.0)
    calm = np.full(48, 2)
    assert not bench._oracle_fires(calm, mu, 1.0).any()
    spiked = calm.copy()
    spiked[30:33] = 12
    fires = bench._oracle_fires(spiked, mu, 1.0)
    assert fires[30] and not fires[:30].any()


def test_oracle_false_alerts_grow_with_looser_thresholds(bench):
    strict = bench.oracle_false_rate(50, 1.0, weeks=400)
    loose = bench.oracle_false_rate(50, 10.0, weeks=400)
    assert 0.0 < strict < loose


def test_budget_scale_is_the_loosest_one_within_budget(bench):
    scale, tried = bench.oracle_budget_scale((50,))
    assert max(tried[scale].values()) <= bench.ORACLE_BUDGET
    looser = [s for s in tried if s > scale]
    # Stopped at the first scale over budget, or ran out of scales.
    assert all(max(tried[s].values()) > bench.ORACLE_BUDGET for s in looser)
    assert looser or scale == bench.ORACLE_SCALES[-1]


def test_oracle_recall_orders_easy_and_hard_bursts(bench):
    easy = bench.oracle_recall(10, 6, 50, trials=300)
    hard = bench.oracle_recall(3, 6, 20, trials=300)
    assert easy > 0.98
    assert 0.3 < hard < easy
    assert bench.oracle_recall(3, 6, 20, scale=3.0, trials=300) >= hard
