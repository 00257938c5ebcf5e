"""The search space: dimensions, candidates, constraints, and the declarations they are read from.

Workloads declare ``model.*`` dimensions, backend catalogs their flags, targets their thread
counts, and studies narrow them; everything above speaks this vocabulary.
"""

from __future__ import annotations

from request_dse.space.candidate import Candidate, canonical_json
from request_dse.space.declare import parse_declaration, parse_override, parse_when
from request_dse.space.dimension import Dimension, Kind
from request_dse.space.space import MAX_ENUMERATION, Constraint, SearchSpace

__all__ = ["MAX_ENUMERATION", "Candidate", "Constraint", "Dimension", "Kind", "SearchSpace", "canonical_json",
           "parse_declaration", "parse_override", "parse_when"]
