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
