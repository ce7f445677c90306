"""The primitives stage: runs at the smoke preset (without Ray and TensorFlow here: seconds; the
smoke DAG runs the whole stage), writes every sample, and its record reads back or fails clearly."""

import json

import pytest

from conftest import ROOT, parbench
from parbench.primitives import (
    KIND,
    PrimitivesError,
    PrimitiveSet,
    key_of,
    measure_primitives,
    merge_records,
    write_record,
)


@pytest.fixture(scope="module")
def smoke_record():
    return measure_primitives("smoke", repeats=3, chains=2, include_ray=False, include_tensorflow=False,
                              log=lambda m: None)


def test_smoke_stage_measures_every_term_of_b1_and_b2(smoke_record):
    keys = {p["key"] for p in smoke_record["primitives"]}
    docs = smoke_record["sizes"]["stateful"]["docs_per_core"]
    expected = {
        "numerical.convolve", "numerical.dumps_task", "numerical.loads_task", "numerical.dumps_result",
        "numerical.loads_result", "numerical.shm_copy_image", "numerical.pool_image_round_trip",
        "stateful.generate_document", "stateful.generate_document_block", "stateful.dumps_document",
        "stateful.loads_document",
        "transport.pool_round_trip", "transport.pool_per_task", "transport.executor_round_trip",
        "transport.executor_per_task",
        *(key_of("stateful.count_document", {"k": k}) for k in range(docs)),
        *(key_of(f"stateful.{op}_state", {"k": k}) for k in range(1, docs + 1) for op in ("dumps", "loads")),
    }
    assert expected <= keys
    assert not any(k.startswith(("ray.", "expensive_init.")) for k in keys)
    assert smoke_record["skipped"] == {"tensorflow": "not measured (include_tensorflow=False)",
                                       "ray": "not measured (include_ray=False)"}


def test_every_sample_is_kept_and_summarised(smoke_record):
    for p in smoke_record["primitives"]:
        assert len(p["samples"]) == p["n"] >= 2, p["key"]
        assert all(s >= 0 for s in p["samples"]), p["key"]
        assert min(p["samples"]) <= p["median_s"] <= max(p["samples"]), p["key"]
        assert p["where"] in ("driver", "worker", "driver+worker", "fixed")
    counts = [p for p in smoke_record["primitives"] if p["name"] == "stateful.count_document"]
    assert all(len(p["samples"]) == 2 for p in counts)  # one sample per chain


def test_pipes_are_timed_at_every_payload_size_the_model_needs(smoke_record):
    facts = smoke_record["facts"]
    pipes = {p["param"]["bytes"] for p in smoke_record["primitives"] if p["name"] == "transport.pipe_same_core"}
    sizes = smoke_record["sizes"]["numerical"]
    assert facts["numerical.task_bytes"] > sizes["image_side"] ** 2 * 8  # the image travels in the task
    assert {facts["numerical.task_bytes"], facts["numerical.result_bytes"], facts["stateful.document_bytes"]} <= pipes
    states = [facts["stateful.state_bytes"][str(k)] for k in range(len(facts["stateful.state_bytes"]))]
    assert states == sorted(states)  # the state grows with every document


def test_record_facts_describe_the_machine_and_the_run(smoke_record):
    assert smoke_record["kind"] == KIND and smoke_record["preset"] == "smoke"
    assert smoke_record["machine_hash"] and smoke_record["machine"]["cpu_model"]
    assert smoke_record["software"]["python"]
    assert smoke_record["seconds"] > 0 and set(smoke_record["group_seconds"]) >= {"numerical", "stateful"}
    prims = PrimitiveSet.from_record(json.loads(json.dumps(smoke_record)))  # survives JSON
    assert prims.means()["numerical.convolve"] > 0


def test_unreadable_records_fail_with_one_sentence(tmp_path):
    with pytest.raises(PrimitivesError, match="parbench primitives"):
        PrimitiveSet.load(tmp_path / "missing.json")
    (tmp_path / "cell.json").write_text(json.dumps({"workload": "numerical"}))
    with pytest.raises(PrimitivesError, match="not a primitives record"):
        PrimitiveSet.load(tmp_path / "cell.json")
    (tmp_path / "broken.json").write_text(json.dumps({"kind": KIND, "primitives": [{"key": "x"}]}))
    with pytest.raises(PrimitivesError, match="malformed"):
        PrimitiveSet.load(tmp_path / "broken.json")


def test_cli_rejects_bad_input_with_a_message(tmp_path):
    bad = parbench("primitives", "--preset", "huge", "--out", tmp_path / "p.json")
    assert bad.returncode == 2 and "unknown preset 'huge'" in bad.stderr
    no_model = parbench("primitives", "--preset", "smoke", "--resources", tmp_path, "--out", tmp_path / "p.json")
    assert no_model.returncode == 2 and "parbench prepare" in no_model.stderr
    model = parbench("model", "--primitives", tmp_path / "none.json", "--tables", tmp_path, "--out-dir", tmp_path)
    assert model.returncode == 2 and "parbench primitives" in model.stderr and "Traceback" not in model.stderr


def test_a_failing_group_is_recorded_and_the_stage_goes_on(monkeypatch):
    import parbench.primitives.stage as stage

    def boom(*args):
        raise RuntimeError("/dev/shm is too small")

    monkeypatch.setattr(stage, "measure_numerical", boom)
    record = measure_primitives("smoke", repeats=3, include_ray=False, include_tensorflow=False,
                                workloads=("numerical",), log=lambda m: None)
    assert record["skipped"]["numerical"] == "failed: RuntimeError: /dev/shm is too small"
    keys = {p["key"] for p in record["primitives"]}
    assert "transport.pool_round_trip" in keys and not any(k.startswith("numerical.") for k in keys)


def test_rounds_merge_into_one_record_with_every_sample(smoke_record, tmp_path):
    second = json.loads(json.dumps(smoke_record))
    second["round"], second["started_at"] = 1, "2099-01-01T00:00:00+00:00"
    for p in second["primitives"]:
        p["samples"] = [2 * x for x in p["samples"]]
    merged = merge_records([smoke_record, second], ["round0.json", "round1.json"])
    assert [r["round"] for r in merged["rounds"]] == [0, 1] and merged["repeats"] == 2 * smoke_record["repeats"]
    for name, seconds in smoke_record["group_seconds"].items():  # summed over the rounds, like `seconds`
        assert merged["group_seconds"][name] == pytest.approx(2 * seconds, abs=0.002)
    assert merged["started_at"] == smoke_record["started_at"]
    pooled = {p["key"]: p for p in merged["primitives"]}
    for p in smoke_record["primitives"]:
        assert pooled[p["key"]]["samples"] == p["samples"] + [2 * x for x in p["samples"]]
        assert pooled[p["key"]]["n"] == 2 * len(p["samples"])
    # the model reads the pooled mean: 1.5 x the first round's
    convolve = PrimitiveSet.from_record(merged).means()["numerical.convolve"]
    assert convolve == pytest.approx(1.5 * PrimitiveSet.from_record(smoke_record).means()["numerical.convolve"])

    # the CLI does the same, and refuses rounds of another machine with one sentence
    for i, rec in enumerate((smoke_record, second)):
        write_record(rec, tmp_path / f"round{i}.json")
    ok = parbench("primitives", "--merge", tmp_path / "round0.json", tmp_path / "round1.json",
                  "--out", tmp_path / "merged.json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "merged.json").read_text())["primitives"] == merged["primitives"]
    second["machine_hash"] = "another machine"
    write_record(second, tmp_path / "round1.json")
    bad = parbench("primitives", "--merge", tmp_path / "round0.json", tmp_path / "round1.json",
                   "--out", tmp_path / "merged.json")
    assert bad.returncode == 2 and "machine_hash differs" in bad.stderr and "Traceback" not in bad.stderr
    second["machine_hash"] = smoke_record["machine_hash"]
    del second["primitives"]
    write_record(second, tmp_path / "round1.json")
    bad = parbench("primitives", "--merge", tmp_path / "round0.json", tmp_path / "round1.json",
                   "--out", tmp_path / "merged.json")
    assert bad.returncode == 2 and "round1.json: malformed" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "round1.json").write_text("{not json")
    bad = parbench("primitives", "--merge", tmp_path / "round0.json", tmp_path / "round1.json",
                   "--out", tmp_path / "merged.json")
    assert bad.returncode == 2 and "measure it again" in bad.stderr and "Traceback" not in bad.stderr


def test_the_primitives_import_nothing_from_the_analysis_layer_above_them():
    import ast

    files = sorted((ROOT / "src" / "parbench" / "primitives").glob("*.py"))
    assert {f.stem for f in files} >= {"__init__", "core", "stage", "numerical", "stateful", "expensive_init"}
    for path in files:
        tree = ast.parse(path.read_text())
        modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in modules if "analysis" in m], path.name
