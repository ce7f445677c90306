"""The three workloads of the original post, each with its backends side by side."""

from __future__ import annotations

from types import ModuleType

from . import expensive_init, numerical, stateful

WORKLOADS: dict[str, ModuleType] = {m.NAME: m for m in (numerical, stateful, expensive_init)}


class UnknownChoiceError(ValueError):
    pass


def get_workload(name: str) -> ModuleType:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise UnknownChoiceError(f"unknown workload {name!r}; choose one of: {', '.join(WORKLOADS)}") from None


def get_backend(workload: ModuleType, name: str):
    try:
        return workload.BACKENDS[name]
    except KeyError:
        raise UnknownChoiceError(
            f"unknown backend {name!r} for {workload.NAME}; choose one of: {', '.join(workload.BACKENDS)}"
        ) from None
