"""The archive's metadata (.zenodo.json): the fields Zenodo requires of a deposit, checked before
ci/archive.sh packs anything, so a bad file is named before the image is saved.

Field names and vocabularies follow Zenodo's deposition API (developers.zenodo.org, "Deposit
metadata"): upload_type, title, creators, description and access_right are required, and license
is required for open or embargoed access.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

UPLOAD_TYPES = frozenset({"publication", "poster", "presentation", "dataset", "image", "video", "software",
                          "lesson", "physicalobject", "other"})
ACCESS_RIGHTS = frozenset({"open", "embargoed", "restricted", "closed"})
RELATIONS = frozenset({
    "isCitedBy", "cites", "isSupplementTo", "isSupplementedBy", "isContinuedBy", "continues", "isDescribedBy",
    "describes", "hasMetadata", "isMetadataFor", "isNewVersionOf", "isPreviousVersionOf", "isPartOf", "hasPart",
    "isReferencedBy", "references", "isDocumentedBy", "documents", "isCompiledBy", "compiles", "isVariantFormOf",
    "isOriginalFormof", "isIdenticalTo", "isAlternateIdentifier", "isReviewedBy", "reviews", "isDerivedFrom",
    "isSourceOf", "requires", "isRequiredBy", "isObsoletedBy", "obsoletes"})


def _text(meta: dict, key: str) -> list[str]:
    value = meta.get(key)
    return [] if isinstance(value, str) and value.strip() else [f"'{key}' must be a non-empty string"]


def _creators(meta: dict) -> list[str]:
    creators = meta.get("creators")
    if not isinstance(creators, list) or not creators:
        return ["'creators' must be a non-empty list of {\"name\": ...}"]
    return [f"creators[{i}] has no 'name'" for i, c in enumerate(creators)
            if not (isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip())]


def _related(meta: dict) -> list[str]:
    related = meta.get("related_identifiers", [])
    if not isinstance(related, list):
        return ["'related_identifiers' must be a list"]
    problems = []
    for i, r in enumerate(related):
        if not isinstance(r, dict) or not r.get("identifier"):
            problems.append(f"related_identifiers[{i}] has no 'identifier'")
        elif r.get("relation") not in RELATIONS:
            problems.append(f"related_identifiers[{i}]: relation {r.get('relation')!r} is not one of Zenodo's "
                            "(e.g. 'references', 'isSupplementTo')")
    return problems


def zenodo_problems(meta: object) -> list[str]:
    """What keeps `meta` from being a valid Zenodo deposit description; empty when nothing does."""
    if not isinstance(meta, dict):
        return ["the file must hold one JSON object"]
    problems = [*_text(meta, "title"), *_text(meta, "description"), *_creators(meta), *_related(meta)]
    if meta.get("upload_type") not in UPLOAD_TYPES:
        problems.append(f"'upload_type' {meta.get('upload_type')!r} is not one of {sorted(UPLOAD_TYPES)}")
    access = meta.get("access_right")
    if access not in ACCESS_RIGHTS:
        problems.append(f"'access_right' {access!r} is not one of {sorted(ACCESS_RIGHTS)}")
    elif access in ("open", "embargoed"):
        problems += _text(meta, "license")
    if "keywords" in meta and not (isinstance(meta["keywords"], list)
                                   and all(isinstance(k, str) and k for k in meta["keywords"])):
        problems.append("'keywords' must be a list of non-empty strings")
    return problems


def load(path: Path) -> dict:
    """The metadata in `path`, or ValueError naming the file and every problem."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it as JSON ({exc})") from None
    problems = zenodo_problems(meta)
    if problems:
        raise ValueError(f"{path} is not valid Zenodo metadata: " + "; ".join(problems))
    return meta


def main(argv: list[str] | None = None) -> int:
    """`python -m parbench.archive_metadata FILE KEY...`: check FILE and print each KEY's value, one a line."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m parbench.archive_metadata .zenodo.json [KEY...]", file=sys.stderr)
        return 2
    try:
        meta = load(Path(args[0]))
    except ValueError as exc:
        print(f"archive metadata: {exc}", file=sys.stderr)
        return 2
    for key in args[1:]:
        print(meta.get(key, ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
