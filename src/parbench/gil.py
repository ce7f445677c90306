"""What the interpreter is, and whether the GIL stays off in a free-threaded one.

On a free-threaded CPython (PEP 703, `Py_GIL_DISABLED`), importing an extension module that does
not declare `Py_mod_gil = Py_MOD_GIL_NOT_USED` turns the GIL back on for the whole process, with
a RuntimeWarning that names the module. A `free_threading` cell would then time GIL threads under
a free-threaded label. `GilWatch` reads `sys._is_gil_enabled()` after the cell runner's imports,
after setup and after the trials, and fails the cell with a sentence naming the module that did it.
Only the standard library is imported: the CLI starts the watch before numpy and scipy load.
"""

from __future__ import annotations

import importlib.machinery
import re
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

# CPython's warning (Python/import.c, _PyImport_CheckGILForModule), issued once, when the GIL is enabled.
GIL_WARNING = re.compile(r"The global interpreter lock \(GIL\) has been enabled to load module '([^']+)'")
PROBE_TIMEOUT_S = 60.0
# The checks of a cell, in order: step -> what had just happened.
STEPS = {"imports": "the cell runner's imports", "setup": "the backend's setup", "trials": "the timed trials"}


class GilEnabledError(RuntimeError):
    """The GIL is on in a cell that must run without it."""


def free_threaded_build() -> bool:
    """True for a CPython built with --disable-gil (whether or not the GIL is on right now)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """sys._is_gil_enabled() where it exists (3.13+); every other interpreter has a GIL."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def interpreter_facts() -> dict:
    """The interpreter a record was made with: version, build and the GIL's state now."""
    return {
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "free_threaded_build": free_threaded_build(),  # sysconfig Py_GIL_DISABLED
        "gil_enabled": gil_enabled(),
        "gil_flag": getattr(sys.flags, "gil", None),  # 0/1 when forced by -X gil or PYTHON_GIL
        "config_args": sysconfig.get_config_var("CONFIG_ARGS"),
    }


def _stdlib_dirs() -> tuple[str, ...]:
    return tuple({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")} - {None})


def _is_extension(module) -> bool:
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def third_party_extensions(names) -> list[str]:
    """The extension modules among `names` that do not come with the interpreter itself."""
    stdlib = _stdlib_dirs()
    out = []
    for name in sorted(names):
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)  # built-in modules such as _abc have none
        if origin and _is_extension(module) and not str(Path(origin).resolve()).startswith(stdlib):
            out.append(name)
    return out


def enables_gil_alone(module: str, executable: str = sys.executable) -> bool:
    """Whether importing `module` by itself, in a fresh interpreter, turns the GIL on.

    -I -S: no PYTHON* variables (PYTHON_GIL, PYTHONPATH) and no site hooks (a sitecustomize could
    load a module that needs the GIL before the probe starts); this process's sys.path instead.
    """
    code = (f"import sys, warnings; sys.path[:0] = {sys.path!r}; warnings.simplefilter('ignore'); "
            f"before = sys._is_gil_enabled(); import {module}; print(not before and sys._is_gil_enabled())")
    try:
        out = subprocess.run([executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


class GilWatch:
    """Checks that the GIL stays off and, when it does not, finds the module responsible.

    The module is named from CPython's own warning when it was issued while the watch ran;
    otherwise each third-party extension module loaded since the GIL was last seen off (or, when it
    was on already when the watch started, each loaded before) is imported alone in a fresh
    interpreter, to see which turns it on.
    """

    def __init__(self) -> None:
        self.enablers: list[str] = []  # modules CPython named in its warning
        self.readings: list[dict] = []
        self._at_start = set(sys.modules)
        self._last_off: set[str] | None = None if gil_enabled() else set(sys.modules)
        self._show = warnings.showwarning
        warnings.filterwarnings("always", message=GIL_WARNING.pattern, category=RuntimeWarning)
        warnings.showwarning = self._record_and_show

    def _record_and_show(self, message, category, filename, lineno, file=None, line=None):
        match = GIL_WARNING.search(str(message))
        if match:
            self.enablers.append(match.group(1))
        self._show(message, category, filename, lineno, file, line)

    def check(self, step: str) -> None:
        """Record the GIL's state after `step` (a key of STEPS); raise GilEnabledError naming the cause if it is on."""
        enabled = gil_enabled()
        self.readings.append({"after": step, "gil_enabled": enabled})
        if enabled:
            raise GilEnabledError(self.explain(step))
        self._last_off = set(sys.modules)

    def explain(self, step: str) -> str:
        found = f"the GIL was on after {STEPS.get(step, step)}"
        fix = ("; a free_threading timing would be a GIL timing. Use a free-threading build of it or keep it "
               "out of the cell (PYTHON_GIL=0 forces the GIL off, at your own risk)")
        if not free_threaded_build():
            return f"{found}: this interpreter ({sys.version.split()[0]}) is not a free-threaded build"
        if getattr(sys.flags, "gil", None) == 1:
            return f"{found}: PYTHON_GIL=1 or -X gil=1 forces it on; unset it to time free-threaded code"
        if self.enablers:
            names = ", ".join(f"'{m}'" for m in self.enablers)
            return (f"{found}: module {names} re-enabled it (it does not declare that it can run without the GIL, "
                    f"Py_mod_gil){fix}")
        loaded = self._at_start if self._last_off is None else set(sys.modules) - self._last_off
        suspects = third_party_extensions(loaded)
        culprits = [m for m in suspects if enables_gil_alone(m)]
        if culprits:
            names = ", ".join(f"'{m}'" for m in culprits)
            return (f"{found}: importing module {names} alone turns the GIL on (it does not declare that it can run "
                    f"without the GIL, Py_mod_gil){fix}")
        since = "before the watch started" if self._last_off is None else "since the GIL was last seen off"
        return f"{found}; extension modules imported {since}: {', '.join(suspects) or 'none'}{fix}"

    def facts(self) -> dict:
        """For the record: the interpreter and every reading of the GIL during the cell."""
        readings = {f"gil_enabled_after_{r['after']}": r["gil_enabled"] for r in self.readings}
        return {"interpreter": interpreter_facts(), "gil_checks": list(self.readings), **readings}


_watch: GilWatch | None = None


def start_watch() -> GilWatch:
    """The process's watch, started once (the CLI starts it before numpy and scipy are imported)."""
    global _watch
    if _watch is None:
        _watch = GilWatch()
    return _watch
