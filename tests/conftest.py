import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def parbench(*args, cwd=None, timeout=600, env=None):
    """Run the installed `parbench` CLI as a user would; returns the CompletedProcess."""
    return subprocess.run([str(BIN / "parbench"), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def prepared_resources(tmp_path_factory):
    """The expensive_init model and data, prepared once per session (about 20 s)."""
    existing = ROOT / "resources" / "expensive_init"
    if (existing / "model.keras").exists() and (existing / "mnist_synthetic.npz").exists():
        return existing
    target = tmp_path_factory.mktemp("resources") / "expensive_init"
    result = parbench("prepare", "--resources", target)
    assert result.returncode == 0, result.stderr
    return target


def copy_project(dest: Path) -> Path:
    """A temporary copy of the workflow (no results, no venv), as a fresh clone would have."""
    for name in ("Snakefile", "workflow", "config", "profiles", "paper", "src", ".zenodo.json", "pyproject.toml"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake_env():
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# The limit of one Snakemake run in a test: under pytest-timeout's 1200 s (pyproject.toml), so the
# run's own output, not only pytest's traceback, says where it was.
RUN_LIMIT_S = 1080


def snakemake(project, *args, timeout=RUN_LIMIT_S):
    return subprocess.run(["snakemake", *args], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=snakemake_env())


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, prepared_resources):
    """The smoke DAG, run once per session in a temporary copy of the project (about 4 minutes on 2
    cores): tests/test_pipeline.py checks its outputs, tests/test_engine.py its cells' records."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    # Reuse the session's prepared model so the DAG does not train it again.
    target = project / "resources" / "expensive_init"
    target.mkdir(parents=True)
    for name in ("model.keras", "mnist_synthetic.npz"):
        (target / name).write_bytes((prepared_resources / name).read_bytes())
    result = snakemake(project, "--configfile", "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-5000:]
    return project, result


def pytest_collection_modifyitems(config, items):
    """Every slow test says why it is slow (`@pytest.mark.slow(reason=...)`), since `bin/test --quick`
    leaves it out and a reader must see what the quick tier does not check."""
    unexplained = [item.nodeid for item in items
                   if (mark := item.get_closest_marker("slow")) is not None and not mark.kwargs.get("reason")]
    if unexplained:
        raise pytest.UsageError("slow tests without a reason (write @pytest.mark.slow(reason=\"why it is slow\")): "
                                + ", ".join(unexplained))
