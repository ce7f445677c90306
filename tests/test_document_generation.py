"""B2's two document generations: the same words, a clear refusal where they would differ, and
records that name the generation (issue 19)."""

import json
from dataclasses import replace
from itertools import islice
from pathlib import Path

import pytest

from conftest import parbench
from parbench.catalog import DOCUMENT_GENERATIONS, PER_DOCUMENT, PER_WORD
from parbench.presets import generation_problem, get_preset
from parbench.workloads import stateful
from parbench.workloads.base import Cell


def _cell(generation: str, **sizes) -> Cell:
    base = replace(get_preset("smoke").stateful, **sizes)
    return Cell("stateful", "serial", 1, (0,), base, 7, Path("."), None, generation)


@pytest.mark.parametrize("word_bytes", [4, 20])
def test_both_generations_make_the_same_documents(word_bytes):
    documents = {g: list(islice(stateful.document_stream(_cell(g, word_bytes=word_bytes), 11), 3))
                 for g in DOCUMENT_GENERATIONS}
    assert documents[PER_WORD] == documents[PER_DOCUMENT]
    first = documents[PER_WORD][0]
    assert len(first) == get_preset("smoke").stateful.words_per_doc
    assert {len(w) for w in first} == {word_bytes}
    assert documents[PER_WORD][0] != documents[PER_WORD][1]  # a stream, not one document repeated


def test_every_cells_seed_starts_a_stream():
    from parbench.harness import seed_for

    for cores in (1, 2, 48):
        assert len(next(stateful.document_stream(_cell(PER_WORD), seed_for("stateful", cores)))) > 0


def test_per_document_refuses_word_sizes_it_cannot_match():
    assert generation_problem(PER_DOCUMENT, 20) is None
    assert generation_problem(PER_WORD, 3) is None
    assert "multiple of 4" in generation_problem(PER_DOCUMENT, 3)
    assert "not one of" in generation_problem("per-sentence", 20)
    with pytest.raises(ValueError, match="multiple of 4"):
        next(stateful.document_stream(_cell(PER_DOCUMENT, word_bytes=3), 1))


def test_cell_facts_name_the_generation_and_its_cost():
    cell = _cell(PER_DOCUMENT)
    stateful.make_inputs(cell)
    list(islice(stateful.document_stream(cell, 3), 4))
    facts = stateful.cell_facts(cell)
    assert facts["document_generation"] == PER_DOCUMENT
    assert facts["documents_generated"] == 4
    assert facts["generation_seconds_per_document"] > 0
    stateful.make_inputs(cell)  # a new cell starts its own count
    assert stateful.cell_facts(cell)["documents_generated"] == 0


def test_cli_refuses_per_document_with_odd_words(tmp_path):
    out = parbench("run", "--workload", "stateful", "--backend", "serial", "--cores", "1", "--preset", "smoke",
                   "--document-generation", "per-document", "--size", "word_bytes=3", "--out", tmp_path / "r.json")
    assert out.returncode == 2
    assert "multiple of 4" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_records_name_the_generation_with_equal_digests(tmp_path):
    records = {}
    for generation in DOCUMENT_GENERATIONS:
        out = tmp_path / f"{generation}.json"
        done = parbench("run", "--workload", "stateful", "--backend", "serial", "--cores", "1", "--preset", "smoke",
                        "--trials", "1", "--document-generation", generation, "--out", out)
        assert done.returncode == 0, done.stderr
        records[generation] = json.loads(out.read_text())
    for generation, record in records.items():
        assert record["workload_facts"]["document_generation"] == generation
        assert record["workload_facts"]["generation_seconds_per_document"] > 0
    assert records[PER_WORD]["trials"][0]["digest"] == records[PER_DOCUMENT]["trials"][0]["digest"]
    # The per-document cell is a cell of its own, named by its variant; one run's hashes agree.
    assert records[PER_WORD]["workload"] == "stateful"
    assert records[PER_DOCUMENT]["workload"] == "stateful_per_document"
    assert records[PER_WORD]["config_hash"] == records[PER_DOCUMENT]["config_hash"]


def test_the_variant_name_and_a_contradicting_option_are_refused(tmp_path):
    out = parbench("run", "--workload", "stateful_per_document", "--backend", "serial", "--cores", "1", "--preset",
                   "smoke", "--document-generation", "per-word", "--out", tmp_path / "r.json")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "stateful_per_document makes its documents per-document" in out.stderr
    assert not (tmp_path / "r.json").exists()


def _bench_commands(project, *config) -> list[str]:
    from conftest import snakemake

    dry = snakemake(project, "-n", "-p", "--configfile", "config/smoke.yaml", "--config", "rounds=1", *config,
                    timeout=120)
    assert dry.returncode == 0, dry.stderr[-2000:]
    return [line for line in (dry.stdout + dry.stderr).splitlines() if "parbench run " in line]


def test_the_config_key_chooses_the_b2_cells(tmp_path):
    """Both generations (the default): stateful and stateful_per_document cells, the latter for the
    original three backends and multiprocessing_tuned only; one of them: only its cells."""
    from conftest import copy_project, snakemake

    project = copy_project(tmp_path)
    both = _bench_commands(project, "backends=[serial,ray,joblib]", "document_generation=[per-word,per-document]")
    variant = [c for c in both if "--workload stateful_per_document " in c]
    assert {b for b in ("serial", "ray", "joblib") if any(f"--backend {b} " in c for c in variant)} == {"serial", "ray"}
    assert any("--workload stateful " in c and "--backend joblib " in c for c in both)
    only = _bench_commands(project, "document_generation=per-document")
    assert not any("--workload stateful " in c for c in only)
    assert any("--workload stateful_per_document " in c for c in only)
    assert not any("--document-generation" in c for c in both + only)  # the workload's name says it
    bad = snakemake(project, "-n", "--configfile", "config/smoke.yaml", "--config", "document_generation=per-line",
                    timeout=120)
    assert bad.returncode != 0 and "per-line" in (bad.stdout + bad.stderr)
