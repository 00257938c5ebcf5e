"""The one place YAML becomes validated, frozen records.

Every error names the file, the field path and the rule (:class:`~request_dse.errors.ConfigError`).
"""

from request_dse.config._paths import REPO_ROOT, available_names, find_data_file
from request_dse.config._yaml import load_yaml
from request_dse.config.catalog import Catalog, Flag, load_catalog
from request_dse.config.fragment import Fragment, load_fragment
from request_dse.config.study import (BuildConfig, ConfirmConfig, MeasureConfig, Objective, SamplerConfig, Study,
                                      TrackingConfig, WorkloadRef, load_study)
from request_dse.config.target import PowerModel, TargetSpec, load_target

__all__ = [
    "REPO_ROOT", "available_names", "find_data_file", "load_yaml",
    "Catalog", "Flag", "load_catalog", "Fragment", "load_fragment",
    "BuildConfig", "ConfirmConfig", "MeasureConfig", "Objective", "SamplerConfig", "Study", "TrackingConfig",
    "WorkloadRef", "load_study", "PowerModel", "TargetSpec", "load_target",
]
