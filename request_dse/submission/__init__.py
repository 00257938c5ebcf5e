"""Tournament submissions: bundles of Pareto points and baselines, their schema, and validation.

Reader API (what the scoreboard and other tools use)::

    from request_dse.submission.bundle import load_bundles, open_bundle, read_bundle

    bundles, rejected = load_bundles(["submissions/"])   # verified Bundle objects, BundleErrors
    for b in bundles:
        b.id, b.kind, b.label, b.workload, b.framework, b.target, b.study
        b.objectives               # [(metric, direction), ...]
        b.metrics                  # {metric: value}
        b.interval("latency_p90_ms")   # (low, high) or None
        b.pareto                   # {rank, confirmed, ties, dominated_within_noise_by} or None
        b.digest                   # sha256 of checksums.sha256: names the content
        b.claimed_badges           # what a validation.json beside it claims (the participant's file)

    from request_dse.submission.store import ValidationStore
    ValidationStore().get(b.digest)  # the organizer's own verdict: where badges come from

Every reader verifies checksums and the schema before returning anything; a bad bundle raises
:class:`BundleError` (a UserError: exit code 2) whose ``reason`` says which rule it broke.
"""

from __future__ import annotations

from request_dse.submission.bundle import (
                                           Bundle,
                                           find_bundles,
                                           load_bundles,
                                           open_bundle,
                                           read_bundle,
                                           read_validation,
                                           validation_path,
)
from request_dse.submission.errors import REASONS, BundleError
from request_dse.submission.schema import SCHEMA_VERSION, schema_path
from request_dse.submission.store import ValidationStore

__all__ = ["REASONS", "SCHEMA_VERSION", "Bundle", "BundleError", "ValidationStore", "find_bundles", "load_bundles",
           "open_bundle", "read_bundle", "read_validation", "schema_path", "validation_path"]
