"""ci/archive.sh: the source tarball alone, unpacked in an empty folder, renders the reference
report with the tarball's own code, and that report still gives the README's generated numbers.
(The saved image's offline run is a CI step after the image build: ci/archive-offline.sh.)"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import BIN, ROOT, snakemake_env

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = "packs the source tarball and renders reference_report from it through Snakemake (about a minute)"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    done = subprocess.run([str(ROOT / "ci/archive.sh"), str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_IMAGE": "1", "PYTHON": str(BIN / "python")})
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_archive_holds_what_it_says_with_checksums(archive):
    record = json.loads((archive / "archive.json").read_text())
    name = record["name"]
    assert set(record["files"]) == {f"{name}-source.tar.gz", f"{name}-reference-records.tar.gz", ".zenodo.json",
                                    "CITATION.cff", "LICENSE"}
    assert record["commit"] == subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                              text=True).stdout.strip()
    listed = {line.split()[1] for line in (archive / "SHA256SUMS").read_text().splitlines()}
    assert listed == set(record["files"]) | {"archive.json"}
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=archive, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with tarfile.open(archive / f"{name}-reference-records.tar.gz") as records:
        names = records.getnames()
    assert f"{name}/paper/reference/primitives.json" in names
    assert any(n.startswith(f"{name}/paper/reference/raw/") and n.endswith(".json") for n in names)


def test_a_corrupted_file_fails_the_checksums(archive, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in archive.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "LICENSE").write_text("changed\n")
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=copy, capture_output=True).returncode != 0


@pytest.mark.slow(reason=SLOW_REASON)
def test_unpacked_source_renders_the_reference_report(archive, tmp_path):
    name = json.loads((archive / "archive.json").read_text())["name"]
    with tarfile.open(archive / f"{name}-source.tar.gz") as source:
        source.extractall(tmp_path, filter="data")
    project = tmp_path / name
    # The tarball's own parbench, not this checkout's editable install, runs every rule.
    env = {**snakemake_env(), "PYTHONPATH": str(project / "src")}
    where = subprocess.run([str(BIN / "python"), "-c", "import parbench; print(parbench.__file__)"],
                           cwd=project, capture_output=True, text=True, env=env)
    assert Path(where.stdout.strip()).is_relative_to(project), where.stdout + where.stderr
    run = subprocess.run(["snakemake", "--cores", "2", "reference_report"], cwd=project, capture_output=True,
                         text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (project / "results/README.md").exists()
    readme = subprocess.run(["parbench", "readme", "--check", "--tables", "results/reference", "--readme",
                             "README.md"], cwd=project, capture_output=True, text=True, timeout=120, env=env)
    assert readme.returncode == 0, readme.stdout + readme.stderr
