"""paper/artifact-appendix.md, the artifact appendix in the ACM / USENIX committees' headings,
rendered from paper/artifact-appendix.md.j2 with every number taken from a record: the reference
run's tables (results/reference), its raw records and environment (paper/reference), the claims,
.zenodo.json, and the measured archive runs in paper/measured/ (archive.json from ci/archive.sh,
offline.json from ci/archive-offline.sh). `parbench readme` writes it beside the README's section and
`--check` fails when it drifts, so the appendix never states a number that no record holds.
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from .plan import describe_duration
from .readme import CLAIMS, CONFIG, REFERENCE_CORES, REFERENCE_RECORDS, ReadmeError, _duration_table, _reviewer_table
from .report import SHM_SIZE_FLAG

APPENDIX = Path("paper/artifact-appendix.md")
TEMPLATE = Path("paper/artifact-appendix.md.j2")
MEASURED = Path("paper/measured")
ZENODO = Path(".zenodo.json")


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _reference_wall_s(run: dict) -> float:
    return (datetime.fromisoformat(run["last_finished"]) - datetime.fromisoformat(run["first_started"])).total_seconds()


def _default_run_estimate_s(config_path: Path, records: Path) -> float:
    """The default run's estimated seconds on the reference machine, as its start-up line plans it."""
    from .plan import default_run_durations, reference_primitives_round_s
    from .presets import get_preset

    config = yaml.safe_load(config_path.read_text())
    preset = get_preset(config["preset"])
    sizes = {w: vars(preset.sizes(w)) for w in config["workloads"]}
    primitives_s = reference_primitives_round_s(records.parent / "primitives.json", config["preset"],
                                                config["workloads"])
    rows = default_run_durations(config, sizes, sorted(records.glob("*/*/*/round*.json")),
                                 [(REFERENCE_CORES, "auto")], primitives_s)
    return float(rows[0]["seconds"])


def context(tables: Path, measured: Path = MEASURED, records: Path = REFERENCE_RECORDS) -> dict:
    """Every value the template shows, each read or computed from a record."""
    run = json.loads((tables / "verdicts.json").read_text())["run"]
    verdicts = pd.read_csv(tables / "verdicts.csv")
    environment = json.loads((records.parent / "environment.json").read_text())
    archive = json.loads((measured / "archive.json").read_text())
    offline = json.loads((measured / "offline.json").read_text())
    zenodo = json.loads(ZENODO.read_text())
    claims = yaml.safe_load(CLAIMS.read_text())
    files = archive["files"]
    image_file = next(name for name in files if "-image.tar" in name)
    return {
        "zenodo": zenodo,
        "archive": archive,
        "archive_files": [(name, _size(size)) for name, size in files.items()],
        "archive_total": _gb(archive["total_bytes"]),
        "image_file": image_file,
        "image_file_size": _gb(files[image_file]),
        "image_size": _gb(archive["image"]["bytes"]),
        "image_save": _duration(archive["seconds"]["image"]),
        "offline": offline,
        "load_time": _duration(offline["seconds"]["load"]),
        "smoke_time": _duration(offline["seconds"]["smoke"]),
        "plain_cell_time": _duration(offline["seconds"]["plain_free_threading_cell"]),
        "disk_total": _gb(archive["total_bytes"] + archive["image"]["bytes"]),  # the download plus the loaded image
        "run": run,
        "reference_wall": _duration(_reference_wall_s(run)),
        "reference_records": len(list(records.glob("*/*/*/round*.json"))),
        "default_estimate": describe_duration(_default_run_estimate_s(CONFIG, records)),
        "reference_cores": REFERENCE_CORES,
        "software": environment["software"]["packages"],
        "python": environment["software"]["python"],
        "hardware_of_original": claims["hardware"],
        "claims": len(claims["claims"]),
        "verdict_counts": verdicts.verdict.value_counts().to_dict(),
        "verdict_rows": len(verdicts),
        "duration_table": "\n".join(_duration_table(CONFIG, records)),
        "reviewer_table": "\n".join(_reviewer_table(CONFIG, records, CLAIMS)),
        "shm_size_flag": SHM_SIZE_FLAG,
        "python_required": tomllib.loads(Path("pyproject.toml").read_text())["project"]["requires-python"],
    }


def render(tables: Path, template: Path = TEMPLATE, measured: Path = MEASURED) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template.parent)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template(template.name).render(**context(tables, measured))


def update(appendix: Path, tables: Path, check: bool = False, measured: Path = MEASURED) -> bool:
    """Rewrite the appendix (or, with check, only compare); True if it was already current."""
    text = render(tables, measured=measured)
    current = appendix.exists() and appendix.read_text() == text
    if not current and check:
        raise ReadmeError(f"{appendix} is stale: run `parbench readme --tables {tables}` (after `snakemake --cores "
                          f"all reference_report`; the archive's numbers come from {MEASURED}/)")
    if not current:
        appendix.write_text(text)
    return current
