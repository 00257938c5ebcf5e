"""Samplers by name, each seeded. Strings become Optuna sampler objects only here.

``default`` is request-dse's own space-aware, model-based sampler
(:mod:`request_dse.samplers_default`); on spaces too large to enumerate it is NSGA-II.
"""

from __future__ import annotations

import warnings
from typing import Any

from request_dse.config import SamplerConfig

#: Option names each sampler accepts from ``sampler.options`` (others are rejected, not dropped).
OPTIONS: dict[str, tuple[str, ...]] = {
    "default": ("population_size", "warm_start", "n_startup", "n_trees", "kappa", "margin"),
    "nsga2": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "nsga3": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "tpe": ("n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar"),
    "gp": ("n_startup_trials", "deterministic_objective"),
    "random": (),
    "grid": (),
}


def make_sampler(config: SamplerConfig, budget: int, plan: Any = None) -> Any:
    """The Optuna sampler a (validated) study asks for (``plan``: its space, for ``default``)."""
    import optuna

    options = dict(config.options)
    seed = config.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if config.name == "default" and plan is not None:
            from request_dse.samplers_default import make_default_sampler

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
