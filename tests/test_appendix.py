"""paper/artifact-appendix.md: the committees' headings, every number from a record, current."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT, copy_project, snakemake
from parbench import appendix

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("renders reference_report in a copied project through Snakemake "
               "(about a minute of aggregation, model and figures)")

APPENDIX = ROOT / "paper/artifact-appendix.md"
TEMPLATE = ROOT / "paper/artifact-appendix.md.j2"
HEADINGS = ["A.1 Abstract", "A.2 Artifact check-list (meta-information)", "A.3 Description", "A.4 Installation",
            "A.5 Experiment workflow", "A.6 Evaluation and expected results", "A.7 Experiment customization",
            "A.8 Notes"]
CHECKLIST = ["Program", "Data set", "Run-time environment", "Hardware", "Execution", "Metrics", "Output",
             "Experiments", "How much disk space is required", "How much time is needed to prepare",
             "How much time is needed to complete experiments"]


def test_appendix_has_the_committees_headings_in_order():
    text = APPENDIX.read_text()
    found = re.findall(r"^## (A\.\d .+)$", text, re.M)
    assert found == HEADINGS
    checklist = text.split("## A.2")[1].split("## A.3")[0]
    items = re.findall(r"^- \*\*([^*]+)\*\*", checklist, re.M)
    assert [c for i in items for c in CHECKLIST if i.startswith(c)] == CHECKLIST, items
    for sub in ("How delivered", "Hardware dependencies", "Software dependencies", "Data sets"):
        assert f"\n### {sub}\n" in text.split("## A.3")[1].split("## A.4")[0]


def test_the_template_types_no_number():
    """Numbers come from the records through the context; the template's own text holds none."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", TEMPLATE.read_text(), flags=re.S)
    text = re.sub(r"^## A\.\d", "", text, flags=re.M)
    text = re.sub(r"\bA\.\d\b", "", text)
    assert re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", text) == []


def test_readme_links_the_appendix():
    assert "(paper/artifact-appendix.md)" in (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def rendered_project(tmp_path_factory):
    """A copy of the project with the reference rendered (reference_report, about 20 s)."""
    project = copy_project(tmp_path_factory.mktemp("appendix"))
    done = snakemake(project, "--cores", "2", "reference_report", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return project


@pytest.mark.slow(reason=SLOW_REASON)
def test_appendix_is_current(rendered_project, monkeypatch):
    monkeypatch.chdir(rendered_project)
    assert appendix.render(rendered_project / "results/reference") == APPENDIX.read_text(), (
        "paper/artifact-appendix.md is stale: run `parbench readme` after `bin/reproduce reference_report`")


@pytest.mark.slow(reason=SLOW_REASON)
def test_a_changed_record_changes_the_appendix_and_fails_the_check(rendered_project, monkeypatch, tmp_path):
    monkeypatch.chdir(rendered_project)
    measured = rendered_project / "paper/measured"
    offline = json.loads((measured / "offline.json").read_text())
    offline["seconds"]["load"] += 3600
    changed = tmp_path / "measured"
    shutil.copytree(measured, changed)
    (changed / "offline.json").write_text(json.dumps(offline))
    monkeypatch.setattr(appendix, "MEASURED", changed)
    text = appendix.render(rendered_project / "results/reference", measured=changed)
    assert f"Loading the archived image:\n  {appendix._duration(offline['seconds']['load'])} (measured" in text
    target = rendered_project / "paper/artifact-appendix.md"
    with pytest.raises(appendix.ReadmeError, match="stale"):
        appendix.update(target, rendered_project / "results/reference", check=True, measured=changed)
