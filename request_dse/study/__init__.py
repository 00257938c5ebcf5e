"""The study: a YAML file read into validated frozen records, then resolved into a runnable plan.

:func:`load_study` checks the file's fields (every error names the file, the field path and the
rule); :func:`load_plan` resolves what it names -- target, backend catalogs, space fragments,
workload -- and assembles the search space.
"""

from __future__ import annotations

from request_dse.study.file import load_study
from request_dse.study.fragment import Fragment, load_fragment
from request_dse.study.paths import REPO_ROOT, available_names, find_data_file, find_file
from request_dse.study.plan import Plan, compatible, load_plan
from request_dse.study.records import (
                                       EXECUTORS,
                                       SAMPLER_OPTIONS,
                                       SAMPLERS,
                                       BuildConfig,
                                       ConfirmConfig,
                                       SamplerConfig,
                                       Study,
                                       TrackingConfig,
)

__all__ = ["EXECUTORS", "REPO_ROOT", "SAMPLERS", "SAMPLER_OPTIONS", "BuildConfig", "ConfirmConfig", "Fragment",
           "Plan", "SamplerConfig", "Study", "TrackingConfig", "available_names", "compatible", "find_data_file",
           "find_file", "load_fragment", "load_plan", "load_study"]
