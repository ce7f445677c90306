"""Verdict logic on synthetic tables: reproduced, not reproduced, not testable here."""

from pathlib import Path

import pandas as pd
import pytest

from parbench.analysis.quiet import check
from parbench.analysis.verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    ClaimsError,
    Tables,
    evaluate,
    load_claims,
)

ROOT = Path(__file__).resolve().parent.parent


def speedups(rows):
    return pd.DataFrame(rows, columns=["workload", "cores", "backend", "baseline", "speedup", "ci_low",
                                       "ci_high", "ci_method"])


def summary(rows):
    return pd.DataFrame(rows, columns=["workload", "backend", "cores", "status", "error", "median_s"])


def growth(rows):
    return pd.DataFrame(rows, columns=["workload", "backend", "cores", "growth", "ci_low", "ci_high", "ci_method"])


NO_CAL = pd.DataFrame(columns=["cores", "ceiling", "efficiency"])
NO_GROWTH = growth([])


def claims(*items, tolerance=0.1):
    return {"tolerance": tolerance, "claims": list(items)}


SPEEDUP = {"id": "C1a", "text": "t", "kind": "speedup", "workload": "numerical", "backend": "ray",
           "baseline": "multiprocessing", "value": 9, "cores": 48}


def one(claim, table, summ=None, cal=NO_CAL, grow=NO_GROWTH, quiet=None, projector=None):
    tables = Tables(table, summ if summ is not None else summary([]), cal, grow)
    return evaluate(claims(claim), tables, quiet, projector)[0]


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


def test_weak_scaling_uses_the_growth_interval_and_the_calibrated_ceiling():
    rows = growth([["numerical", "ray", 2, 1.3, 1.25, 1.35, "h"]])
    ideal = pd.DataFrame([[2, 2.0, 1.0]], columns=["cores", "ceiling", "efficiency"])
    assert one(WEAK, speedups([]), cal=ideal, grow=rows).verdict == NOT_REPRODUCED  # allowed 1.1 < 1.25
    reaches = growth([["numerical", "ray", 2, 1.3, 1.05, 1.35, "h"]])
    v = one(WEAK, speedups([]), cal=ideal, grow=reaches)
    assert v.verdict == REPRODUCED and v.depends_on_cores == [1, 2]
    assert one(WEAK, speedups([]), cal=ideal, grow=NO_GROWTH).verdict == NOT_TESTABLE


def points(rows):
    return pd.DataFrame(rows, columns=["cores", "point", "ceiling", "efficiency", "foreign_load_max", "machine_hash"])


def test_a_busy_machine_makes_dependent_verdicts_inconclusive_and_never_widens_the_allowance():
    rows = growth([["numerical", "ray", 2, 1.3, 1.05, 1.35, "h"]])
    busy_points = points([[1, 0, 1.0, 1.0, 0.02, "m"], [2, 0, 1.17, 0.58, 0.03, "m"], [2, 1, 1.95, 0.97, 0.0, "m"]])
    cal = pd.DataFrame([[2, 1.56, 0.78]], columns=["cores", "ceiling", "efficiency"])
    quiet = check(busy_points)
    assert not quiet.quiet and 2 in quiet.busy_cores and 1 not in quiet.busy_cores
    v = one(WEAK, speedups([]), cal=cal, grow=rows, quiet=quiet)
    assert v.verdict == INCONCLUSIVE
    assert "1.17x" in v.explanation and v.value == pytest.approx(1.3)
    # A claim that rests only on 1 core is untouched by the busy 2-core checks.
    one_core = speedups([["stateful", 1, "multiprocessing", "serial", 0.5, 0.4, 0.6, "h"]])
    assert one(NOT_FASTER, one_core, quiet=quiet).verdict == REPRODUCED


def test_foreign_load_flags_one_core_runs_too():
    loaded = check(points([[1, 0, 1.0, 1.0, 0.95, "m"]]))
    assert 1 in loaded.busy_cores and "95%" in loaded.reason([1])
    cell_load = check(points([[1, 0, 1.0, 1.0, 0.0, "m"]]),
                      pd.DataFrame([["stateful", "ray", 1, 0.6]], columns=["workload", "backend", "cores",
                                                                            "foreign_load_max"]))
    assert 1 in cell_load.busy_cores and "stateful/ray" in cell_load.reason([1])
    assert check(points([[1, 0, 1.0, 1.0, 0.05, "m"], [2, 0, 1.96, 0.98, 0.1, "m"]])).quiet


def test_a_failed_cell_at_the_claims_core_count_is_named():
    table = speedups([["numerical", 2, "ray", "multiprocessing", 2.0, 1.8, 2.2, "h"]])
    failed = summary([["numerical", "ray", 48, "failed", "MemoryError: no room", float("nan")],
                      ["numerical", "multiprocessing", 48, "ok", "", 7.5]])
    v = one(SPEEDUP, table, failed)
    assert v.verdict == NOT_TESTABLE
    assert "ray cell of numerical at 48 cores failed" in v.explanation and "MemoryError" in v.explanation
    assert "largest core count" not in v.explanation


def test_scaled_efficiency_is_a_second_labelled_verdict():
    claim = dict(SPEEDUP, id="C1b", baseline="serial", value=24, cores=48)  # efficiency 0.5
    table = speedups([["numerical", 2, "ray", "serial", 0.9, 0.85, 0.95, "h"]])
    tables = Tables(table, summary([]), NO_CAL, NO_GROWTH)
    main, scaled = evaluate(claims(claim), tables)
    assert main.verdict == NOT_TESTABLE
    assert scaled.id == "C1b-scaled" and "derived" in scaled.text
    assert scaled.verdict == REPRODUCED  # needs 0.5 x 2 x 0.9 = 0.9; CI reaches 0.95
    worse = Tables(speedups([["numerical", 2, "ray", "serial", 0.7, 0.65, 0.8, "h"]]), summary([]), NO_CAL, NO_GROWTH)
    assert evaluate(claims(claim), worse)[1].verdict == NOT_REPRODUCED


def test_a_projection_is_attached_only_to_untestable_claims():
    table = speedups([["numerical", 2, "ray", "multiprocessing", 2.0, 1.8, 2.2, "h"]])
    projection = {"value": 7.1, "ci_low": 6.0, "ci_high": 8.0, "cores": 48, "note": "pickling dominates"}
    v = one(SPEEDUP, table, projector=lambda claim: projection)
    assert v.verdict == NOT_TESTABLE and v.projected == 7.1 and v.projection_note == "pickling dominates"
    at48 = speedups([["numerical", 48, "ray", "multiprocessing", 9.5, 9.0, 10.0, "h"]])
    assert one(SPEEDUP, at48, projector=lambda claim: projection).projected is None


def test_the_verdict_row_carries_the_projections_bracket_and_names_what_widens_it():
    import pandas as pd

    from parbench.analysis.verdicts import table_projector

    table = speedups([["numerical", 2, "ray", "multiprocessing", 2.0, 1.8, 2.2, "h"]])
    projections = pd.DataFrame([{"claim": "C1a", "cores": 48, "projected": 7.1, "ci_low": 6.0, "ci_high": 8.0,
                                 "dominant": "pickling dominates.", "bracket_low": 3.0, "bracket_high": 9.5,
                                 "widest_assumption": "capacity beyond the calibrated cores",
                                 "bracket_note": "Bracket [3, 9.5]: ... Widest: capacity."}])
    v = one(SPEEDUP, table, projector=table_projector(projections))
    assert (v.projected_bracket_low, v.projected_bracket_high) == (3.0, 9.5)
    assert v.projection_widest_assumption == "capacity beyond the calibrated cores"
    assert v.projection_note == "pickling dominates. Bracket [3, 9.5]: ... Widest: capacity."
    old_table = projections.drop(columns=["bracket_low", "bracket_high", "widest_assumption", "bracket_note"])
    assert one(SPEEDUP, table, projector=table_projector(old_table)).projected_bracket_low is None


def test_the_shipped_claims_file_loads_and_covers_every_caption():
    data = load_claims(ROOT / "paper" / "claims.yaml")
    ids = {c["id"] for c in data["claims"]}
    assert {"C1a", "C1b", "C2a", "C2b", "C2c", "C3a", "C3b", "C3c", "C4a", "C4b", "C4c", "C5"} <= ids


def test_bad_claim_kind_is_named(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - {id: X1, kind: bigger}\n")
    with pytest.raises(ClaimsError, match="X1.*bigger"):
        load_claims(path)
