"""Records: atomic writes, clear errors for damaged files, no silent mixing."""

import json
import os
from dataclasses import replace

import pytest

from parbench.analysis.aggregate import MixedRecordsError, load_records
from parbench.records import Protocol, Record, RecordError, Trial, read_record, write_atomic


def make_record(**changes):
    rec = Record(
        workload="numerical", backend="serial", cores=1, preset="smoke", sizes={"image_side": 300},
        status="ok", error=None,
        protocol=Protocol("t", "s", 0, "original", None, 1, "pinned"), setup_seconds=0.0,
        teardown_seconds=0.0, warmup_seconds=[], before_trial_seconds=[], trials=[Trial(0, 0.1, 1, "abc")],
        work_expected=1,
        memory=None, pinned_cpus=[0], process_tree={}, backend_facts=None, machine={}, software={},
        config_hash="c1", machine_hash="m1", started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
    )
    return replace(rec, **changes)


def test_round_trip(tmp_path):
    path = tmp_path / "r.json"
    write_atomic(path, make_record().to_json())
    assert read_record(path) == make_record()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_truncated_record_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(make_record().to_json()[:200])
    with pytest.raises(RecordError, match=r"r\.json: not valid JSON.*truncated or corrupted.*rerun"):
        read_record(path)


def test_foreign_json_is_rejected(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(RecordError, match="not a parbench record"):
        read_record(path)


def test_mixed_configurations_are_refused_and_named(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_atomic(a, make_record().to_json())
    write_atomic(b, make_record(backend="ray", config_hash="c2").to_json())
    with pytest.raises(MixedRecordsError, match=r"2 different configurations.*b\.json"):
        load_records([a, b])
    assert len(load_records([a, b], allow_mixed=True)) == 2
    write_atomic(b, make_record(backend="ray", machine_hash="m2").to_json())
    with pytest.raises(MixedRecordsError, match="different machines"):
        load_records([a, b])


def test_oversubscribed_records_are_always_refused(tmp_path):
    path = tmp_path / "o.json"
    write_atomic(path, make_record(oversubscribed=True).to_json())
    with pytest.raises(MixedRecordsError, match="oversubscribed.*not a timing"):
        load_records([path], allow_mixed=True)


def test_a_record_written_before_startup_and_harness_seconds_still_loads(tmp_path):
    data = json.loads(make_record().to_json())
    del data["startup_seconds"], data["harness_seconds"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    rec = read_record(path)
    assert rec.startup_seconds is None and rec.harness_seconds is None and rec.trials == make_record().trials
