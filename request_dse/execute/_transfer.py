"""Values handed back by a sandboxed worker, as data only: JSON plus one ``.npz`` of arrays.

A sandboxed worker may have run someone else's native code, so what it sends back is read as
data, never unpickled: numbers, strings, lists, mappings with string keys, paths, NumPy arrays
(no objects) and the frozen records the caller names in ``allowed`` (rebuilt field by field).
The arrays' declared sizes are checked before they are loaded.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.bounded import Refused, npz_arrays, read_json

RESULT_JSON = "result.json"
RESULT_ARRAYS = "result.npz"
#: The most a worker's answer may hold (a session's samples and outputs are far smaller).
MAX_RESULT_BYTES = 256 << 20


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        arrays.append(np.ascontiguousarray(value))
        return {"__array__": len(arrays) - 1}
    if isinstance(value, Path):
        return {"__path__": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__record__": type(value).__qualname__,
                "fields": {f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {"__map__": {k: _encode(v, arrays) for k, v in value.items()}}
    raise TypeError(f"a sandboxed worker cannot send back a {type(value).__name__}")


def write(folder: Path, status: str, value: Any) -> None:
    """The worker's side: ``status`` and ``value`` into ``folder`` (arrays first, JSON last)."""
    arrays: list[np.ndarray] = []
    doc = {"status": status, "value": _encode(value, arrays)}
    with open(folder / RESULT_ARRAYS, "wb") as f:
        np.savez(f, **{f"a{i}": a for i, a in enumerate(arrays)})
    (folder / RESULT_JSON).write_text(json.dumps(doc))


def _decode(doc: Any, arrays: Mapping[str, np.ndarray], records: Mapping[str, type]) -> Any:
    if doc is None or isinstance(doc, (bool, int, float, str)):
        return doc
    if isinstance(doc, list):
        return [_decode(v, arrays, records) for v in doc]
    if not isinstance(doc, dict) or len(doc) not in (1, 2):
        raise ValueError("not a value a worker sends")
    if "__array__" in doc:
        return arrays[f"a{int(doc['__array__'])}"]
    if "__path__" in doc:
        return Path(str(doc["__path__"]))
    if "__tuple__" in doc:
        return tuple(_decode(v, arrays, records) for v in doc["__tuple__"])
    if "__map__" in doc:
        return {str(k): _decode(v, arrays, records) for k, v in doc["__map__"].items()}
    if "__record__" in doc:
        cls = records.get(str(doc["__record__"]))
        if cls is None:
            raise ValueError(f"record {doc['__record__']!r} is not one the caller expects")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = doc.get("fields", {})
        if not isinstance(fields, dict) or set(fields) - names:
            raise ValueError(f"record {doc['__record__']!r} has fields it does not declare")
        return cls(**{k: _decode(v, arrays, records) for k, v in fields.items()})
    raise ValueError("not a value a worker sends")


def read(folder: Path, allowed: Iterable[type]) -> tuple[str, Any]:
    """The parent's side: (status, value), or ValueError / OSError when the answer is missing,
    too large or not one a worker sends."""
    records = {cls.__qualname__: cls for cls in allowed}
    try:
        doc = read_json(folder / RESULT_JSON, MAX_RESULT_BYTES)
        npz_arrays(folder / RESULT_ARRAYS, MAX_RESULT_BYTES)
    except Refused as exc:
        raise ValueError(f"the worker's answer {exc}") from None
    with np.load(folder / RESULT_ARRAYS, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
        raise ValueError("the worker's answer has no status")
    return doc["status"], _decode(doc.get("value"), arrays, records)
