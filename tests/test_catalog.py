"""One source of truth: the schema, the docs and the claims file agree with the code's catalog."""

import re
from pathlib import Path

import yaml

from parbench.analysis.verdicts import EVALUATORS
from parbench.catalog import BACKEND_ORDER, WORKLOAD_ORDER
from parbench.workloads import WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_the_schema_allows_exactly_the_catalogs_names():
    props = SCHEMA["properties"]
    assert tuple(props["workloads"]["items"]["enum"]) == WORKLOAD_ORDER
    assert tuple(props["backends"]["items"]["enum"]) == BACKEND_ORDER


def test_every_catalog_backend_exists_in_every_workload_and_nothing_else():
    assert tuple(WORKLOADS) == WORKLOAD_ORDER
    for module in WORKLOADS.values():
        assert tuple(module.BACKENDS) == BACKEND_ORDER, module.NAME


def test_config_readme_lists_every_key_and_every_allowed_value():
    readme = (ROOT / "config" / "README.md").read_text()
    keys = re.findall(r"^- `(\w+)`:", readme, re.M)
    assert keys == list(SCHEMA["properties"]), "config/README.md lists other keys than the schema"
    for key in ("preset", "workloads", "backends"):
        spec = SCHEMA["properties"][key]
        allowed = spec.get("enum") or spec["items"]["enum"]
        line = next(block for block in readme.split("\n- ") if block.startswith(f"`{key}`"))
        assert re.findall(r"`(\w+)`", line)[1:] == list(allowed), key


def test_the_claims_file_documents_exactly_the_claim_kinds_the_code_judges():
    text = (ROOT / "paper" / "claims.yaml").read_text()
    documented = re.findall(r"^#   (\w+)\s{2,}", text, re.M)
    assert documented == list(EVALUATORS)


def test_the_container_tag_is_the_package_version_everywhere():
    import tomllib

    import parbench

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert parbench.__version__ == version
    snakefile = (ROOT / "Snakefile").read_text()
    assert re.search(r'^containerized: "docker://parbench-artifact:(.+)"$', snakefile, re.M).group(1) == version
    build = (ROOT / "ci" / "docker-build.sh").read_text()
    assert '-t "parbench-artifact:${version:-0.0.0}"' in build
    assert 'sed -n \'s/^__version__ = "\\(.*\\)"/\\1/p\' src/parbench/__init__.py' in build


def test_the_package_ships_its_type_marker():
    from importlib.resources import files

    assert files("parbench").joinpath("py.typed").is_file()  # pyproject's package-data


def test_the_b2_variant_is_named_by_what_it_runs_and_maps_back_to_its_base():
    from parbench.catalog import (
        CELL_WORKLOAD_ORDER,
        PER_DOCUMENT,
        PER_WORD,
        WORKLOAD_ORDER,
        base_workload,
        cell_workload,
        document_generation_of,
        times_variant,
    )

    assert WORKLOAD_ORDER == ("numerical", "stateful", "expensive_init")  # the post's three: claims, primitives
    assert CELL_WORKLOAD_ORDER == ("numerical", "stateful", "stateful_per_document", "expensive_init")
    assert cell_workload("stateful", PER_DOCUMENT) == "stateful_per_document"
    assert cell_workload("stateful_per_document", PER_WORD) == "stateful"
    assert cell_workload("numerical", PER_DOCUMENT) == "numerical"  # no documents, no variant
    assert base_workload("stateful_per_document") == "stateful" and base_workload("numerical") == "numerical"
    assert (document_generation_of("stateful_per_document"), document_generation_of("stateful")) == (
        PER_DOCUMENT, PER_WORD)
    assert times_variant("stateful_per_document", "ray") and not times_variant("stateful_per_document", "joblib")
    assert times_variant("stateful", "joblib")
