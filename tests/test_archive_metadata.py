"""LICENSE, CITATION.cff and .zenodo.json: valid, and saying the same thing about the artifact.

CITATION.cff is checked against the Citation File Format 1.2.0 JSON schema as shipped on PyPI in
the cffconvert 2.0.0 wheel (cffconvert/schemas/1.2.0/schema.json). cffconvert itself requires
jsonschema<4, which the lock's jsonschema 4.x excludes, so the schema file is kept in tests/data
and its checksum pins it to that wheel's copy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import parbench
from parbench.archive_metadata import load, main, zenodo_problems

ROOT = Path(__file__).resolve().parents[1]
CFF_SCHEMA = ROOT / "tests/data/cff-1.2.0.schema.json"
# sha256 of cffconvert-2.0.0-py3-none-any.whl's cffconvert/schemas/1.2.0/schema.json
CFF_SCHEMA_SHA256 = "0b8d22140da702d766df318dcff3a91af2f39521298dcf36d76315fd99cc169b"
POST_URL = "https://towardsdatascience.com/10x-faster-parallel-python-without-python-multiprocessing-e5017c93cce1"
POST_TITLE = "10x Faster Parallel Python Without Python Multiprocessing"


@pytest.fixture(scope="module")
def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


@pytest.fixture(scope="module")
def zenodo() -> dict:
    return json.loads((ROOT / ".zenodo.json").read_text())


def _cff_errors(document: dict) -> list[str]:
    schema = json.loads(CFF_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_cff_schema_is_the_published_one():
    assert hashlib.sha256(CFF_SCHEMA.read_bytes()).hexdigest() == CFF_SCHEMA_SHA256
    assert json.loads(CFF_SCHEMA.read_text())["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"


def test_citation_cff_is_valid(citation):
    assert citation["cff-version"] == "1.2.0"
    assert _cff_errors(citation) == []


def test_the_schema_check_rejects_a_broken_citation(citation):
    broken = copy.deepcopy(citation)
    broken["references"][0]["type"] = "blogpost"  # not a CFF reference type
    del broken["authors"]
    errors = _cff_errors(broken)
    assert any("authors" in e for e in errors) and any("blogpost" in e for e in errors), errors


def test_citation_names_the_original_post(citation, zenodo):
    post = [r for r in citation["references"] if r.get("url") == POST_URL]
    assert len(post) == 1 and post[0]["title"] == POST_TITLE and post[0]["type"] == "blog"
    assert post[0]["authors"] == [{"family-names": "Nishihara", "given-names": "Robert"}]
    assert any(r["identifier"] == POST_URL and r["relation"] == "references" for r in zenodo["related_identifiers"])


def test_zenodo_metadata_has_what_zenodo_requires(zenodo):
    assert zenodo_problems(zenodo) == []
    assert load(ROOT / ".zenodo.json") == zenodo


@pytest.mark.parametrize("change, named", [
    (lambda m: m.pop("creators"), "creators"),
    (lambda m: m.update(upload_type="code"), "upload_type"),
    (lambda m: m.pop("license"), "license"),
    (lambda m: m.update(description=" "), "description"),
    (lambda m: m["related_identifiers"][0].update(relation="mentions"), "relation"),
])
def test_zenodo_check_names_each_missing_or_wrong_field(zenodo, change, named):
    broken = copy.deepcopy(zenodo)
    change(broken)
    problems = zenodo_problems(broken)
    assert len(problems) == 1 and named in problems[0], problems


def test_bad_metadata_file_gets_one_message(tmp_path, capsys):
    path = tmp_path / "zenodo.json"
    path.write_text('{"title": "x"')
    assert main([str(path), "title"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "JSON" in err and "Traceback" not in err


def test_one_license_everywhere(citation, zenodo):
    assert (ROOT / "LICENSE").read_text().splitlines()[0] == "MIT License"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == {"text": "MIT"}
    assert citation["license"] == "MIT" and zenodo["license"] == "MIT"
    assert re.search(r'org\.opencontainers\.image\.licenses="MIT"', (ROOT / "Dockerfile").read_text())


def test_title_and_version_agree(citation, zenodo):
    assert citation["title"] == zenodo["title"]
    assert citation["version"] == zenodo["version"] == parbench.__version__
    assert [a["name"] for a in citation["authors"]] == [c["name"] for c in zenodo["creators"]]
    assert citation["keywords"] == zenodo["keywords"]
    assert "the parbench authors" in (ROOT / "LICENSE").read_text()
