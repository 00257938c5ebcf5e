"""Samplers by name, each seeded. Strings become Optuna sampler objects only here.

``default`` is request-dse's own space-aware, model-based sampler (:mod:`.default`); on
spaces too large to enumerate it is NSGA-II. The options each sampler accepts are
:data:`request_dse.study.SAMPLER_OPTIONS` (checked when the study is read).
"""

from __future__ import annotations

import warnings
from typing import Any

from request_dse.search.samplers.default import SpaceAwareSampler, make_default_sampler
from request_dse.study import SamplerConfig

__all__ = ["SpaceAwareSampler", "make_default_sampler", "make_sampler"]


def make_sampler(config: SamplerConfig, budget: int, plan: Any = None) -> Any:
    """The Optuna sampler a (validated) study asks for (``plan``: its space, for ``default``)."""
    import optuna

    options = dict(config.options)
    seed = config.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if config.name == "default" and plan is not None:
            sampler = make_default_sampler(plan, options, seed, budget)
            if sampler is not None:
                return sampler
            options = {k: v for k, v in options.items() if k == "population_size"}
        if config.name in ("nsga2", "default", "nsga3"):
            options.setdefault("population_size", max(6, min(50, budget // 4)))
            cls = optuna.samplers.NSGAIIISampler if config.name == "nsga3" else optuna.samplers.NSGAIISampler
            return cls(seed=seed, **options)
        if config.name == "tpe":
            options.setdefault("n_startup_trials", max(4, min(10, budget // 4)))
            options.setdefault("multivariate", True)
            options.setdefault("constant_liar", True)
            return optuna.samplers.TPESampler(seed=seed, **options)
        if config.name == "gp":
            options.setdefault("n_startup_trials", max(4, min(10, budget // 4)))
            return optuna.samplers.GPSampler(seed=seed, **options)
        return optuna.samplers.RandomSampler(seed=seed)
