"""The record a cell run writes: typed dataclasses, JSON in and out, atomic writes.

A record is the only thing downstream stages read. It carries the timings together with
everything needed to interpret them (protocol, environment, work done, digest), in the spirit of
pyperf, where every value travels with its metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 3  # 2: the `ray` field became `backend_facts`; 3: rounds, before-trial times, load, oversubscription
# A cell whose backend cannot run its workload at all (e.g. no TensorFlow on the free-threaded
# interpreter): no timings, the reason in `error`; never a failure and never a gap.
NOT_APPLICABLE = "not_applicable"


@dataclass
class Trial:
    index: int
    seconds: float
    work_done: int  # convolutions, documents or predictions actually performed in this trial
    digest: str  # hash of the trial's result; identical across backends for identical inputs


@dataclass
class Protocol:
    """What the timed region holds for this (workload, backend), in words and numbers."""

    timed_region: str
    setup_region: str
    warmups: int
    warmup_policy: str  # "original" (the post's per-backend choice) or "override"
    start_method: str | None
    worker_threads: int  # BLAS/OpenMP/TF threads in each worker process (or in the driver for serial)
    pinning: str
    notes: list[str] = field(default_factory=list)
    before_trial: str = "nothing"  # the untimed step right before each pass (timed apart and recorded)
    variant: str = "original"  # "original" or "alternative" (the backend's alternative_protocol, in notes)


@dataclass
class Memory:
    peak_tree_rss_bytes: int  # summed RSS of the driver and every descendant (shared pages counted per process)
    peak_shm_used_bytes: int  # growth of /dev/shm use over the run (Ray object store, heap arenas, memmaps)
    sample_interval_s: float
    samples: int


@dataclass
class Record:
    workload: str
    backend: str
    cores: int
    preset: str
    sizes: dict[str, int]
    status: str  # "ok", "failed" or NOT_APPLICABLE
    error: str | None
    protocol: Protocol
    setup_seconds: float | None
    teardown_seconds: float | None
    warmup_seconds: list[float]
    before_trial_seconds: list[float]  # the untimed step before each warm-up and trial (e.g. fresh actors)
    trials: list[Trial]
    work_expected: int  # work per trial the original workload defines for N cores
    memory: Memory | None
    pinned_cpus: list[int]
    process_tree: dict[str, Any]  # processes seen and the union of their CPU affinities
    backend_facts: dict[str, Any] | None  # from backend.diagnostics(): Ray's store and nodes, joblib's folder
    machine: dict[str, Any]
    software: dict[str, Any]
    config_hash: str
    machine_hash: str
    started_at: str
    finished_at: str
    round: int = 0  # which fresh-process measurement of this cell (rounds are interleaved across cells)
    # Busy fraction of each pinned CPU while the driver slept before setup: load that was not the cell's.
    foreign_load_before: dict[str, float] | None = None
    # Functional test mode: N workers on fewer CPUs than N. Never a timing; aggregation refuses it.
    oversubscribed: bool = False
    # Passes under the backend's other protocol, timed after the trials: {protocol, seconds, before_trial_seconds}.
    comparison: dict[str, Any] | None = None
    # Where a round's wall time goes beyond the timed steps (absent in older records, which still load):
    # the process's own start-up, from the interpreter's start to the harness's (imports included),
    # and the harness's time from its start to the record being complete.
    startup_seconds: float | None = None
    harness_seconds: float | None = None
    # What the workload reports about the cell's own inputs (stateful: document generation and its seconds).
    workload_facts: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        data = dict(data)
        data["trials"] = [Trial(**t) for t in data.get("trials", [])]
        if data.get("protocol") is not None:
            data["protocol"] = Protocol(**data["protocol"])
        if data.get("memory") is not None:
            data["memory"] = Memory(**data["memory"])
        return cls(**data)


class RecordError(ValueError):
    """A record file that is missing, truncated, corrupted or of another schema."""


def config_hash(**fields: Any) -> str:
    """Hash of everything that defines a cell's inputs, so aggregation can refuse mixtures."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: never a half record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: str | os.PathLike) -> Record:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path}: record missing; rerun the pipeline to produce it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(
            f"{path}: not valid JSON ({exc}); the file is truncated or corrupted — delete it and "
            f"rerun `snakemake --cores all` to measure that cell again"
        ) from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise RecordError(
            f"{path}: not a parbench record of schema {SCHEMA_VERSION}; delete it and rerun that cell"
        )
    try:
        return Record.from_dict(data)
    except TypeError as exc:
        raise RecordError(f"{path}: record has missing or unknown fields ({exc}); delete it and rerun") from None
