"""The three workloads of the original post, each with its backends side by side.

A workload's module is imported when it is first asked for, so that a cell imports only its own
workload's libraries (a B2 cell never loads scipy.signal, which B1 needs: about a second of every
B2 cell's start-up).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..catalog import WORKLOADS as WORKLOAD_NAMES


class UnknownChoiceError(ValueError):
    pass


def get_workload(name: str) -> ModuleType:
    if name not in WORKLOAD_NAMES:
        raise UnknownChoiceError(f"unknown workload {name!r}; choose one of: {', '.join(WORKLOAD_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")  # each module is named after its workload


def __getattr__(name: str) -> dict[str, ModuleType]:
    # WORKLOADS (every workload's module by name) imports them all, only when it is asked for.
    if name == "WORKLOADS":
        return {workload: get_workload(workload) for workload in WORKLOAD_NAMES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_backend(workload: ModuleType, name: str):
    try:
        return workload.BACKENDS[name]
    except KeyError:
        raise UnknownChoiceError(
            f"unknown backend {name!r} for {workload.NAME}; choose one of: {', '.join(workload.BACKENDS)}"
        ) from None
