"""What changed since 2019: the post's costs, each relative to a cost that did not change.

The post publishes only seconds per trial at 48 cores (paper/claims.yaml, `original_seconds`). Each
of them bounds some cost term of its timed region. Divided by a reference cost of the same workload
that software did not change (pure-Python counting for B2, the convolution for B1, one predict for
B3), a term becomes a machine-free ratio, comparable with the same ratio measured here from the
primitives. Their quotient is the term's drift: how much more (or less) it costs today, relative to
the work, than the post's own numbers allow.

Where the post's seconds give only a bound, the ratio and the drift are bounds too, and the row says
so ("at most", "at least"). Nothing here is typed but the structure of the post's timed regions; the
numbers come from claims.yaml, the preset's sizes and the primitives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from ..presets import get_preset
from ..primitives import PrimitiveSet

AT_MOST, AT_LEAST, ABOUT = "at most", "at least", "about"
_FLIP = {AT_MOST: AT_LEAST, AT_LEAST: AT_MOST, ABOUT: ABOUT}  # a bound on the 2019 ratio bounds the drift the other way
DRIFT_LABEL = "2019 cost (the post's bound)"
# projections_2019.csv's `cost`: the post's bound, or the alternative measured here (text: a csv reader
# would turn "2019" into a number)
AT_2019, ALTERNATIVE = "post-bound", "alternative"


class DriftError(ValueError):
    """claims.yaml lacks a published number the drift table needs."""


@dataclass(frozen=True)
class PostRatio:
    """What the post's seconds say about term / reference: a value or a bound, and how it follows."""

    ratio: float
    relation: str  # AT_MOST, AT_LEAST or ABOUT
    basis: str


@dataclass(frozen=True)
class DriftTerm:
    workload: str
    term: str  # the cost term, in words
    term_primitive: str
    reference: str
    reference_primitive: str  # a name; "stateful.count_document" means the mean over every k
    post: Callable[[dict[str, float], dict[str, int], int], PostRatio]  # (original seconds, the post's sizes, cores)
    binds: tuple[str, ...] = ()  # claims this term sits in as the driver's serial (Amdahl) term
    per_core_size: str | None = None  # size key: the term occurs N x sizes[key] times in every backend's trial
    alternative: str = ""  # a primitive measured here that makes the same result another way (projected too)


@dataclass
class DriftRow:
    workload: str
    term: str
    reference: str
    post_relation: str
    post_ratio: float
    post_basis: str
    now_term_s: float
    now_reference_s: float
    now_ratio: float
    drift_relation: str
    drift: float
    term_primitive: str
    reference_primitive: str
    binds: str
    per_core: float  # times the term occurs per core in every backend's trial (nan: not one count for all)
    alternative_primitive: str  # "" when none

    @property
    def reading(self) -> str:
        """What the row shows, in words: a bound on the loose side of 1 shows no drift."""
        if self.drift_relation == AT_LEAST:
            return "costlier now" if self.drift > 1 else "no drift shown: loose bound"
        if self.drift_relation == AT_MOST:
            return "cheaper now" if self.drift < 1 else "no drift shown: loose bound"
        return "costlier now" if self.drift > 1 else "cheaper now"

    def sentence(self) -> str:
        return (f"{self.term}: {self.now_ratio:.3g} x {self.reference} here, {self.post_relation} "
                f"{self.post_ratio:.3g} x in the post ({self.post_basis}); drift {self.drift_relation} "
                f"{self.drift:.3g}x")


# ------------------------------------------------------------------------ the post's bounds


def _b2_generation(seconds: dict[str, float], sizes: dict[str, int], cores: int) -> PostRatio:
    # Ray's trial holds all N x D generations in the driver, one after another: that bounds one.
    docs = cores * sizes["docs_per_core"]
    generate = seconds["ray"] / docs
    per_doc_serial = seconds["serial"] / docs  # generating + counting one document
    counting = per_doc_serial - generate  # the least counting can be
    return PostRatio(generate / counting, AT_MOST,
                     f"Ray's {seconds['ray']:g} s holds {docs} generations: at most {generate * 1e3:.2g} ms each; "
                     f"serial's {seconds['serial']:g} s / {docs} = {per_doc_serial:.3g} s per document, so counting "
                     f"one takes at least {counting:.3g} s")


def _b1_put(seconds: dict[str, float], sizes: dict[str, int], cores: int) -> PostRatio:
    # One Ray pass: ray.put of the image, then N convolutions side by side (at least one's time).
    convolution = seconds["serial"] / cores
    return PostRatio((seconds["ray"] - convolution) / convolution, AT_MOST,
                     f"Ray's pass of {seconds['ray']:g} s = ray.put + N parallel convolutions of "
                     f"{convolution:.3g} s each (serial {seconds['serial']:g} s / {cores})")


def _b1_pickle(seconds: dict[str, float], sizes: dict[str, int], cores: int) -> PostRatio:
    # The driver pickles the N (image, filter) tasks one after another before the last convolution ends.
    convolution = seconds["serial"] / cores
    per_task = (seconds["multiprocessing"] - convolution) / cores
    return PostRatio(per_task / convolution, AT_MOST,
                     f"multiprocessing's pass of {seconds['multiprocessing']:g} s holds {cores} pickled tasks "
                     f"in the driver and at least one convolution: at most {per_task:.3g} s per task")


def _b3_load(seconds: dict[str, float], sizes: dict[str, int], cores: int) -> PostRatio:
    # Ray: R rounds of one predict per actor bound a predict; multiprocessing: each of the R rounds is
    # N parallel tasks that each load the model and data, then predict.
    rounds = sizes["rounds"]
    predict = seconds["ray"] / rounds
    load_and_predict = seconds["multiprocessing"] / rounds
    return PostRatio((load_and_predict - predict) / predict, AT_LEAST,
                     f"Ray's {seconds['ray']:g} s / {rounds} rounds: a predict takes at most {predict:.3g} s; "
                     f"multiprocessing's {seconds['multiprocessing']:g} s / {rounds} rounds = "
                     f"{load_and_predict:.3g} s to load and predict")


TERMS: tuple[DriftTerm, ...] = (
    DriftTerm("stateful", "generating one document, per word (the post's code)", "stateful.generate_document",
              "counting one document", "stateful.count_document", _b2_generation, ("C2a", "C2b"), "docs_per_core",
              "stateful.generate_document_block"),
    DriftTerm("stateful", "generating one document, one RNG call", "stateful.generate_document_block",
              "counting one document", "stateful.count_document", _b2_generation),
    DriftTerm("numerical", "ray.put of the image", "numerical.ray_put_image",
              "one convolution", "numerical.convolve", _b1_put),
    DriftTerm("numerical", "pickling one (image, filter) task", "numerical.dumps_task",
              "one convolution", "numerical.convolve", _b1_pickle),
    # The reference is one predict on one thread: the workload's unit of work, as counting and the
    # convolution are for B1 and B2, and the only B3 cost that the post's Ray time bounds directly.
    DriftTerm("expensive_init", "loading the model and the data", "expensive_init.load_model_and_data",
              "one predict (1 thread)", "expensive_init.predict[threads=1]", _b3_load),
)


# ------------------------------------------------------------------------------- the table


def _mean_cost(means: dict[str, float], name: str) -> float | None:
    """A primitive's mean; for a family with a parameter (count_document[k=...]), the mean over it."""
    if name in means:
        return means[name]
    family = [v for k, v in means.items() if k.startswith(name + "[")]
    return sum(family) / len(family) if family else None


def original_cores(claims: dict[str, Any]) -> int:
    try:
        return int(claims["original_seconds_cores"])
    except (KeyError, TypeError, ValueError):
        raise DriftError("paper/claims.yaml: original_seconds_cores (the core count of the post's quoted "
                         "seconds) is missing; add it beside original_seconds") from None


def drift_rows(claims: dict[str, Any], primitives: PrimitiveSet) -> list[DriftRow]:
    """One row per term whose primitives this run measured."""
    cores = original_cores(claims)
    means = primitives.means()
    post_sizes = get_preset("paper")  # the post's own sizes, whatever preset this run used
    rows = []
    for t in TERMS:
        seconds = claims.get("original_seconds", {}).get(t.workload)
        sizes = primitives.sizes.get(t.workload)
        term, reference = means.get(t.term_primitive), _mean_cost(means, t.reference_primitive)
        if not seconds or not sizes or term is None or not reference:
            continue
        post = t.post(seconds, vars(post_sizes.sizes(t.workload)), cores)
        now = term / reference
        rows.append(DriftRow(t.workload, t.term, t.reference, post.relation, post.ratio, post.basis, term, reference,
                             now, _FLIP[post.relation], now / post.ratio, t.term_primitive, t.reference_primitive,
                             " ".join(t.binds), float(sizes[t.per_core_size]) if t.per_core_size else math.nan,
                             t.alternative))
    return rows


def drift_table(claims: dict[str, Any], primitives: PrimitiveSet) -> pd.DataFrame:
    return pd.DataFrame([{**asdict(r), "reading": r.reading} for r in drift_rows(claims, primitives)],
                        columns=[*DriftRow.__dataclass_fields__, "reading"])


def at_2019_cost(primitives: PrimitiveSet, row: DriftRow) -> PrimitiveSet:
    """The primitives with `row`'s term scaled to what the post allows relative to its reference:
    every sample times post_ratio / now_ratio (the spread kept), for projections "as in 2019"."""
    factor = row.post_ratio / row.now_ratio
    samples = dict(primitives.samples)
    samples[row.term_primitive] = tuple(s * factor for s in samples[row.term_primitive])
    return replace(primitives, samples=samples)


def projections_at_2019_cost(claims: dict[str, Any], primitives: PrimitiveSet, calibration: pd.DataFrame,
                             cores: tuple[int, ...], resamples: int = 1000,
                             check: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims a drifted term binds, projected by the cost model with that term at the cost the
    post allows (at_2019_cost), beside the claim's plain projection: a projection, labelled so, with
    the same bracket as every projection (the model's measured error from `check`, the binding
    assumptions at their bounds)."""
    from .model import projection_table

    out = []
    for row in drift_rows(claims, primitives):
        if not row.binds:
            continue
        bound = {"claims": [c for c in claims["claims"] if c["id"] in row.binds.split()]}
        table = projection_table(bound, at_2019_cost(primitives, row), calibration, cores, resamples, check=check)
        if table.empty:
            continue
        table["cost"] = AT_2019
        table["term"] = row.term
        table["term_now_s"] = row.now_term_s
        table["term_2019_s"] = row.post_ratio * row.now_reference_s
        table["label"] = f"projection with {row.term} at its {DRIFT_LABEL} (cost model, not a measurement)"
        out.append(table)
        if row.alternative_primitive in primitives.samples:  # e.g. per-document generation, measured here
            samples = dict(primitives.samples)
            samples[row.term_primitive] = samples[row.alternative_primitive]
            other = projection_table(bound, replace(primitives, samples=samples), calibration, cores, resamples,
                                     check=check)
            other["cost"] = ALTERNATIVE
            other["term"] = row.alternative_primitive
            other["term_now_s"] = row.now_term_s
            other["term_2019_s"] = row.post_ratio * row.now_reference_s
            other["label"] = (f"projection with {row.alternative_primitive} measured here instead of "
                              f"{row.term_primitive} (cost model, not a measurement)")
            out.append(other)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def write_drift_outputs(claims: dict[str, Any], primitives: PrimitiveSet, calibration: pd.DataFrame,
                        out_dir, cores: tuple[int, ...], resamples: int = 1000,
                        check: pd.DataFrame | None = None) -> list:
    """The model stage's drift.csv and projections_2019.csv."""
    from pathlib import Path

    from ..records import write_atomic

    paths = [Path(out_dir) / "drift.csv", Path(out_dir) / "projections_2019.csv"]
    frames = [drift_table(claims, primitives),
              projections_at_2019_cost(claims, primitives, calibration, cores, resamples, check)]
    for path, frame in zip(paths, frames):
        write_atomic(path, frame.to_csv(index=False))
    return paths


# ------------------------------------------------- the same claims measured with both generations

BOTH_WAYS_PAIRS = (("ray", "serial"), ("ray", "multiprocessing"), ("ray", "multiprocessing_tuned"),
                   ("multiprocessing", "serial"))


def measured_both_ways(speedups: pd.DataFrame, workload: str = "stateful") -> pd.DataFrame:
    """Each B2 ratio measured in the run's cells of both document generations, at every core count
    that has both: the cells of `workload` (per word, the post's code) beside those of its
    per-document variant (the same words in one RNG call each). Empty without the variant's cells."""
    from ..catalog import PER_DOCUMENT, cell_workload

    variant = cell_workload(workload, PER_DOCUMENT)
    columns = ["backend", "baseline", "cores", "per_word", "per_word_low", "per_word_high", "per_document",
               "per_document_low", "per_document_high"]
    if variant == workload or speedups.empty:
        return pd.DataFrame(columns=columns)
    key = ["backend", "baseline", "cores"]
    ratios = ["speedup", "ci_low", "ci_high"]
    word = speedups[speedups.workload == workload][key + ratios]
    document = speedups[speedups.workload == variant][key + ratios]
    both = word.merge(document, on=key, suffixes=("_w", "_d"))
    pairs = pd.DataFrame(BOTH_WAYS_PAIRS, columns=["backend", "baseline"])
    both = pairs.merge(both, on=["backend", "baseline"]).sort_values(["backend", "baseline", "cores"])
    both.columns = key + ["per_word", "per_word_low", "per_word_high", "per_document", "per_document_low",
                          "per_document_high"]
    return both.reset_index(drop=True)[columns]
