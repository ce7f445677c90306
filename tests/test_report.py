"""The report's warnings come from the records: each condition, synthetic and one at a time."""

import numpy as np
import pandas as pd

from parbench.report import _warnings

COLUMNS = ["workload", "backend", "cores", "status", "error", "work_done", "work_expected", "work_complete",
           "digest", "digest_agrees", "object_store_in_shm", "spilled_bytes", "cv", "n"]


def cell(**changes):
    row = dict(workload="stateful", backend="ray", cores=2, status="ok", error="", work_done=20, work_expected=20,
               work_complete=True, digest="abc", digest_agrees=True, object_store_in_shm=True, spilled_bytes=0,
               cv=0.02, n=5)
    row.update(changes)
    return row


def warnings_for(*rows, calibration=None):
    cal = calibration if calibration is not None else pd.DataFrame(columns=["cores", "ceiling", "efficiency"])
    return _warnings(pd.DataFrame(list(rows), columns=COLUMNS), cal)


def test_a_clean_cell_gives_no_warning():
    assert warnings_for(cell()) == []


def test_each_condition_is_flagged():
    assert "failed cell" in warnings_for(cell(status="failed", error="Boom: x"))[0]
    four_slots = warnings_for(cell(backend="multiprocessing", cores=8, work_done=40, work_expected=80,
                                   work_complete=False))[0]
    assert "work done differs" in four_slots and "4 state slots" in four_slots
    assert "digest differs" in warnings_for(cell(digest_agrees=False))[0]
    assert "not in /dev/shm" in warnings_for(cell(object_store_in_shm=False))[0]
    assert "spilled" in warnings_for(cell(spilled_bytes=3 * 2**20))[0]
    assert "noisy cell" in warnings_for(cell(cv=0.25))[0]
    low = pd.DataFrame([[2, 1.2, 0.6]], columns=["cores", "ceiling", "efficiency"])
    assert "ceiling far below N" in warnings_for(cell(), calibration=low)[0]


def test_not_applicable_values_are_not_warnings():
    # serial cells have no Ray store and no reference digest: NaN, not False
    assert warnings_for(cell(backend="serial", object_store_in_shm=np.nan, spilled_bytes=np.nan,
                             digest_agrees=np.nan)) == []


def test_shared_memory_outside_dev_shm_is_flagged_with_the_flag_that_avoids_it():
    from parbench.report import SHM_SIZE_FLAG, shm_affected_cells

    columns = [*COLUMNS, "shm_fallback"]
    rows = [cell(backend="mpire", workload="numerical", object_store_in_shm=np.nan,
                 shm_fallback="its shared array was a file in /tmp/pymp-x (overlay), not in /dev/shm"),
            cell(object_store_in_shm=False, shm_fallback="Ray's object store was on disk"),
            cell(backend="serial", object_store_in_shm=np.nan, shm_fallback=np.nan),  # CSV's empty cell
            cell(backend="joblib", status="failed", error="Boom", object_store_in_shm=np.nan,
                 shm_fallback="joblib memmapped its arrays into /tmp")]
    summary = pd.DataFrame(rows, columns=columns)
    warnings = _warnings(summary, pd.DataFrame(columns=["cores", "ceiling", "efficiency"]))
    mpire = [w for w in warnings if "stateful/mpire" in w or "numerical/mpire" in w]
    assert len(mpire) == 1 and "/tmp/pymp-x" in mpire[0] and SHM_SIZE_FLAG in mpire[0]
    ray = [w for w in warnings if "/ray/" in w]
    assert len(ray) == 1 and "Ray object store not in /dev/shm" in ray[0]  # one warning, not two
    # the report's header lists the cells that ran; a failed cell is reported as failed instead
    assert shm_affected_cells(summary) == ["numerical/mpire/2", "stateful/ray/2"]
    assert SHM_SIZE_FLAG == "--shm-size=3g"


def test_dev_shm_fallback_reads_each_librarys_facts():
    from parbench.analysis.aggregate import dev_shm_fallback

    assert dev_shm_fallback(None) == ""
    assert dev_shm_fallback({"object_store_in_shm": True}) == ""
    assert "Ray's object store was on disk" in dev_shm_fallback({"object_store_in_shm": False})
    joblib_tmp = {"memmap_folder": "/tmp", "memmap_in_dev_shm": False, "memmap_folder_created": True,
                  "joblib_temp_folder_env": None}
    assert "/tmp" in dev_shm_fallback(joblib_tmp)
    # a folder the user chose, or one joblib never wrote to, is not a fallback
    assert dev_shm_fallback(joblib_tmp | {"joblib_temp_folder_env": "/scratch"}) == ""
    assert dev_shm_fallback(joblib_tmp | {"memmap_folder_created": False}) == ""
    arena_on_disk = {"shared_memory": {"kind": "file mapping on overlay mounted at /", "in_dev_shm": False,
                                       "folder": "/tmp/pymp-x", "filesystem": "overlay"}}
    assert "/tmp/pymp-x (overlay)" in dev_shm_fallback(arena_on_disk)
    anonymous = {"shared_memory": {"kind": "anonymous shared mapping (MAP_SHARED|MAP_ANONYMOUS, kernel shmem)",
                                   "in_dev_shm": False}}
    assert dev_shm_fallback(anonymous) == ""
    in_shm = {"shared_memory": {"kind": "file mapping on tmpfs mounted at /dev/shm", "in_dev_shm": True}}
    assert dev_shm_fallback(in_shm) == ""


def test_round_overhead_splits_the_wall_time_and_counts_older_records_apart():
    from dataclasses import replace

    from parbench.records import Trial
    from parbench.report import _round_overhead
    from test_records import make_record

    # start-up 1.0 + harness 3.0 = 4.0 s of wall; trials 2 x 0.5 s; setup 0.4, warm-up 0.2 + before 0.1, teardown 0.1.
    new = make_record(backend="ray", startup_seconds=1.0, harness_seconds=3.0, setup_seconds=0.4,
                      teardown_seconds=0.1, warmup_seconds=[0.2], before_trial_seconds=[0.1],
                      trials=[Trial(0, 0.5, 1, "a"), Trial(1, 0.5, 1, "a")])
    older = make_record(backend="ray")  # no start-up or harness seconds
    failed = replace(new, status="failed")
    serial_old = make_record()
    rows = {r["backend"]: r for r in _round_overhead([older, new, failed, serial_old])}
    assert list(rows) == ["serial", "ray"]  # the catalog's order
    ray = rows["ray"]
    assert ray["rounds"] == 1 and ray["older"] == 1
    assert (ray["startup"], ray["setup"], ray["warmups"], ray["trials"], ray["teardown"]) == \
        ("1.00", "0.40", "0.30", "1.00", "0.10")
    assert ray["other"] == "1.20" and ray["wall"] == "4.00" and ray["share"] == "25%"
    assert rows["serial"] == {"backend": "serial", "rounds": 0, "older": 1}
