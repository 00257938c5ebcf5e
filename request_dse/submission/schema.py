"""The versioned JSON Schema of ``submission.json`` (and ``system.json``), checked on write and read."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from request_dse.submission.errors import BundleError

SCHEMA_VERSION = 1
SCHEMA_NAME = f"submission-{SCHEMA_VERSION}.json"


def schema_path() -> Path:
    """Where the schema file lives (``request_dse/schemas/submission-1.json``)."""
    return Path(str(resources.files("request_dse") / "schemas" / SCHEMA_NAME))


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text())


@cache
def _validator(definition: str | None) -> Any:
    import jsonschema

    doc = schema()
    if definition is not None:
        doc = {**doc["$defs"][definition], "$defs": doc["$defs"]}
    return jsonschema.Draft202012Validator(doc, format_checker=jsonschema.FormatChecker())


def _where(error: Any) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def check_document(doc: Any, bundle: str | Path, file: str = "submission.json", definition: str | None = None) -> None:
    """Raise :class:`BundleError` (``schema``) naming the first violation by its JSON path."""
    errors = sorted(_validator(definition).iter_errors(doc), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = first.message if len(first.message) <= 300 else first.message[:300] + "..."
        raise BundleError(bundle, "schema", f"{file}: {_where(first)}: {message} "
                                            f"(schema {SCHEMA_NAME}){more}")


def check_system(doc: Any, bundle: str | Path) -> None:
    check_document(doc, bundle, "system.json", definition="system")
