"""benchmarks/trial_share.py: the run-shape projection adds a run's costs up correctly."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "trial_share.py"


@pytest.fixture(scope="module")
def trial_share():
    spec = importlib.util.spec_from_file_location("trial_share", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _round(wall: float, trials: float, n_trials: int) -> dict:
    return {"wall": wall, "trials": trials, "n_trials": n_trials}


def test_the_costs_add_up_and_the_projection_reproduces_the_run_it_is_built_from(trial_share):
    # Two cells, each two rounds of 2 trials: A's trials 4 s and 6 s in rounds of 10 s and 12 s,
    # B's 3 s and 1 s in rounds of 5 s and 4 s; two primitives rounds of 7 s and 9 s; 60 s in all.
    by_cell = {("a",): [_round(10.0, 4.0, 2), _round(12.0, 6.0, 2)],
               ("b",): [_round(5.0, 3.0, 2), _round(4.0, 1.0, 2)]}
    costs = trial_share.run_costs(by_cell, [7.0, 9.0], wall_s=60.0)
    assert costs.round_overhead == pytest.approx((6 + 6) / 2 + (2 + 3) / 2)
    assert costs.trial == pytest.approx(10 / 4 + 4 / 4)
    assert costs.primitives_round == pytest.approx(8.0)
    assert costs.rest == pytest.approx(60 - 31 - 16)
    # At the run's own shape (2 rounds x 2 trials, 2 primitives rounds): the measured run.
    share, wall = trial_share.projected_share(costs, rounds=2, trials=2, primitives_rounds=2)
    assert wall == pytest.approx(60.0)
    assert share == pytest.approx((4 + 6 + 3 + 1) / 60)
    # Another shape: 1 round x 2 trials, 1 primitives round.
    share, wall = trial_share.projected_share(costs, rounds=1, trials=2, primitives_rounds=1)
    assert wall == pytest.approx(8.5 + 7 + 8 + 13)
    assert share == pytest.approx(7 / 36.5)


def test_more_trials_per_round_raise_the_share_and_fewer_primitives_shorten_the_run(trial_share):
    costs = trial_share.RunCosts(round_overhead=100.0, trial=120.0, primitives_round=66.0, rest=85.0)
    default, _ = trial_share.projected_share(costs, 3, 2, 3)
    assert trial_share.projected_share(costs, 3, 5, 3)[0] > default
    assert trial_share.projected_share(costs, 3, 2, 1)[1] == pytest.approx(
        trial_share.projected_share(costs, 3, 2, 3)[1] - 2 * 66.0)
