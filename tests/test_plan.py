"""The run plan: core counts under quotas and clusters, round-by-round order, durations, progress."""

import json
import time
from pathlib import Path

import pytest

from parbench import plan
from parbench.plan import CellKey, Job, Machine, PlanError

ROOT = Path(__file__).resolve().parent.parent


def test_auto_counts_up_to_the_machine_and_includes_its_maximum():
    assert plan.resolve_cores("auto", Machine(2)) == [1, 2]
    assert plan.resolve_cores("auto", Machine(12)) == [1, 2, 4, 8, 12]
    assert plan.resolve_cores("auto", Machine(128)) == list(plan.AUTO_CORES)


def test_a_cpu_quota_caps_auto_and_refuses_explicit_counts_above_it():
    quota = Machine(physical_cores=16, quota_cores=4)
    assert plan.resolve_cores("auto", quota) == [1, 2, 4]
    with pytest.raises(PlanError, match=r"cores \[8\] exceed the CPU quota.*4 CPUs.*--cpus.*--cpuset-cpus"):
        plan.resolve_cores([1, 8], quota)
    assert plan.resolve_cores([4, 1], quota) == [1, 4]


def test_counts_above_the_machine_are_refused_unless_a_cluster_backend_takes_them():
    with pytest.raises(PlanError, match=r"cores \[4\] exceed the physical cores.*\(2\)"):
        plan.resolve_cores([1, 4], Machine(2))
    with pytest.raises(PlanError, match=r"exceed node_cores \(8\)"):
        plan.resolve_cores([16], Machine(8, source="node_cores"))
    assert plan.resolve_cores([1, 64], Machine(2), cluster_backends=["ray"], ray_address="h:6379") == [1, 64]
    cells = plan.plan_cells(["numerical"], ["serial", "ray"], [1, 64], Machine(2), ["ray"])
    assert CellKey("numerical", "ray", 64) in cells and CellKey("numerical", "serial", 64) not in cells


def test_rounds_run_round_by_round_each_in_its_own_seeded_shuffle():
    cells = [CellKey(w, b, c) for w in ("numerical", "stateful") for b in ("serial", "ray") for c in (1, 2)]
    order = plan.job_order(cells, rounds=3, seed=7)
    assert [j.round for j in order] == [0] * 8 + [1] * 8 + [2] * 8
    for r in range(3):
        assert sorted(j.cell for j in order if j.round == r) == sorted(cells)
    assert [j.cell for j in order[:8]] != [j.cell for j in order[8:16]]  # not the same shuffle every round
    assert order == plan.job_order(cells, rounds=3, seed=7)
    priority = plan.job_priorities(order)
    assert all(priority[a] > priority[b] for a, b in zip(order, order[1:]))
    points = plan.calibration_priorities(order, rounds=3)
    assert points[0] > max(priority.values())
    for r in (1, 2):  # after every job of round r - 1, before every job of round r
        assert min(priority[j] for j in order if j.round == r - 1) > points[r]
        assert points[r] > max(priority[j] for j in order if j.round == r)
    assert points[3] < min(priority.values())


def reference_cell(trial_1, trial_2, overhead=4.0):
    return plan.ReferenceCell(sizes={"docs_per_core": 10, "words_per_doc": 10_000},
                              trial_s={1: trial_1, 2: trial_2}, overhead_s={1: overhead, 2: overhead})


def test_trial_time_grows_linearly_with_cores_under_weak_scaling():
    serial = reference_cell(1.4, 2.9)  # twice the work on twice the cores, run serially
    assert serial.trial_at(1) == 1.4 and serial.trial_at(2) == 2.9
    assert serial.trial_at(48) == pytest.approx(2.9 + 1.5 * 46)
    flat = reference_cell(1.6, 1.5)  # an ideal parallel backend: never extrapolated below its last value
    assert flat.trial_at(48) == 1.5


def test_estimate_sums_overhead_and_passes_per_round_and_scales_by_preset():
    ref = {("stateful", "serial"): reference_cell(1.0, 2.0, overhead=3.0)}
    order = plan.job_order([CellKey("stateful", "serial", 4)], rounds=2, seed=1)
    paper = {"stateful": {"docs_per_core": 10, "words_per_doc": 10_000}}
    est = plan.estimate(order, paper, trials=2, warmups=None, reference=ref)
    assert est.total_s == pytest.approx(2 * (3.0 + 2 * 4.0))  # 2 rounds x (overhead + 2 trials of 4 s)
    quarter = {"stateful": {"docs_per_core": 5, "words_per_doc": 5_000}}
    assert plan.estimate(order, quarter, 2, None, ref).total_s == pytest.approx(2 * (3.0 + 2 * 1.0))
    missing = plan.estimate(plan.job_order([CellKey("numerical", "ray", 1)], 1, 1), paper, 2, None, ref)
    assert missing.unknown == ("numerical/ray",) and missing.total_s == 0
    with_primitives = plan.estimate(order, paper, 2, None, ref, calibration_points=0, primitives_s=50.0)
    assert with_primitives.total_s == pytest.approx(est.total_s + 50.0)


def test_a_primitives_round_takes_the_reference_runs_seconds_per_round(tmp_path):
    path = tmp_path / "primitives.json"
    path.write_text(json.dumps({"preset": "paper", "seconds": 300.0, "rounds": [{}, {}, {}]}))
    assert plan.reference_primitives_round_s(path, "paper") == 100.0
    assert plan.reference_primitives_round_s(path, "smoke") == 0.0  # another preset: unknown
    path.write_text(json.dumps({"preset": "paper", "seconds": 135.0}))  # one round, before rounds existed
    assert plan.reference_primitives_round_s(path, "paper") == 135.0
    # a run of fewer workloads skips their groups
    groups = {"transport (Pool, executor)": 1.0, "numerical": 10.0, "stateful": 30.0,
              "expensive_init (TensorFlow)": 40.0, "transport (pipes)": 5.0, "ray": 44.0}
    path.write_text(json.dumps({"preset": "paper", "seconds": 130.0, "group_seconds": groups}))
    assert plan.reference_primitives_round_s(path, "paper", ["numerical"]) == 60.0
    assert plan.reference_primitives_round_s(path, "paper", ["numerical", "stateful", "expensive_init"]) == 130.0
    # a merged record: seconds and group seconds summed over its two rounds
    doubled = {g: 2 * s for g, s in groups.items()}
    path.write_text(json.dumps({"preset": "paper", "seconds": 260.0, "group_seconds": doubled, "rounds": [{}, {}]}))
    assert plan.reference_primitives_round_s(path, "paper", ["numerical"]) == 60.0
    assert plan.reference_primitives_round_s(tmp_path / "none.json", "paper") == 0.0


def test_the_reference_records_give_an_estimate_for_every_default_cell():
    reference = plan.load_reference((ROOT / "paper" / "reference" / "raw").glob("*/*/*/round*.json"))
    for workload in ("numerical", "stateful", "expensive_init"):
        for backend in ("serial", "multiprocessing", "ray", "multiprocessing_tuned"):
            cell = reference[(workload, backend)]
            assert set(cell.trial_s) >= {1, 2} and cell.trial_at(48) > 0


def test_durations_by_machine_size_plan_auto_and_shorter_lists_from_the_reference():
    import yaml

    from parbench.presets import get_preset

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sizes = {w: vars(get_preset(config["preset"]).sizes(w)) for w in config["workloads"]}
    records = sorted((ROOT / "paper" / "reference" / "raw").glob("*/*/*/round*.json"))
    rows = plan.default_run_durations(config, sizes, records, [(2, "auto"), (48, "auto"), (48, (1, 8, 48))])
    workloads = plan.cell_workloads(config["workloads"], plan.document_generations(config))
    assert workloads == ["numerical", "stateful", "stateful_per_document", "expensive_init"]
    cells = len(workloads) * len(config["backends"]) * config["rounds"]
    assert [r["cores"] for r in rows] == [[1, 2], [1, 2, 4, 8, 16, 24, 32, 48], [1, 8, 48]]
    assert [r["cell_rounds"] for r in rows] == [2 * cells, 8 * cells, 3 * cells]
    assert rows[0]["seconds"] < rows[2]["seconds"] < rows[1]["seconds"]  # weak scaling: more cores, more work
    assert all(not r["unknown"] for r in rows)


def test_progress_line_counts_records_on_disk(tmp_path):
    order = [Job(CellKey("numerical", "serial", c), 0) for c in (1, 2)]
    est = plan.Estimate(70.0, {"numerical": 70.0}, {order[0]: 10.0, order[1]: 60.0}, ())
    plan.write_plan(tmp_path / "plan.json", order, est, "raw/{workload}/{backend}/{cores}/round{round}.json")
    assert json.loads((tmp_path / "plan.json").read_text())["jobs"][1]["estimate_s"] == 60.0
    (tmp_path / "raw/numerical/serial/1").mkdir(parents=True)
    (tmp_path / "raw/numerical/serial/1/round0.json").write_text("{}")
    line = plan.progress_line(tmp_path / "plan.json", root=tmp_path)
    assert line == "parbench: 1 of 2 cell rounds done, 1 left, about 60 s left"
    assert plan.progress_line(tmp_path / "absent.json") is None


def test_the_estimate_error_line_compares_the_start_up_estimate_with_the_measured_run(tmp_path):
    order = [Job(CellKey("numerical", "serial", 1), 0)]
    est = plan.Estimate(600.0, {"numerical": 600.0}, {order[0]: 600.0}, ())
    plan.write_plan(tmp_path / "plan.json", order, est, "raw/{workload}/{backend}/{cores}/round{round}.json",
                    started_at=1000.0)
    # a run that timed no cell (reference_report): the estimate was for cells, so no line
    assert plan.estimate_error_line(tmp_path / "plan.json", finished_at=1480.0, root=tmp_path) is None
    record = tmp_path / "raw" / "numerical" / "serial" / "1" / "round0.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"trials": [{"seconds": 1.0}]}))  # written now, after the plan's start
    # 8 min measured against a 10 min estimate: the estimate was 25% too long
    assert plan.estimate_error_line(tmp_path / "plan.json", finished_at=1480.0, root=tmp_path) == (
        "parbench: run took 8 min; the start-up estimate was 10 min "
        "(error +25%, estimate minus measured over measured)")
    assert "error -50%" in plan.estimate_error_line(tmp_path / "plan.json", finished_at=2200.0, root=tmp_path)
    # without a start time (a plan file from before this change) or a plan file, no line
    (tmp_path / "old.json").write_text(json.dumps({"jobs": []}))
    assert plan.estimate_error_line(tmp_path / "old.json") is None
    assert plan.estimate_error_line(tmp_path / "absent.json") is None


def test_the_plan_file_records_when_the_run_started(tmp_path):
    order = [Job(CellKey("numerical", "serial", 1), 0)]
    est = plan.Estimate(5.0, {"numerical": 5.0}, {order[0]: 5.0}, ())
    before = time.time()
    plan.write_plan(tmp_path / "plan.json", order, est, "raw/{workload}/{backend}/{cores}/round{round}.json")
    written = json.loads((tmp_path / "plan.json").read_text())
    assert before <= written["started_at"] <= time.time()
    assert written["estimate_s"] == 5.0


def test_the_oversubscribed_check_runs_b1_and_b2_above_the_machines_cores_only():
    cells = plan.plan_oversubscribed(["numerical", "stateful", "expensive_init"],
                                     ["serial", "ray", "dask"], Machine(2))
    assert {(c.workload, c.backend) for c in cells} == {(w, b) for w in ("numerical", "stateful")
                                                        for b in ("serial", "ray")}
    assert sorted({c.cores for c in cells}) == [4, 8, 16]
    assert {c.cores for c in plan.plan_oversubscribed(["numerical"], ["serial"], Machine(8))} == {16}
    assert plan.plan_oversubscribed(["numerical"], ["serial"], Machine(16)) == []


def test_a_calibration_point_is_estimated_from_its_configured_work():
    assert plan.calibration_point_seconds() == pytest.approx(7.0)  # the default: 5 x (0.5 s + 0.5 s) + 2 s
    assert plan.calibration_point_seconds({"calibration_seconds": 0.2, "calibration_repeats": 3}) == pytest.approx(3.2)
    order = [Job(CellKey("numerical", "serial", 1), 0)]
    none = plan.estimate(order, {}, 2, None, {}, calibration_points=6)
    smoke = plan.estimate(order, {}, 2, None, {}, calibration_points=6, calibration_point_s=3.2)
    assert none.total_s == pytest.approx(42.0) and smoke.total_s == pytest.approx(19.2)


def test_primitives_rounds_default_to_one_per_cell_round_and_never_exceed_them():
    assert plan.primitives_rounds({"rounds": 3}) == 3
    assert plan.primitives_rounds({"rounds": 3, "primitives_rounds": None}) == 3
    assert plan.primitives_rounds({"rounds": 3, "primitives_rounds": 1}) == 1
    with pytest.raises(plan.PlanError, match=r"primitives_rounds is 4.*between 1 and rounds \(3\)"):
        plan.primitives_rounds({"rounds": 3, "primitives_rounds": 4})


def test_b2_is_planned_once_per_document_generation_and_its_variant_for_four_backends():
    machine = plan.Machine(2, None)
    assert plan.document_generations({"document_generation": "per-word"}) == ["per-word"]
    assert plan.cell_workloads(["stateful", "numerical"], ["per-document"]) == ["numerical", "stateful_per_document"]
    assert plan.cell_workloads(["numerical"], ["per-word", "per-document"]) == ["numerical"]
    cells = plan.plan_cells(["stateful", "stateful_per_document"], ["serial", "ray", "joblib", "multiprocessing_tuned"],
                            [1, 2], machine)
    variant = {c.backend for c in cells if c.workload == "stateful_per_document"}
    assert variant == {"serial", "ray", "multiprocessing_tuned"}
    assert {c.backend for c in cells if c.workload == "stateful"} == {
        "serial", "ray", "joblib", "multiprocessing_tuned"}


def test_the_trial_share_line_counts_only_this_runs_records(tmp_path):
    import os

    order = [Job(CellKey("numerical", "serial", 1), 0), Job(CellKey("numerical", "ray", 1), 0)]
    est = plan.Estimate(60.0, {"numerical": 60.0}, {j: 30.0 for j in order}, ())
    pattern = "raw/{workload}/{backend}/{cores}/round{round}.json"
    plan.write_plan(tmp_path / "plan.json", order, est, pattern, started_at=1000.0)
    for job, seconds, mtime in ((order[0], [10.0, 14.0], 1010.0), (order[1], [99.0], 900.0)):
        path = tmp_path / pattern.format(workload=job.cell.workload, backend=job.cell.backend,
                                         cores=job.cell.cores, round=job.round)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"trials": [{"seconds": s} for s in seconds]}))
        os.utime(path, (mtime, mtime))  # the ray record predates the run: an earlier run timed it
    line = plan.trial_share_line(tmp_path / "plan.json", tmp_path, finished_at=1040.0)
    assert line.startswith("parbench: 60% of the run's wall time was inside timed trials (24 s of 40 s, 1 cell rounds")
    assert plan.trial_share_line(tmp_path / "absent.json", tmp_path) is None
    assert plan.trial_share_line(tmp_path / "plan.json", tmp_path / "elsewhere", finished_at=1040.0) is None
