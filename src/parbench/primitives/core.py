"""The primitives record's machinery: one primitive's samples, the recorder that times them, the
record's summary, merging the rounds and reading a record back for the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
KIND = "parbench-primitives"
WHERE = ("driver", "worker", "driver+worker", "fixed")
DEFAULT_REPEATS = 5  # per round; the pipeline's primitives_repeats has the same default
DEFAULT_CHAINS = 3  # stateful: independent chains of docs_per_core documents (samples per k)
SUBMIT_BATCH = 50  # items submitted to a blocked receiver per sample
# The stage's groups that only a run of that workload measures (the others always run).
WORKLOAD_GROUPS = {"numerical": "numerical", "stateful": "stateful", "expensive_init": "expensive_init (TensorFlow)"}
SEED = 2019


class PrimitivesError(ValueError):
    """A primitives record is missing, unreadable or lacks a primitive the caller needs."""


def key_of(name: str, param: dict[str, int] | None = None) -> str:
    """`name` or `name[k=3]`: the one string that names a primitive (and its parameter)."""
    if not param:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in sorted(param.items())) + "]"


@dataclass
class Primitive:
    name: str
    where: str  # driver | worker | driver+worker (both ends on one core) | fixed (once per trial)
    what: str
    samples: list[float]
    param: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return key_of(self.name, self.param)


class Recorder:
    """Collects primitives and facts (payload sizes) while the stage runs."""

    def __init__(self, repeats: int, log: Callable[[str], None]):
        self.repeats = repeats
        self.log = log
        self.primitives: dict[str, Primitive] = {}
        self.facts: dict[str, Any] = {}

    def add(self, name: str, samples: Iterable[float], where: str, what: str, **param: int) -> list[float]:
        assert where in WHERE, where
        values = [float(s) for s in samples]
        key = key_of(name, param)
        prim = self.primitives.setdefault(key, Primitive(name, where, what, [], dict(param)))
        prim.samples.extend(values)
        ordered = sorted(prim.samples)
        self.log(f"  {key:48s} {ordered[len(ordered) // 2] * 1e3:10.3f} ms  ({where}, n={len(ordered)})")
        return values

    def time(self, name: str, fn: Callable[[], Any], where: str, what: str, repeats: int | None = None,
             warmups: int = 1, **param: int) -> list[float]:
        """`repeats` timed calls of fn after `warmups` untimed ones."""
        for _ in range(warmups):
            fn()
        samples = []
        for _ in range(repeats or self.repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return self.add(name, samples, where, what, **param)

    def time_pickling(self, obj: Any, dumps: tuple[str, str, str], loads: tuple[str, str, str]) -> int:
        """Times pickling obj as multiprocessing does (ForkingPickler) and unpickling it; `dumps` and
        `loads` are (name, where, what). Returns the pickle's size in bytes (the pipe's payload)."""
        import pickle
        from multiprocessing.reduction import ForkingPickler

        payload = bytes(ForkingPickler.dumps(obj))
        self.time(dumps[0], lambda: ForkingPickler.dumps(obj), dumps[1], dumps[2])
        self.time(loads[0], lambda: pickle.loads(payload), loads[1], loads[2])
        return len(payload)


def summarise(prim: Primitive) -> dict:
    from ..stats import median_estimate

    est = median_estimate(prim.samples)
    return {"key": prim.key, "name": prim.name, "param": prim.param, "where": prim.where, "what": prim.what,
            "n": len(prim.samples), "mean_s": sum(prim.samples) / len(prim.samples), "median_s": est.value,
            "ci_low_s": est.ci_low, "ci_high_s": est.ci_high,
            "ci_method": est.method, "samples": prim.samples}


# Must agree between the rounds of one run before their samples may be pooled.
MERGE_KEYS = ("kind", "schema_version", "preset", "sizes", "cpus", "threads", "machine_hash")


def merge_records(records: list[dict], sources: list[str]) -> dict:
    """The rounds of one run's primitives stage as one record: every sample of every round pooled
    (the rounds are spread over the run like the cells' rounds, so that the model's inputs see the
    machine in the states the cells saw), with each round's start, end and skipped groups kept."""
    if not records:
        raise PrimitivesError("no primitives rounds to merge")
    first, rounds = records[0], []
    for record, source in zip(records, sources):
        if record.get("kind") != KIND:
            raise PrimitivesError(f"{source}: not a primitives record; write one with `parbench primitives`")
        for key in MERGE_KEYS:
            if record.get(key) != first.get(key):
                raise PrimitivesError(f"{source}: its {key} differs from {sources[0]}'s, so their samples cannot "
                                      f"be pooled; measure every round again (delete results/primitives/)")
    pooled: dict[str, Primitive] = {}
    for record, source in zip(records, sources):
        try:
            rounds.append({"round": record.get("round", 0), "source": source, "started_at": record["started_at"],
                           "finished_at": record["finished_at"], "seconds": record["seconds"],
                           "group_seconds": dict(record.get("group_seconds", {})),
                           "repeats": record["repeats"], "skipped": record.get("skipped", {})})
            for p in record["primitives"]:
                prim = pooled.setdefault(p["key"], Primitive(p["name"], p["where"], p["what"], [], dict(p["param"])))
                prim.samples.extend(float(x) for x in p["samples"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PrimitivesError(f"{source}: malformed primitives record ({exc!r}); measure that round again "
                                  f"with `parbench primitives`") from None
    group_seconds: dict[str, float] = {}
    for r in rounds:  # like `seconds`: summed over the rounds
        for name, seconds in r["group_seconds"].items():
            group_seconds[name] = round(group_seconds.get(name, 0.0) + float(seconds), 3)
    facts: dict[str, Any] = {}
    for record in records:  # a fact a round could not measure (a failed group) comes from another
        facts = {**record.get("facts", {}), **facts}
    return {**{k: v for k, v in first.items() if k not in ("primitives", "facts", "round")},
            "repeats": sum(r["repeats"] for r in rounds),
            "skipped": {k: v for r in rounds for k, v in r["skipped"].items()},
            "started_at": min(r["started_at"] for r in rounds),
            "finished_at": max(r["finished_at"] for r in rounds),
            "seconds": round(sum(r["seconds"] for r in rounds), 3),
            "group_seconds": group_seconds,
            "rounds": rounds,
            "facts": facts,
            "primitives": [summarise(p) for p in pooled.values()]}


def write_record(record: dict, path: Path) -> None:
    from ..records import write_atomic

    write_atomic(path, json.dumps(record, indent=1, allow_nan=True))


# --------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class PrimitiveSet:
    """A primitives record as the model reads it: samples per key, facts, sizes, machine."""

    samples: dict[str, tuple[float, ...]]
    where: dict[str, str]
    facts: dict[str, Any]
    sizes: dict[str, dict[str, int]]
    preset: str
    machine: dict[str, Any]
    source: str = ""

    @classmethod
    def from_record(cls, record: dict, source: str = "") -> PrimitiveSet:
        if record.get("kind") != KIND:
            raise PrimitivesError(f"{source or 'record'}: not a primitives record (kind {record.get('kind')!r}); "
                                  f"write one with `parbench primitives --out ...`")
        try:
            samples = {p["key"]: tuple(float(s) for s in p["samples"]) for p in record["primitives"]}
            where = {p["key"]: p["where"] for p in record["primitives"]}
            return cls(samples, where, dict(record.get("facts", {})), dict(record["sizes"]), record["preset"],
                       dict(record.get("machine", {})), source)
        except (KeyError, TypeError, ValueError) as exc:
            raise PrimitivesError(f"{source or 'record'}: malformed primitives record ({exc!r}); "
                                  f"measure them again with `parbench primitives`") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> PrimitiveSet:
        try:
            record = json.loads(Path(path).read_text())
        except OSError as exc:
            raise PrimitivesError(f"{path}: cannot read the primitives ({exc.strerror}); run "
                                  f"`parbench primitives --out {path}` (the pipeline's `primitives` rule)") from None
        except ValueError as exc:
            raise PrimitivesError(f"{path}: not JSON ({exc}); delete it and measure again") from None
        return cls.from_record(record, str(path))

    def means(self) -> dict[str, float]:
        """What the model reads: each primitive's mean. A trial's time is a sum of many such calls,
        and a sum's typical value is count x mean; on a machine whose speed flips between modes (this
        VM: one predict takes 0.70 s or 1.35 s, in spells of seconds) the median picks one mode."""
        import numpy as np

        return {k: float(np.mean(v)) for k, v in self.samples.items() if v}

    def bootstrap_means(self, rng, resamples: int) -> list[dict[str, float]]:
        """`resamples` bootstrap draws: in each, every primitive's samples are resampled with
        replacement (independently of the others) and their mean taken."""
        import numpy as np

        draws: list[dict[str, float]] = [{} for _ in range(resamples)]
        for key, values in self.samples.items():
            if not values:
                continue
            arr = np.asarray(values)
            means = arr[rng.integers(0, len(arr), (resamples, len(arr)))].mean(axis=1)
            for draw, value in zip(draws, means):
                draw[key] = float(value)
        return draws
