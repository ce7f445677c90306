"""Verdict logic on synthetic tables: reproduced, not reproduced, not testable here."""

from pathlib import Path

import pandas as pd
import pytest

from parbench.analysis.verdicts import (
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    ClaimsError,
    evaluate,
    load_claims,
)

ROOT = Path(__file__).resolve().parent.parent


def speedups(rows):
    return pd.DataFrame(rows, columns=["workload", "cores", "backend", "baseline", "speedup", "ci_low",
                                       "ci_high", "ci_method"])


def summary(rows):
    return pd.DataFrame(rows, columns=["workload", "backend", "cores", "status", "median_s"])


NO_CAL = pd.DataFrame(columns=["cores", "ceiling", "efficiency"])


def claims(*items, tolerance=0.1):
    return {"tolerance": tolerance, "claims": list(items)}


SPEEDUP = {"id": "C1a", "text": "t", "kind": "speedup", "workload": "numerical", "backend": "ray",
           "baseline": "multiprocessing", "value": 9, "cores": 48}


def one(claim, table, summ=None, cal=NO_CAL):
    return evaluate(claims(claim), table, summ if summ is not None else summary([]), cal)[0]


def test_speedup_reproduced_when_ci_reaches_claim_less_tolerance():
    v = one(SPEEDUP, speedups([["numerical", 48, "ray", "multiprocessing", 8.5, 8.0, 8.2, "BCa"]]))
    assert v.verdict == REPRODUCED  # 8.2 >= 9 * 0.9 = 8.1


def test_speedup_not_reproduced_when_ci_stays_below():
    v = one(SPEEDUP, speedups([["numerical", 48, "ray", "multiprocessing", 7.5, 7.0, 8.0, "BCa"]]))
    assert v.verdict == NOT_REPRODUCED
    assert "8.10" in v.explanation


def test_speedup_not_testable_below_claimed_cores_but_reports_measurement():
    table = speedups([["numerical", 1, "ray", "serial", 0.9, 0.8, 1.0, "BCa"],
                      ["numerical", 2, "ray", "serial", 1.7, 1.5, 1.8, "BCa"]])
    cal = pd.DataFrame([[2, 1.9, 0.95]], columns=["cores", "ceiling", "efficiency"])
    v = one(dict(SPEEDUP, baseline="serial", value=28), table, cal=cal)
    assert v.verdict == NOT_TESTABLE
    assert v.cores == 2 and v.value == pytest.approx(1.7)
    assert "48 cores" in v.explanation and "at most 2x" in v.explanation and "1.90x" in v.explanation


def test_missing_cells_are_not_testable():
    assert one(SPEEDUP, speedups([])).verdict == NOT_TESTABLE


RANGE = {"id": "C4a", "text": "t", "kind": "range", "backend": "ray", "baseline": "serial", "low": 10,
         "high": 30, "cores": 48}


def test_range_needs_every_workload():
    rows = [[w, 48, "ray", "serial", s, s * 0.9, s * 1.1, "BCa"]
            for w, s in (("numerical", 28.0), ("stateful", 17.0), ("expensive_init", 13.0))]
    assert one(RANGE, speedups(rows)).verdict == REPRODUCED
    rows[1] = ["stateful", 48, "ray", "serial", 5.0, 4.0, 6.0, "BCa"]
    assert one(RANGE, speedups(rows)).verdict == NOT_REPRODUCED
    assert one(RANGE, speedups(rows[:2])).verdict == NOT_TESTABLE


NOT_FASTER = {"id": "C2c", "text": "t", "kind": "not_faster", "workload": "stateful",
              "backend": "multiprocessing", "baseline": "serial", "below_cores": 24}


def test_not_faster():
    slower = speedups([["stateful", c, "multiprocessing", "serial", 0.5, 0.4, 0.6, "BCa"] for c in (1, 2)])
    assert one(NOT_FASTER, slower).verdict == REPRODUCED
    faster = speedups([["stateful", 2, "multiprocessing", "serial", 1.6, 1.4, 1.8, "BCa"]])
    assert one(NOT_FASTER, faster).verdict == NOT_REPRODUCED
    only_above = speedups([["stateful", 32, "multiprocessing", "serial", 3.0, 2.5, 3.5, "BCa"]])
    assert one(NOT_FASTER, only_above).verdict == NOT_TESTABLE


WEAK = {"id": "C5", "text": "t", "kind": "weak_scaling", "backend": "ray"}


def test_weak_scaling_uses_the_calibrated_ceiling():
    rows = [["numerical", "ray", 1, "ok", 1.0], ["numerical", "ray", 2, "ok", 1.3]]
    ideal = pd.DataFrame([[2, 2.0, 1.0]], columns=["cores", "ceiling", "efficiency"])
    assert one(WEAK, speedups([]), summary(rows), ideal).verdict == NOT_REPRODUCED  # allowed 1.1
    slow_machine = pd.DataFrame([[2, 1.5, 0.75]], columns=["cores", "ceiling", "efficiency"])
    assert one(WEAK, speedups([]), summary(rows), slow_machine).verdict == REPRODUCED  # allowed 1.47
    assert one(WEAK, speedups([]), summary(rows[:1]), ideal).verdict == NOT_TESTABLE


def test_the_shipped_claims_file_loads_and_covers_every_caption():
    data = load_claims(ROOT / "paper" / "claims.yaml")
    ids = {c["id"] for c in data["claims"]}
    assert {"C1a", "C1b", "C2a", "C2b", "C2c", "C3a", "C3b", "C3c", "C4a", "C4b", "C4c", "C5"} <= ids


def test_bad_claim_kind_is_named(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - {id: X1, kind: bigger}\n")
    with pytest.raises(ClaimsError, match="X1.*bigger"):
        load_claims(path)
