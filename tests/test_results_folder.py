"""results/README.md: committed, in the image's build context, never written by a rule, and naming
everything the workflow writes into results/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "results/README.md"


def _planned_outputs(*args: str) -> set[str]:
    """Every output file of the full DAG (dry run, all jobs forced), as Snakemake lists it."""
    snakemake = Path(sys.executable).with_name("snakemake")
    done = subprocess.run([str(snakemake), *args, "--dry-run", "--forceall", "--cores", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    outputs: set[str] = set()
    for line in done.stdout.splitlines():
        if line.strip().startswith("output:"):
            outputs |= {p.strip() for p in line.split(":", 1)[1].split(",")}
    return outputs


@pytest.fixture(scope="module")
def outputs() -> set[str]:
    return (_planned_outputs("all", "reference_report")
            | _planned_outputs("all", "--configfile", "config/smoke.yaml"))


def test_no_rule_writes_the_readme(outputs):
    assert outputs, "the dry run listed no outputs"
    assert not any(Path(p).name == "README.md" for p in outputs if p.startswith("results/"))


def test_readme_names_every_top_level_output(outputs):
    text = README.read_text()
    top = {p.split("/")[1] for p in outputs if p.startswith("results/")}
    top |= {"plan.json", "report.html"}  # written by the onstart hook and the image's entrypoint, not by rules
    named = set(re.findall(r"`([\w.]+)/?`", text))
    assert top - named == set(), f"results/README.md does not name {sorted(top - named)}"


def test_readme_is_kept_by_git_and_docker():
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "!/results/README.md" in gitignore[gitignore.index("/results/*"):]
    assert "!results/README.md" in dockerignore[dockerignore.index("results/*"):]
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "results/README.md"], cwd=ROOT)
        assert ignored.returncode == 1, "git ignores results/README.md"
