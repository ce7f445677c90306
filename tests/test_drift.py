"""What changed since 2019 (issue 19): the drift table and the claims' rows at a term's 2019 cost,
from synthetic primitives that carry a known drift."""

from pathlib import Path

import pandas as pd
import pytest

from parbench.analysis.drift import (
    AT_LEAST,
    AT_MOST,
    DriftError,
    at_2019_cost,
    drift_rows,
    drift_table,
    projections_at_2019_cost,
)
from parbench.analysis.model import projection_table
from parbench.analysis.verdicts import DRIFT_SUFFIX, NOT_TESTABLE, DriftInputs, Tables, evaluate, load_claims
from parbench.primitives import PrimitiveSet, key_of
from test_model import CALIBRATION, DOCS, costs, record

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = load_claims(ROOT / "paper/claims.yaml")
COUNT = 0.1  # counting one document here, every k
DRIFT = 25.0  # the known drift put into the synthetic generation cost


def post_b2_ratio(claims=CLAIMS) -> float:
    """By hand from the post's numbers: Ray's 3.2 s holds 480 generations, serial's 54 s 480 documents."""
    seconds, docs = claims["original_seconds"]["stateful"], 48 * 10
    generate = seconds["ray"] / docs
    return generate / (seconds["serial"] / docs - generate)


def primitives(generation_drift=DRIFT, **extra) -> PrimitiveSet:
    counts = {key_of("stateful.count_document", {"k": k}): COUNT for k in range(DOCS)}
    seconds = costs(**{"stateful.generate_document": post_b2_ratio() * COUNT * generation_drift,
                       "stateful.ray_submit_document": 0.001, "numerical.convolve": 0.5,
                       "numerical.ray_put_image": 0.68, "numerical.dumps_task": 0.05}, **counts)
    seconds.update(extra)
    return PrimitiveSet.from_record(record(seconds, spread=0.1))


def by_term(rows):
    return {r.term_primitive: r for r in rows}


def test_b2_generation_drift_is_the_known_factor_and_a_bound():
    row = by_term(drift_rows(CLAIMS, primitives()))["stateful.generate_document"]
    assert post_b2_ratio() == pytest.approx(0.0063 / 0.1, rel=0.01)  # 6.7 ms against about 0.106 s
    assert row.post_ratio == pytest.approx(post_b2_ratio())
    assert row.post_relation == AT_MOST and row.drift_relation == AT_LEAST
    assert row.drift == pytest.approx(DRIFT)
    assert row.now_reference_s == pytest.approx(COUNT)
    assert row.binds == "C2a C2b" and row.per_core == DOCS
    assert "at least 25" in row.sentence() and row.reading == "costlier now"


def test_b1_rows_follow_the_posts_seconds():
    rows = by_term(drift_rows(CLAIMS, primitives()))
    put = rows["numerical.ray_put_image"]
    assert put.post_ratio == pytest.approx((0.84 - 24 / 48) / (24 / 48))  # 0.68: ray.put at most 0.34 s
    assert put.drift == pytest.approx(0.68 / 0.5 / put.post_ratio)
    pickle = rows["numerical.dumps_task"]
    assert pickle.post_ratio == pytest.approx((7.5 - 0.5) / 48 / 0.5)
    assert pickle.drift_relation == AT_LEAST


def test_b3_row_bounds_the_drift_from_above():
    load = {"expensive_init.load_model_and_data": 4.84, key_of("expensive_init.predict", {"threads": 1}): 0.1}
    row = by_term(drift_rows(CLAIMS, primitives(**load)))["expensive_init.load_model_and_data"]
    assert row.post_ratio == pytest.approx((126 / 10 - 5 / 10) / (5 / 10))  # 24.2: load at least 24 predicts
    assert row.post_relation == AT_LEAST and row.drift_relation == AT_MOST
    assert row.drift == pytest.approx(48.4 / 24.2)  # at most 2x: a bound that shows no drift
    assert row.reading == "no drift shown: loose bound"
    cheaper = by_term(drift_rows(CLAIMS, primitives(**dict(load, **{"expensive_init.load_model_and_data": 0.242}))))
    assert cheaper["expensive_init.load_model_and_data"].reading == "cheaper now"


def test_terms_without_primitives_are_left_out_and_a_missing_core_count_is_one_message():
    names = set(drift_table(CLAIMS, primitives()).term_primitive)
    assert "stateful.generate_document_block" not in names and "expensive_init.load_model_and_data" not in names
    with pytest.raises(DriftError, match="original_seconds_cores"):
        drift_rows({k: v for k, v in CLAIMS.items() if k != "original_seconds_cores"}, primitives())


def test_at_2019_cost_moves_the_term_to_the_posts_bound():
    prims = primitives()
    row = by_term(drift_rows(CLAIMS, prims))["stateful.generate_document"]
    moved = at_2019_cost(prims, row).means()
    assert moved["stateful.generate_document"] == pytest.approx(row.post_ratio * COUNT)
    assert moved["numerical.convolve"] == prims.means()["numerical.convolve"]


def test_projection_at_2019_cost_is_higher_and_labelled():
    prims = primitives()
    bound = {"claims": [c for c in CLAIMS["claims"] if c["id"] in ("C2a", "C2b")]}
    plain = projection_table(bound, prims, CALIBRATION, (48,), resamples=20).set_index("claim")
    at_2019 = projections_at_2019_cost(CLAIMS, prims, CALIBRATION, (48,), resamples=20).set_index("claim")
    assert set(at_2019.index) == {"C2a", "C2b"}
    assert at_2019.loc["C2b", "projected"] > 3 * plain.loc["C2b", "projected"]  # the Amdahl term shrank 25x
    assert at_2019.loc["C2b", "label"].startswith("projection with generating one document")
    assert set(at_2019.cost) == {"post-bound"}  # no per-document primitive measured: no alternative rows
    with_block = primitives(**{"stateful.generate_document_block": 0.001})
    both = projections_at_2019_cost(CLAIMS, with_block, CALIBRATION, (48,), resamples=20)
    alternative = both[both.cost == "alternative"].set_index("claim")
    assert set(alternative.index) == {"C2a", "C2b"}
    assert alternative.loc["C2b", "projected"] > plain.loc["C2b", "projected"]
    assert "measured here" in alternative.loc["C2b", "label"]


def test_verdicts_carry_a_derived_row_and_name_the_drift(tmp_path):
    prims = primitives()
    drift = drift_table(CLAIMS, prims)
    row = drift[drift.term_primitive == "stateful.generate_document"].iloc[0]
    serial_s, ray_s, n = 10.0, 8.0, 2
    summary = pd.DataFrame([["stateful", b, n, "ok", None, s] for b, s in (("serial", serial_s), ("ray", ray_s))],
                           columns=["workload", "backend", "cores", "status", "error", "median_s"])
    speedups = pd.DataFrame([["stateful", n, "ray", "serial", serial_s / ray_s, 1.1, 1.4, "BCa"]],
                            columns=["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high",
                                     "ci_method"])
    projections = pd.DataFrame([{"claim": "C2b", "cores": 48, "projected": 12.0, "ci_low": 11.0, "ci_high": 13.0,
                                 "label": "projection with generating one document at its 2019 cost",
                                 "cost": "post-bound", "term": "t"},
                                {"claim": "C2b", "cores": 48, "projected": 14.0, "ci_low": 13.5, "ci_high": 14.5,
                                 "label": "projection with the block primitive", "cost": "alternative",
                                 "term": "stateful.generate_document_block"}])
    tables = Tables(speedups, summary, pd.DataFrame(columns=["cores", "ceiling", "efficiency"]),
                    pd.DataFrame(columns=["workload", "backend", "cores", "growth", "ci_low", "ci_high", "ci_method"]))
    c2b = next(c for c in CLAIMS["claims"] if c["id"] == "C2b")
    drift.to_csv(tmp_path / "drift.csv", index=False)  # through the files the model stage writes
    projections.to_csv(tmp_path / "projections_2019.csv", index=False)
    verdicts = {v.id: v for v in evaluate({"tolerance": 0.1, "claims": [c2b]}, tables, None, None,
                                          DriftInputs.read(tmp_path))}
    derived = verdicts["C2b" + DRIFT_SUFFIX]
    excess = n * DOCS * (row.now_term_s - row.post_ratio * COUNT)
    assert derived.value == pytest.approx((serial_s - excess) / (ray_s - excess))
    assert derived.cores == n and derived.verdict == NOT_TESTABLE
    assert (derived.projected, derived.projected_ci_low, derived.projected_ci_high) == (12.0, 11.0, 13.0)
    assert "projection" in derived.explanation and "derived" in derived.measured
    assert "stateful.generate_document_block as measured here instead, projected 14.00x [13.50, 14.50]" \
        in derived.explanation
    assert "What changed since 2019" in verdicts["C2b"].explanation and "at least 25.0x" in verdicts["C2b"].explanation
    # cells that made their documents in one call: the excess is the per-document cost's, not per-word's
    block_s = 0.001
    with_block = drift_table(CLAIMS, primitives(**{"stateful.generate_document_block": block_s}))
    with_block.to_csv(tmp_path / "drift.csv", index=False)
    per_document = evaluate({"tolerance": 0.1, "claims": [c2b]}, tables, None, None,
                            DriftInputs.read(tmp_path, {"document_generations": ["per-document"]}))
    excess = n * DOCS * (block_s - row.post_ratio * COUNT)
    assert per_document[-1].value == pytest.approx((serial_s - excess) / (ray_s - excess))
    mixed = evaluate({"tolerance": 0.1, "claims": [c2b]}, tables, None, None,
                     DriftInputs.read(tmp_path, {"document_generations": ["per-document", "per-word"]}))
    assert mixed[-1].value is None and mixed[-1].measured == "not measured"
    # without the model's drift outputs the verdicts are as before
    assert [v.id for v in evaluate({"tolerance": 0.1, "claims": [c2b]}, tables)] == ["C2b", "C2b-scaled"]
    # cells that made each document in one RNG call (stateful_per_document): their measured ratio joins
    # the derived row, at their largest core count, with its CI
    variant = pd.DataFrame([["stateful_per_document", c, "ray", "serial", s, s - 0.5, s + 0.5, "BCa"]
                            for c, s in ((1, 1.9), (n, 3.25))], columns=speedups.columns)
    both = Tables(pd.concat([speedups, variant], ignore_index=True), summary, tables.calibration, tables.growth)
    direct = evaluate({"tolerance": 0.1, "claims": [c2b]}, both, None, None, DriftInputs.read(tmp_path))[-1]
    assert direct.value == pytest.approx(derived.value)  # the derived value is kept
    assert f"3.25x [2.75, 3.75] at {n} cores measured in the stateful_per_document cells" in direct.measured


def test_report_section_reads_the_drift_table_and_the_records_generation(tmp_path):
    from types import SimpleNamespace

    from parbench.report import _drift

    drift_table(CLAIMS, primitives()).to_csv(tmp_path / "drift.csv", index=False)
    records = [SimpleNamespace(workload_facts={"document_generation": "per-word",
                                               "generation_seconds_per_document": s}) for s in (0.2, 0.1, 0.3)]
    records.append(SimpleNamespace(workload_facts=None))
    section = _drift(tmp_path / "model_check.csv", records)
    b2 = next(r for r in section["rows"] if r["term"].startswith("generating one document, per word"))
    assert b2["drift"] == "at least 25x (costlier now)" and b2["post"].startswith("at most 0.063")
    assert section["generation_cells"] == [{"generation": "per-word", "cells": 3, "seconds": "0.2000"}]
    assert _drift(tmp_path / "elsewhere" / "model_check.csv", records) is None


def test_the_derived_row_carries_the_projection_bracket(tmp_path):
    """projections_2019.csv rows carry the same bracket as every projection (model error and binding
    assumptions); the derived row shows it beside the re-draws' interval."""
    drift_table(CLAIMS, primitives()).to_csv(tmp_path / "drift.csv", index=False)
    pd.DataFrame([{"claim": "C2b", "cores": 48, "projected": 12.0, "ci_low": 11.0, "ci_high": 13.0,
                   "bracket_low": 6.5, "bracket_high": 19.25, "bracket_note": "", "widest_assumption": "capacity",
                   "label": "projection", "cost": "post-bound", "term": "t"}]).to_csv(
        tmp_path / "projections_2019.csv", index=False)
    tables = Tables(pd.DataFrame(columns=["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high",
                                          "ci_method"]),
                    pd.DataFrame(columns=["workload", "backend", "cores", "status", "error", "median_s"]),
                    pd.DataFrame(columns=["cores", "ceiling", "efficiency"]),
                    pd.DataFrame(columns=["workload", "backend", "cores", "growth", "ci_low", "ci_high", "ci_method"]))
    c2b = next(c for c in CLAIMS["claims"] if c["id"] == "C2b")
    derived = evaluate({"tolerance": 0.1, "claims": [c2b]}, tables, None, None, DriftInputs.read(tmp_path))[-1]
    assert derived.id == "C2b" + DRIFT_SUFFIX
    assert (derived.projected_bracket_low, derived.projected_bracket_high) == (6.5, 19.25)
    assert "12.00x [11.00, 13.00], bracket [6.50, 19.25]; widest: capacity" in derived.explanation


def test_projections_at_2019_cost_carry_the_model_error_in_their_bracket():
    prims = primitives()
    plain = projections_at_2019_cost(CLAIMS, prims, CALIBRATION, (48,), resamples=20).set_index("claim")
    check = pd.DataFrame({"sample": "in-sample", "workload": "stateful", "backend": ["serial"] * 3 + ["ray"] * 3,
                          "abs_error": 0.4, "error": [0.4, 0.0, -0.4] * 2, "original_backend": True})
    wide = projections_at_2019_cost(CLAIMS, prims, CALIBRATION, (48,), resamples=20, check=check).set_index("claim")
    assert wide.loc["C2b", "interval_high"] - wide.loc["C2b", "interval_low"] > \
        plain.loc["C2b", "interval_high"] - plain.loc["C2b", "interval_low"]
    assert wide.loc["C2b", "bracket_low"] <= wide.loc["C2b", "interval_low"]


def test_b2_measured_both_ways_pairs_each_ratio_with_its_per_document_twin(tmp_path):
    from parbench.analysis.drift import measured_both_ways
    from parbench.readme import _b2_depended_on

    columns = ["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high", "ci_method"]
    speedups = pd.DataFrame([["stateful", 2, "ray", "serial", 1.25, 1.0, 1.5, "BCa"],
                             ["stateful", 2, "ray", "multiprocessing", 1.5, 1.25, 1.75, "BCa"],
                             ["stateful_per_document", 2, "ray", "serial", 1.75, 1.5, 2.0, "BCa"],
                             ["stateful_per_document", 2, "ray", "multiprocessing", 2.5, 2.0, 3.0, "BCa"],
                             ["numerical", 2, "ray", "serial", 2.0, 1.5, 2.5, "BCa"]], columns=columns)
    both = measured_both_ways(speedups).set_index(["backend", "baseline"])
    assert len(both) == 2  # only B2's pairs, only where both generations were measured
    assert (both.loc[("ray", "serial"), "per_word"], both.loc[("ray", "serial"), "per_document"]) == (1.25, 1.75)
    assert measured_both_ways(speedups[speedups.workload != "stateful_per_document"]).empty
    # the README's sentence says the same from the same tables, and the 2019-cost projections
    drift_table(CLAIMS, primitives()).to_csv(tmp_path / "drift.csv", index=False)
    verdicts = pd.DataFrame([{"id": "C2b", "claimed": "17x at 48 cores", "projected": 1.8,
                              "projected_bracket_low": 1.2, "projected_bracket_high": 2.5},
                             {"id": "C2b-2019cost", "claimed": "17x at 48 cores", "projected": 13.0,
                              "projected_bracket_low": 9.0, "projected_bracket_high": 16.5}])
    text = " ".join(_b2_depended_on(tmp_path, speedups, verdicts))
    assert "at least 25x more than in 2019" in text
    assert "ray over serial 1.25x per word against 1.75x per document" in text
    assert "C2b (claimed 17x at 48 cores) 1.80x with today's cost and 13.00x [9.00, 16.50] with the 2019 cost" in text
