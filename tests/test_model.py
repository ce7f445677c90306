"""The cost model: its equations on hand-computed cases, projections with known answers, and the
rule that a prediction never reads the cells it is checked against."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from parbench.analysis import model
from parbench.analysis.model import (
    Capacity,
    Costs,
    ModelInputs,
    holder_pipeline,
    predict,
    with_generation,
)
from parbench.analysis.model import check as model_check
from parbench.analysis.verdicts import load_claims
from parbench.catalog import PER_DOCUMENT, PER_WORD
from parbench.primitives import KIND, PrimitiveSet, key_of

DOCS, SLOTS, ROUNDS = 3, 4, 2
SIZES = {
    "numerical": {"image_side": 100, "filter_side": 4, "stride": 5},
    "stateful": {"docs_per_core": DOCS, "words_per_doc": 10, "word_bytes": 20, "popular_threshold": 3,
                 "mp_state_slots": SLOTS},
    "expensive_init": {"rounds": ROUNDS, "test_images": 10, "predict_batch": 32},
}
FACTS = {
    "numerical.task_bytes": 10_000, "numerical.result_bytes": 10,
    "stateful.document_bytes": 10, "stateful.state_bytes": {str(k): 100 * k for k in range(DOCS + 1)},
    "expensive_init.prediction_bytes": 50,
}


def costs(**overrides) -> dict[str, float]:
    """Every primitive the models read, zero unless given: each test switches on what it checks."""
    names = [
        "transport.pool_round_trip", "transport.pool_per_task", "transport.executor_round_trip",
        "transport.executor_per_task", "ray.task_submit", "ray.actor_submit", "ray.actor_call_round_trip",
        "ray.actor_start",
        "numerical.convolve", "numerical.dumps_task", "numerical.loads_task", "numerical.dumps_result",
        "numerical.loads_result", "numerical.shm_copy_image", "numerical.ray_put_image",
        "numerical.ray_task_image_result", "stateful.generate_document", "stateful.dumps_document",
        "stateful.loads_document", "stateful.dumps_popular", "stateful.loads_popular",
        "stateful.ray_submit_document", "stateful.ray_receive_document", "expensive_init.load_model_and_data",
        "expensive_init.first_predict", "expensive_init.dumps_prediction", "expensive_init.loads_prediction",
        "expensive_init.ray_actor_call_result", "expensive_init.ray_actor_predict",
    ]
    out = {n: 0.0 for n in names}
    out.update({key_of("stateful.count_document", {"k": k}): 0.0 for k in range(DOCS)})
    out.update({key_of(f"stateful.{op}_state", {"k": k}): 0.0 for k in range(1, DOCS + 1) for op in ("dumps", "loads")})
    out.update({key_of("expensive_init.predict", {"threads": t}): 0.0 for t in (1, 2)})
    out.update({key_of("transport.pipe_same_core", {"bytes": b}): 0.0 for b in (10, 10_000)})
    out.update({key_of("transport.pipe_cross_core", {"bytes": b}): 0.0 for b in (10, 10_000)})
    unknown = set(overrides) - set(out)
    assert not unknown, f"not a primitive the models read: {unknown}"
    out.update(overrides)
    return out


def inputs(seconds: dict[str, float], ceilings=None) -> ModelInputs:
    return ModelInputs(Costs(seconds, FACTS), Capacity(ceilings or {1: 1.0, 2: 2.0}), SIZES)


def record(seconds: dict[str, float], spread: float = 0.0) -> dict:
    """A primitives record whose every primitive has the given median (and +-spread samples)."""
    prims = []
    for key, value in seconds.items():
        name, _, rest = key.partition("[")
        param = dict(p.split("=") for p in rest.rstrip("]").split(",")) if rest else {}
        samples = [value - spread * value, value, value + spread * value]
        prims.append({"key": key, "name": name, "param": {k: int(v) for k, v in param.items()}, "where": "driver",
                      "what": "synthetic", "samples": samples})
    return {"kind": KIND, "schema_version": 1, "preset": "paper", "sizes": SIZES, "facts": FACTS,
            "machine": {}, "primitives": prims}


CALIBRATION = pd.DataFrame({"cores": [1, 2], "ceiling": [1.0, 2.0], "efficiency": [1.0, 1.0]})


# ------------------------------------------------------------------------------- equations


def test_serial_numerical_is_n_convolutions():
    p = predict("numerical", "serial", 8, inputs(costs(**{"numerical.convolve": 0.25})))
    assert p.seconds == pytest.approx(2.0)
    assert p.dominant().name == "convolve" and p.dominant().formula == "8 x 0.25 s"


def test_multiprocessing_numerical_driver_span_grows_with_n():
    # pickling 0.1 s per task in the driver, convolve 1 s in the workers, capacity ideal (2 at 2).
    m = inputs(costs(**{"numerical.convolve": 1.0, "numerical.dumps_task": 0.1}))
    two = predict("numerical", "multiprocessing", 2, m)
    # span = 2 x 0.1 + 1 = 1.2; work = (2 x 0.1 + 2 x 1) / 2 = 1.1
    assert two.bounds == pytest.approx({model.SPAN: 1.2, model.WORK: 1.1})
    assert two.seconds == pytest.approx(1.2) and two.bound == model.SPAN
    assert sum(t.seconds for t in two.terms) == pytest.approx(two.seconds)
    # at 48 cores (projected: efficiency 1 at 2 cores): span 48 x 0.1 + 1 = 5.8
    far = predict("numerical", "multiprocessing", 48, m)
    assert far.seconds == pytest.approx(5.8)
    assert far.dominant().name == "pickling the task with the image" and far.dominant().seconds == pytest.approx(4.8)
    assert any("projection" in a for a in far.assumptions)


def test_work_bound_divides_by_the_calibrated_ceiling():
    m = inputs(costs(**{"numerical.convolve": 1.0, "numerical.ray_put_image": 0.2}), {1: 1.0, 2: 1.5})
    two = predict("numerical", "ray", 2, m)
    # span = 0.2 + 1 = 1.2; work = (0.2 + 2 x 1) / 1.5 = 1.4667
    assert two.seconds == pytest.approx(2.2 / 1.5) and two.bound == model.WORK


def test_pipes_use_cross_core_time_on_the_critical_path_and_cpu_time_in_the_work():
    seconds = costs(**{key_of("transport.pipe_same_core", {"bytes": 10_000}): 0.4,
                       key_of("transport.pipe_cross_core", {"bytes": 10_000}): 0.1})
    c = Costs(seconds, FACTS)
    assert c.pipe(10_000, cross_core=True) == pytest.approx(0.1)
    assert c.pipe(10_000, cross_core=False) == pytest.approx(0.4)
    assert c.pipe(5005, cross_core=False) == pytest.approx(0.2)  # linear between measured sizes
    assert c.pipe(20_000, cross_core=False) == pytest.approx(0.4 + 0.4 / 9990 * 10_000)  # the last slope beyond
    one = predict("numerical", "multiprocessing", 1, inputs(seconds))
    assert one.seconds == pytest.approx(0.4)  # one core: both ends on it, wall = CPU time


def test_serial_stateful_generates_and_counts_every_document():
    counts = {key_of("stateful.count_document", {"k": k}): 0.1 * (k + 1) for k in range(DOCS)}
    m = inputs(costs(**{"stateful.generate_document": 0.05}, **counts))
    p = predict("stateful", "serial", 4, m)
    assert p.seconds == pytest.approx(4 * DOCS * 0.05 + 4 * (0.1 + 0.2 + 0.3))


def test_multiprocessing_stateful_rounds_and_the_four_slots():
    states = {key_of("stateful.dumps_state", {"k": k}): 1.0 for k in range(1, DOCS + 1)}
    m = inputs(costs(**{"stateful.generate_document": 0.01}, **states))
    # 1 core: per round r, the worker pickles state r+1 (1 s) and the driver pickles state r (1 s, 0 for r = 0)
    one = predict("stateful", "multiprocessing", 1, m)
    assert one.seconds == pytest.approx(DOCS * 0.01 + (0 + 1) + (1 + 1) + (1 + 1))
    # 8 cores: 4 slots counted per round; span_r = A + W + 3 x max(A, back) with back = 0 (loads free)
    eight = predict("stateful", "multiprocessing", 8, m)
    expected = 8 * DOCS * 0.01 + sum(a + 1.0 + 3 * a for a in (0.0, 1.0, 1.0))
    assert eight.seconds == pytest.approx(expected)
    assert any("4 of the 8 documents" in a for a in eight.assumptions)


def test_holder_pipeline_by_hand():
    # docs 0..3 arrive at 1, 2, 3, 4 to holders 0, 1, 0, 1; each takes 3 s: holder 1 ends at 8.
    assert holder_pipeline(2, 2, 1.0, lambda k: 3.0) == pytest.approx(8.0)
    # a slow driver: the last document arrives at 4 and takes 0.5 s
    assert holder_pipeline(2, 2, 1.0, lambda k: 0.5) == pytest.approx(4.5)


def test_ray_stateful_at_scale_is_bound_by_the_driver_generating_documents():
    counts = {key_of("stateful.count_document", {"k": k}): 0.1 for k in range(DOCS)}
    m = inputs(costs(**{"stateful.generate_document": 0.05, "stateful.ray_submit_document": 0.01}, **counts))
    p = predict("stateful", "ray", 48, m)
    # the driver hands out 144 documents at 0.06 s each; the last one then takes 0.1 s to count
    assert p.seconds == pytest.approx(48 * DOCS * 0.06 + 0.1)
    assert p.dominant().name == "generating the documents"
    assert "144 x 0.05 s" in p.sentence()


def test_ray_stateful_counts_the_actor_start_up_that_the_post_left_inside_its_timer():
    counts = {key_of("stateful.count_document", {"k": k}): 0.1 for k in range(DOCS)}
    m = inputs(costs(**{"stateful.generate_document": 0.05, "ray.actor_start": 1.0}, **counts))
    # 1 core: the actor is up at 1 s and counts DOCS documents (span 1 + DOCS x 0.1), but the one core
    # also generates them: every CPU-second, start-up included, is 1 + DOCS x (0.05 + 0.1)
    one = predict("stateful", "ray", 1, m)
    assert one.seconds == pytest.approx(1.0 + DOCS * 0.15)
    assert any(t.name == "actor start-up inside the timer" and t.seconds == pytest.approx(1.0) for t in one.terms)
    # multiprocessing_tuned's executors start in setup, outside the timer: no start-up term
    tuned = predict("stateful", "multiprocessing_tuned", 1, m)
    assert tuned.seconds == pytest.approx(DOCS * 0.15)


def test_serial_expensive_init_beyond_the_measured_threads_takes_the_best_measured():
    m = inputs(costs(**{key_of("expensive_init.predict", {"threads": 1}): 0.4,
                        key_of("expensive_init.predict", {"threads": 2}): 0.3}))
    assert predict("expensive_init", "serial", 2, m).seconds == pytest.approx(ROUNDS * 2 * 0.3)
    far = predict("expensive_init", "serial", 48, m)
    assert far.seconds == pytest.approx(ROUNDS * 48 * 0.3)
    assert any("best measured (2 threads)" in a for a in far.assumptions)


def test_multiprocessing_expensive_init_reloads_the_model_in_every_task():
    m = inputs(costs(**{"expensive_init.load_model_and_data": 0.3, "expensive_init.first_predict": 0.5}))
    assert predict("expensive_init", "multiprocessing", 1, m).seconds == pytest.approx(ROUNDS * 0.8)
    assert predict("expensive_init", "multiprocessing", 2, m).seconds == pytest.approx(ROUNDS * 0.8)


def test_capacity_beyond_the_calibration_is_n_times_the_last_efficiency():
    cap = Capacity({1: 1.0, 2: 1.9})
    assert cap.at(2) == (1.9, None)
    value, note = cap.at(48)
    assert value == pytest.approx(48 * 0.95) and "projection" in note
    assert Capacity({1: 1.0, 2: 2.2}).at(4)[0] == pytest.approx(4.0)  # noise above 1 is capped


def test_not_modelled_backends_say_so():
    with pytest.raises(KeyError, match="not modelled"):
        predict("numerical", "dask", 2, inputs(costs()))


# ------------------------------------------------------------------- projection, known answer


@pytest.fixture
def known():
    """B1: convolve 1 s, pickling 0.1 s per task; every other cost 0: mp(48) = 5.8 s, ray(48) = 1 s."""
    seconds = costs(**{"numerical.convolve": 1.0, "numerical.dumps_task": 0.1,
                       "stateful.generate_document": 0.01, "expensive_init.first_predict": 0.5,
                       "expensive_init.ray_actor_predict": 0.25,
                       **{key_of("stateful.count_document", {"k": k}): 0.1 for k in range(DOCS)},
                       **{key_of("expensive_init.predict", {"threads": t}): 0.25 for t in (1, 2)}})
    return seconds


def test_projection_returns_the_known_answer(known):
    claims = load_claims(ROOT / "paper" / "claims.yaml")
    prims = PrimitiveSet.from_record(record(known))
    out = model.project_claims(claims, prims, CALIBRATION, cores=48, resamples=200)
    assert out["C1a"].value == pytest.approx(5.8) and out["C1a"].cores == 48
    assert out["C1b"].value == pytest.approx(48.0)
    assert (out["C1a"].ci_low, out["C1a"].ci_high) == pytest.approx((5.8, 5.8))  # no spread, no interval
    assert "pickling the task with the image" in out["C1a"].dominant
    assert out["C1a"].label == "projection"
    # B3 vs serial: 2 x 48 x 0.25 over 2 x 0.25
    assert out["C3b"].value == pytest.approx(48.0)
    # range claims: the lowest workload's ratio, the highest alongside
    ratios = out["C4a"].per_workload
    assert out["C4a"].value == pytest.approx(min(ratios.values()))
    assert out["C4a"].value_high == pytest.approx(max(ratios.values()))
    assert {c for c in out} == {"C1a", "C1b", "C2a", "C2b", "C3a", "C3b", "C4a", "C4b", "C4c"}


def test_projection_interval_comes_from_the_primitives_spread(known):
    claims = load_claims(ROOT / "paper" / "claims.yaml")
    prims = PrimitiveSet.from_record(record(known, spread=0.2))
    p = model.project_claims(claims, prims, CALIBRATION, cores=48, resamples=400)["C1a"]
    assert p.ci_low < p.value < p.ci_high
    again = model.project_claims(claims, prims, CALIBRATION, cores=48, resamples=400)["C1a"]
    assert (again.ci_low, again.ci_high) == (p.ci_low, p.ci_high)  # seeded


def test_projection_intervals_are_those_of_the_draws_evaluated_one_by_one(known):
    """The draws are evaluated once per claim and shared by the interval, the interval with the
    model's error and the bracket; each must still be what evaluating every draw on its own gives."""
    from parbench.analysis.model import projection

    claims = load_claims(ROOT / "paper" / "claims.yaml")
    prims = PrimitiveSet.from_record(record(known, spread=0.2))
    draws = projection.bootstrap_inputs(prims, CALIBRATION, 100, 20190116)
    scenarios = projection._Scenarios(projection.ModelInputs.means(prims, CALIBRATION), draws,
                                      projection.ModelError.from_check(None), 20190116)
    out = model.project_claims(claims, prims, CALIBRATION, cores=48, scenarios=scenarios)
    for cid in ("C1a", "C4a"):
        claim = next(c for c in claims["claims"] if c["id"] == cid)
        one_by_one = projection._interval(np.array([projection._claim_statistic(claim, 48, d)[0] for d in draws]))
        assert (out[cid].ci_low, out[cid].ci_high) == one_by_one


# -------------------------------------------------------------- validation reads no cell


def summary_of(rows) -> pd.DataFrame:
    return pd.DataFrame([{"workload": w, "backend": b, "cores": c, "status": s, "median_s": m,
                          "ci_low_s": m * 0.95, "ci_high_s": m * 1.05} for w, b, c, s, m in rows])


def test_predictions_do_not_depend_on_the_measured_cells(known):
    prims = PrimitiveSet.from_record(record(known))
    cells = [("numerical", "serial", 1, "ok", 1.0), ("numerical", "multiprocessing", 2, "ok", 1.0),
             ("numerical", "ray", 2, "ok", 1.0)]
    first = model.check_cells(prims, summary_of(cells), CALIBRATION)
    other = model.check_cells(prims, summary_of([(w, b, c, s, m * 7) for w, b, c, s, m in cells]), CALIBRATION)
    assert list(first.predicted_s) == list(other.predicted_s)
    assert first.predicted_s.tolist() == pytest.approx([1.0, 1.2, 1.0])
    assert first.error.tolist() == pytest.approx([0.0, 0.2, 0.0])
    assert other.error.tolist() == pytest.approx([1 / 7 - 1, 1.2 / 7 - 1, 1 / 7 - 1])


def test_check_cells_explains_what_it_cannot_predict_and_where_it_misses(known):
    prims = PrimitiveSet.from_record(record(known))
    check = model.check_cells(prims, summary_of([
        ("numerical", "dask", 1, "ok", 1.0), ("numerical", "serial", 2, "failed", math.nan),
        ("numerical", "serial", 1, "ok", 2.0)]), CALIBRATION)
    assert "not modelled" in check.note[0]
    assert "failed cell" in check.note[1]
    assert check.abs_error[2] == pytest.approx(0.5) and not check.within_target[2]
    assert "under-predicted" in check.note[2]
    errors = model.error_summary(check)
    assert errors.set_index("backend").loc["serial", "median_abs_error"] == pytest.approx(0.5)


def test_model_stage_writes_tables_and_labelled_figures(known, tmp_path):
    import json

    (tmp_path / "primitives.json").write_text(json.dumps(record(known)))
    tables = tmp_path / "tables"
    tables.mkdir()
    summary_of([(w, b, c, "ok", 1.0) for w in ("numerical", "stateful", "expensive_init")
                for b in ("serial", "multiprocessing", "ray") for c in (1, 2)]).to_csv(tables / "summary.csv")
    CALIBRATION.to_csv(tables / "calibration.csv", index=False)
    paths = model.write_model_outputs(tmp_path / "primitives.json", tables, ROOT / "paper" / "claims.yaml",
                                      tmp_path / "out", tmp_path / "figures", resamples=50)
    names = {p.name for p in paths}
    assert {"model_check.csv", "projections.csv", "model_numerical.png"} <= names
    projections = pd.read_csv(tmp_path / "out" / "projections.csv")
    assert set(projections.cores) == set(model.ORIGINAL_CORES)
    assert projections.label.str.contains("projection").all()
    c1a = projections[(projections.claim == "C1a") & (projections.cores == 48)].iloc[0]
    assert c1a.projected == pytest.approx(5.8)
    png = (tmp_path / "figures" / "model_numerical.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_figure_labels_projections_as_projections(known):
    from parbench.model_figures import model_figure

    prims = PrimitiveSet.from_record(record(known))
    curves = model.projection_curves(prims, CALIBRATION, ["serial", "ray"], ["numerical"], resamples=20)
    summary = summary_of([("numerical", "serial", 1, "ok", 1.0), ("numerical", "ray", 2, "ok", 1.0)])
    fig = model_figure(summary, curves, "numerical")
    labels = fig.legends[0].get_texts()
    texts = [t.get_text() for t in labels]
    assert "Ray (projected)" in texts and "Ray (measured)" in texts
    assert all(t.endswith(("(projected)", "(measured)")) for t in texts)
    assert "projection" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_preset_mismatch_is_one_clear_error(known, tmp_path):
    import json

    (tmp_path / "p.json").write_text(json.dumps(record(known)))
    pd.DataFrame({"preset": ["smoke"]}).to_csv(tmp_path / "timings.csv", index=False)
    with pytest.raises(model.ModelInputError, match="parbench primitives --preset smoke"):
        model.write_model_outputs(tmp_path / "p.json", tmp_path, ROOT / "paper" / "claims.yaml", tmp_path)


def test_bootstrap_draws_are_means_of_resamples():
    prims = PrimitiveSet.from_record(record({"a": 1.0}, spread=0.5))  # samples 0.5, 1, 1.5
    draws = prims.bootstrap_means(np.random.default_rng(0), 500)
    values = {round(d["a"], 9) for d in draws}
    # the mean of 3 draws from {0.5, 1, 1.5}: a multiple of 1/6 from 0.5 to 1.5; a median would
    # only ever give the 3 samples themselves
    assert all(0.5 <= v <= 1.5 and abs(v * 6 - round(v * 6)) < 1e-6 for v in values)
    assert len(values) > 3


def test_the_model_reads_the_mean_of_a_primitive_that_flips_between_two_speeds():
    # One predict on the development VM: 0.70 s or 1.35 s, in spells. Ten of them in a trial take
    # about 10 x the mean; the median (0.70) would predict the trial 27% short.
    rec = record({"a": 0.70})
    rec["primitives"][0]["samples"] = [0.70, 0.70, 0.70, 1.35, 1.35]
    assert PrimitiveSet.from_record(rec).means()["a"] == pytest.approx(0.96)


# ------------------------------------------------------------- uncertainty: error and assumptions


def b3_primitives(spread: float = 0.0) -> PrimitiveSet:
    """B3 only matters here: serial's predict 0.3 s with 2 threads (0.4 s with 1), an actor's 0.25 s."""
    seconds = costs(**{"numerical.convolve": 1.0, "stateful.generate_document": 0.01,
                       **{key_of("stateful.count_document", {"k": k}): 0.1 for k in range(DOCS)},
                       "expensive_init.first_predict": 0.5, "expensive_init.ray_actor_predict": 0.25,
                       key_of("expensive_init.predict", {"threads": 1}): 0.4,
                       key_of("expensive_init.predict", {"threads": 2}): 0.3})
    return PrimitiveSet.from_record(record(seconds, spread))


def synthetic_claims(post_evidence: bool) -> dict:
    """C3b alone; with the post's B3 seconds and rounds (the TensorFlow-threads assumption's bound) or without."""
    claims = {"tolerance": 0.1, "claims": [{"id": "C3b", "text": "t", "kind": "speedup", "workload": "expensive_init",
                                            "backend": "ray", "baseline": "serial", "value": 13, "cores": 48}]}
    if post_evidence:  # 480 predictions in 64 s vs 0.5 s per actor predict: 3.75x from 48 threads
        claims["original_seconds"] = {"expensive_init": {"serial": 64, "ray": 5}}
        claims["original_sizes"] = {"expensive_init": {"rounds": 10}}
    return claims


def check_with_errors(errors: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"backend": ["serial", "ray"] * len(errors), "error": [e for e in errors for _ in (0, 1)]})


def test_the_post_implies_an_amdahl_fraction_for_tensorflow_threads():
    fraction, text = model.post_thread_scaling(load_claims(ROOT / "paper" / "claims.yaml"))
    gain = (5 / 10) / (64 / 480)  # one actor's predict over one serial predict
    assert 1 / ((1 - fraction) + fraction / 48) == pytest.approx(gain)
    assert "480 predictions in 64 s" in text and "0.13 s each" in text
    assert model.post_thread_scaling(synthetic_claims(post_evidence=False)) is None


def test_a_binding_assumption_widens_the_bracket_and_is_named():
    prims = b3_primitives()
    without = model.project_claims(synthetic_claims(False), prims, CALIBRATION, cores=48, resamples=50)["C3b"]
    with_post = model.project_claims(synthetic_claims(True), prims, CALIBRATION, cores=48, resamples=50)["C3b"]
    assert with_post.value == pytest.approx(without.value)  # the point keeps the central assumption
    # the post's thread gain makes serial's predict (0.3 s at 2 threads) faster at 48 threads: C3b falls
    serial_48 = 0.3 * ((1 - 0.749) + 0.749 / 48) / ((1 - 0.749) + 0.749 / 2)
    assert with_post.bracket_low == pytest.approx(without.bracket_low * serial_48 / 0.3, rel=0.01)
    assert with_post.bracket_high == pytest.approx(without.bracket_high)
    assert with_post.widest_assumption.startswith("TensorFlow threads")
    assert "the post's own serial B3" in with_post.bracket_note
    # capacity beyond the calibrated 2 cores binds too: the stated lower efficiency lowers the bracket
    assert without.widest_assumption.startswith("capacity")
    assert without.bracket_low == pytest.approx(without.value * model.CAPACITY_LOW_EFFICIENCY, rel=0.01)


def test_no_assumption_binds_where_everything_was_measured():
    p = model.project_claims(synthetic_claims(True), b3_primitives(), CALIBRATION, cores=2, resamples=50)["C3b"]
    assert (p.bracket_low, p.bracket_high) == pytest.approx((p.value, p.value))
    assert p.widest_assumption == ""


def test_the_model_error_widens_the_interval():
    prims, claims = b3_primitives(spread=0.1), synthetic_claims(False)
    none = model.project_claims(claims, prims, CALIBRATION, cores=2, resamples=300)["C3b"]
    exact = model.project_claims(claims, prims, CALIBRATION, cores=2, resamples=300,
                                 check=check_with_errors([0.0, 0.0, 0.0]))["C3b"]
    off = model.project_claims(claims, prims, CALIBRATION, cores=2, resamples=300,
                               check=check_with_errors([-0.3, 0.0, 0.3]))["C3b"]
    assert (none.interval_low, none.interval_high) == pytest.approx((none.ci_low, none.ci_high))
    assert (exact.interval_low, exact.interval_high) == pytest.approx((none.ci_low, none.ci_high))
    assert off.interval_low < none.ci_low and off.interval_high > none.ci_high
    assert off.bracket_low <= off.interval_low and off.bracket_high >= off.interval_high
    assert "3 checked cells" not in off.bracket_note and "6 checked cells" in off.bracket_note


def test_a_speedup_over_serial_above_n_is_explained_in_the_same_sentence():
    p = model.project_claims(synthetic_claims(False), b3_primitives(), CALIBRATION, cores=48, resamples=20)["C3b"]
    assert p.value == pytest.approx(48 * 0.3 / 0.25)  # serial's predict 0.3 s against an actor's 0.25 s
    first = p.dominant.split(";")[0]
    assert "above 48x on 48 cores" in first and "serial's unit costs more" in first
    assert "predict with 48 TensorFlow threads" in first


# --------------------------------------------------------------- out of sample: oversubscribed


def test_an_oversubscribed_cell_gets_the_ceiling_of_the_cpus_it_had():
    cap = Capacity({1: 1.0, 2: 1.8}, cpus=2)
    value, note = cap.at(16)
    assert value == pytest.approx(1.8) and "16 workers share 2 CPUs" in note
    assert cap.at(2) == (1.8, None)
    m = inputs(costs(**{"numerical.convolve": 1.0}), {1: 1.0, 2: 1.8})
    capped = model_check._inputs_for(type("Cell", (), {"cpus": 2, "cores": 8})(), m, {})
    # 8 convolutions on 2 CPUs' ceiling, not 8 cores'
    assert predict("numerical", "ray", 8, capped).seconds == pytest.approx(8 / 1.8)
    assert predict("numerical", "ray", 8, m).seconds < 8 / 1.8


def oversubscribed_rows(errors: dict[tuple[str, int], float]) -> pd.DataFrame:
    rows = [{"sample": model.OUT_OF_SAMPLE, "workload": "stateful", "backend": b, "cores": n, "cpus": 2,
             "original_backend": b in model.ORIGINAL_BACKENDS, "measured_s": 1.0, "predicted_s": 1 + e, "error": e,
             "abs_error": abs(e), "foreign_load_max": 0.0, "note": ""} for (b, n), e in errors.items()]
    return pd.DataFrame(rows)


def test_out_of_sample_errors_are_per_backend_and_n_and_never_pooled_with_the_real_cells():
    inside = pd.DataFrame([{"sample": model.IN_SAMPLE, "workload": "stateful", "backend": "ray", "cores": 2,
                            "original_backend": True, "abs_error": 0.05, "error": 0.05}])
    outside = oversubscribed_rows({("serial", 4): -0.4, ("ray", 4): -0.5, ("ray", 8): 0.1})
    outside["ratio_error_vs_serial"] = model_check._ratio_errors(outside)
    both = pd.concat([inside, outside], ignore_index=True)
    assert model.error_summary(both).set_index("backend").loc["ray", "cells"] == 1  # in-sample only
    table = model.out_of_sample_errors(both).set_index(["backend", "cores"])
    assert table.loc[("ray", "4"), "median_abs_error"] == pytest.approx(0.5)
    assert table.loc[("ray", "all"), "cells"] == 2
    # against serial at N = 4: 0.5 / 0.6 - 1; at N = 8 no serial cell, so no ratio
    assert table.loc[("ray", "4"), "median_abs_ratio_error_vs_serial"] == pytest.approx(abs(0.5 / 0.6 - 1))
    assert set(table.reset_index()["sample"]) == {model.OUT_OF_SAMPLE}


def test_an_out_of_sample_miss_is_explained_by_the_machine_or_by_the_term_the_model_lacks():
    rows = oversubscribed_rows({("serial", 4): -0.6, ("multiprocessing", 4): -0.55, ("ray", 4): -0.75})
    rows["ratio_error_vs_serial"] = model_check._ratio_errors(rows)
    notes = {r.backend: model_check._out_of_sample_note(r) for _, r in rows.iterrows()}
    assert "serial missed alike" in notes["multiprocessing"]  # 0.45 / 0.4 - 1 = +12%: the machine's speed
    assert "the model lacks" in notes["ray"] and "run-queue" in notes["ray"]  # 0.25 / 0.4 - 1 = -38%
    faster = oversubscribed_rows({("serial", 4): -0.6, ("ray", 4): -0.4})  # 0.6 / 0.4 - 1 = +50% against serial
    faster["ratio_error_vs_serial"] = model_check._ratio_errors(faster)
    note = model_check._out_of_sample_note(faster.iloc[1])
    assert "run-queue" not in note and "serial at the same N, the reference" in note
    assert "convolved faster" in model_check._out_of_sample_note(faster.assign(workload="numerical").iloc[1])
    assert "machine's own speed" in notes["serial"]


def test_an_oversubscribed_folder_without_its_primitives_is_one_clear_error(tmp_path):
    with pytest.raises(model.ModelInputError, match="primitives.json"):
        model.oversubscribed_check(tmp_path)


def test_the_model_error_takes_out_of_sample_cells_against_serial_at_the_same_n():
    inside = pd.DataFrame([{"sample": model.IN_SAMPLE, "backend": "ray", "error": 0.1}])
    outside = oversubscribed_rows({("serial", 4): -0.5, ("ray", 4): -0.4})
    outside["ratio_error_vs_serial"] = model_check._ratio_errors(outside)
    error = model.ModelError.from_check(pd.concat([inside, outside], ignore_index=True))
    # ray: 0.1 in-sample, and 0.6 / 0.5 - 1 = +20% against serial (not its -40% of absolute seconds)
    assert np.expm1(np.sort(error.by_backend["ray"])) == pytest.approx([0.1, 0.2])
    assert "serial" not in error.by_backend and error.cells == 2
    busy = outside.assign(foreign_load_max=0.9)  # a neighbour kept the CPUs busy: shown, not used
    assert model.ModelError.from_check(pd.concat([inside, busy], ignore_index=True)).cells == 1


def test_a_projection_made_from_two_cores_is_checked_against_a_larger_machines_measurement(known):
    prims = PrimitiveSet.from_record(record(known))
    calibration = pd.DataFrame({"cores": [1, 2, 4], "ceiling": [1.0, 2.0, 3.0]})
    cells = summary_of([("numerical", b, c, "ok", m) for b, c, m in
                        (("serial", 1, 1.0), ("serial", 2, 2.0), ("ray", 1, 1.0), ("ray", 2, 1.0))])
    speedups = pd.DataFrame([{"workload": "numerical", "backend": "ray", "baseline": "serial", "cores": 4,
                              "speedup": 3.0}])
    claims = {"claims": [{"id": "C1b", "kind": "speedup", "workload": "numerical", "backend": "ray",
                          "baseline": "serial", "value": 28, "cores": 48}]}
    out = model.projection_check(claims, prims, cells, calibration, speedups, built_from=2, resamples=20).iloc[0]
    # from 2 cores the model sees ideal cores: 4 convolutions on 4 cores, 4x; 4 cores measured 3x
    assert (out.cores, out.projected, out.measured) == (4, pytest.approx(4.0), 3.0)
    assert out.error == pytest.approx(1 / 3) and out.inside_bracket  # the stated 0.50 efficiency reaches 2x
    assert out.bracket_low == pytest.approx(4.0 * model.CAPACITY_LOW_EFFICIENCY, rel=0.01)


def test_both_document_generations_are_predicted_from_their_own_primitive():
    counts = {key_of("stateful.count_document", {"k": k}): 0.1 for k in range(DOCS)}
    seconds = costs(**{"stateful.generate_document": 0.05, "stateful.ray_submit_document": 0.01}, **counts)
    seconds["stateful.generate_document_block"] = 0.001
    per_word = inputs(seconds)
    per_document = with_generation(per_word, PER_DOCUMENT)
    for backend in ("serial", "multiprocessing", "ray", "multiprocessing_tuned"):
        assert predict("stateful", backend, 4, per_document).seconds < predict("stateful", backend, 4, per_word).seconds
    # serial: only the generation term changes, by N x D x (0.05 - 0.001)
    saved = predict("stateful", "serial", 4, per_word).seconds - predict("stateful", "serial", 4, per_document).seconds
    assert saved == pytest.approx(4 * DOCS * (0.05 - 0.001))
    assert per_word.document_generation == PER_WORD  # the original inputs are untouched
    # the stateful_per_document cells are predicted so from the run's inputs (the model check's way)
    fresh = inputs(seconds)
    assert predict("stateful_per_document", "serial", 4, fresh).seconds == pytest.approx(
        predict("stateful", "serial", 4, per_document).seconds)
    assert predict("stateful", "serial", 4, fresh).seconds == pytest.approx(
        predict("stateful", "serial", 4, per_word).seconds)
