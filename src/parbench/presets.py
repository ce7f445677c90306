"""Named workload sizes: `paper` is the original post's, `quick` and `smoke` shrink them.

Every size here is *per core*: the work of a cell grows with the core count exactly as in the
original (weak scaling). Any size can be overridden with `--size key=value`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .catalog import DOCUMENT_GENERATIONS, PER_DOCUMENT, base_workload


@dataclass(frozen=True)
class NumericalSizes:
    image_side: int = 3000  # np.zeros((3000, 3000)) in the original: 72 MB of float64
    filter_side: int = 4  # np.random.normal(size=(4, 4))
    stride: int = 5  # convolve2d(...)[::5, ::5]


@dataclass(frozen=True)
class StatefulSizes:
    docs_per_core: int = 10  # num_cpus * 10 documents; also multiprocessing's number of rounds
    words_per_doc: int = 10_000
    word_bytes: int = 20  # np.random.bytes(20)
    popular_threshold: int = 3  # a prefix is popular when count > 3
    mp_state_slots: int = 4  # the original's `range(4)` state lists (its known bug above 4 cores)




def generation_problem(generation: str, word_bytes: int) -> str | None:
    """Why `generation` cannot make the per-word documents, or None."""
    if generation not in DOCUMENT_GENERATIONS:
        return f"document generation {generation!r} is not one of {', '.join(DOCUMENT_GENERATIONS)}"
    if generation == PER_DOCUMENT and word_bytes % 4:
        return (f"per-document generation gives the per-word words only when word_bytes is a multiple of 4 "
                f"(numpy draws 4 bytes at a time), not {word_bytes}; use per-word or another word_bytes")
    return None


@dataclass(frozen=True)
class ExpensiveInitSizes:
    rounds: int = 10  # 10 rounds x one predict per core
    test_images: int = 10_000  # one predict covers the whole MNIST test set
    predict_batch: int = 32  # Keras' default predict batch size


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    numerical: NumericalSizes
    stateful: StatefulSizes
    expensive_init: ExpensiveInitSizes

    def sizes(self, workload: str) -> Any:
        return getattr(self, base_workload(workload))  # a variant has its base's sizes


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        "paper",
        "the original post's sizes (default)",
        NumericalSizes(),
        StatefulSizes(),
        ExpensiveInitSizes(),
    ),
    "quick": Preset(
        "quick",
        "about a quarter of the work per core; same shapes of cost",
        NumericalSizes(image_side=1500),
        StatefulSizes(docs_per_core=4, words_per_doc=5_000),
        ExpensiveInitSizes(rounds=4, test_images=5_000),
    ),
    "smoke": Preset(
        "smoke",
        "tiny sizes that exercise every code path in seconds (tests and CI)",
        NumericalSizes(image_side=300),
        StatefulSizes(docs_per_core=3, words_per_doc=400),
        ExpensiveInitSizes(rounds=2, test_images=500),
    ),
}


class PresetError(ValueError):
    """A preset name or a size override that does not exist or is not a positive integer."""


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None


def apply_overrides(sizes: Any, overrides: dict[str, str]) -> Any:
    """Return `sizes` with `key=value` overrides applied; every value must be an integer >= 1."""
    known = {f.name for f in fields(sizes)}
    changes: dict[str, int] = {}
    for key, raw in overrides.items():
        if key not in known:
            raise PresetError(
                f"unknown size {key!r} for this workload; known sizes: {', '.join(sorted(known))}"
            )
        try:
            value = int(raw)
        except ValueError:
            raise PresetError(f"size {key}={raw!r} is not an integer") from None
        if value < 1:
            raise PresetError(f"size {key}={value} must be at least 1")
        changes[key] = value
    return replace(sizes, **changes)
