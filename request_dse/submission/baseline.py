"""Baselines: every available backend with its default flags on every zoo model and precision.

ONNX Runtime with its defaults, TVM with its default pipeline and no tuning, PyTorch eager: the
defaults of each backend's catalog (``backends/<name>.yaml``), overridden only where a backend
class declares ``baseline_flags``. Each candidate is built and measured through an executor
like any trial (builds in worker processes, measurements exclusive per target), and every one
that succeeds becomes a bundle of kind ``baseline``. What is measured is kept as it comes in, so
running the same command again after Ctrl-C (or a crash) measures only what is left.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from request_dse import sysinfo
from request_dse.backends import backends, get_backend
from request_dse.errors import UserError
from request_dse.evaluate import TrialJob, make_job, metric_intervals
from request_dse.execute import make_executor, run_jobs
from request_dse.results import TrialResult, candidate_label, load_samples
from request_dse.study import Plan, available_names, compatible, find_data_file, load_plan
from request_dse.submission import system
from request_dse.submission.baseline_journal import BaselineJournal
from request_dse.submission.emit import display
from request_dse.submission.entries import make_entry
from request_dse.submission.writer import write_bundle
from request_dse.targets import TargetSpec, load_target, make_target, option_specs
from request_dse.text import did_you_mean, plural
from request_dse.workloads import ZOO

#: Backends that exist to test request-dse itself never make baselines.
TESTING_PREFIX = "request_dse.testing"
OBJECTIVES = [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}]


@dataclass
class BaselineRun:
    bundles: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)   # (label, status, error)
    skipped_backends: list[tuple[str, str]] = field(default_factory=list)


def baseline_backends(target_spec: TargetSpec, wanted: Sequence[str] = ()) -> tuple[list[str], list[tuple[str, str]]]:
    """Backends of the registry that can run on the target (testing ones excluded), and why others cannot."""
    found = {name: cls for name, cls in backends().items() if not cls.__module__.startswith(TESTING_PREFIX)}
    unknown = [w for w in wanted if w not in found]
    if unknown:
        raise UserError(f"--backend: unknown backend {unknown[0]!r} (known: {', '.join(found)})"
                        f"{did_you_mean(unknown[0], found)}")
    target = make_target(target_spec)
    usable, skipped = [], []
    for name in found:
        if wanted and name not in wanted:
            continue
        if target_spec.frameworks is not None and name not in target_spec.frameworks:
            skipped.append((name, f"target {target_spec.name} does not list it"))
            continue
        backend = get_backend(name)
        try:
            reason = compatible(backend, target) or backend.unavailable(target.capabilities)
        except Exception as exc:  # noqa: BLE001 - a broken optional backend must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
        if reason:
            skipped.append((name, reason))
        else:
            usable.append(name)
    return usable, skipped


def study_doc(workload: str, target_path: Path, names: Sequence[str], work_dir: Path,
              measure: dict[str, Any]) -> dict[str, Any]:
    frameworks = {}
    for name in names:
        flags = dict(getattr(get_backend(name), "baseline_flags", {}) or {})
        frameworks[name] = {k: [v] for k, v in flags.items()}
    return {"name": f"baseline-{workload}-{target_path.stem}", "workload": workload, "target": str(target_path),
            "frameworks": frameworks, "objectives": OBJECTIVES, "budget": {"trials": 1},
            "measure": measure, "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False,
            "work_dir": str(work_dir)}


def command_line(workload: str, target: str, backends: Sequence[str], models: Sequence[str],
                 precisions: Sequence[str], measure: dict[str, Any]) -> str:
    parts = ["request-dse", "baseline", "--workload", workload, "--target", target]
    for b in backends:
        parts += ["--backend", b]
    for m in models:
        parts += ["--model", m]
    for p in precisions:
        parts += ["--precision", p]
    for key, value in measure.items():
        parts += [f"--{key.replace('_', '-')}", str(value)]
    return shlex.join(parts)


class BaselineProgress(Protocol):
    """What a caller is told as a baseline run goes (the command line draws its progress line)."""

    def start(self, to_measure: int, earlier: int) -> None: ...

    def result(self, label: str, result: TrialResult) -> None: ...


def run_baselines(workload: str, target: str, *, backends: Sequence[str] = (), models: Sequence[str] = (),
                  precisions: Sequence[str] = (), measure: dict[str, Any] | None = None, out: Path | None = None,
                  executor: str | None = None, echo: Callable[[str], None] | None = None,
                  progress: BaselineProgress | None = None, fresh: bool = False) -> BaselineRun:
    """Measure every matching candidate and write each success as a bundle in ``out``.

    What was measured is kept in the work dir as it comes in (:mod:`baseline_journal`): the
    same command run again measures only what is left, unless ``fresh``.
    """
    echo = echo or (lambda _: None)
    measure = dict(measure or {})
    if workload not in ZOO:
        raise UserError(f"--workload: baselines are measured on zoo workloads ({', '.join(ZOO)}); got {workload!r}"
                        f"{did_you_mean(workload, ZOO)}")
    target_path = find_data_file("targets", target, Path.cwd())
    if target_path is None:
        known = available_names("targets", Path.cwd())
        raise UserError(f"--target: no target named {target!r} (looked in targets/ here, on REQUEST_DSE_PATH and in "
                        f"the repository; available: {', '.join(known) or 'none'}){did_you_mean(target, known)}")
    spec = load_target(target_path, option_specs(), expected_name=target_path.stem)
    usable, skipped = baseline_backends(spec, backends)
    run = BaselineRun(skipped_backends=skipped)
    for name, reason in skipped:
        echo(f"backend {name} skipped: {reason}")
    if not usable:
        raise UserError(f"no backend can run on target {spec.name} here")
    work = Path.cwd() / ".request-dse" / f"baseline-{workload}-{spec.name}"
    work.mkdir(parents=True, exist_ok=True)
    study_path = work / "baseline.yaml"
    study_path.write_text(yaml.safe_dump(study_doc(workload, target_path.resolve(), usable, work, measure)))
    plan = load_plan(study_path)
    candidates = [c for c in plan.space.enumerate() if _wanted(plan, c, models, precisions)]
    if not candidates:
        raise UserError("no zoo model and precision matches --model / --precision")
    echo(f"{plural(len(candidates), 'baseline candidate')}: {', '.join(usable)} x "
         f"{plural(len({_model_id(plan, c) for c in candidates}), 'model/precision pair')} on {spec.name}")
    out = (out or Path.cwd() / "submissions" / f"baseline-{workload}-{spec.name}").resolve()
    rebuild = command_line(workload, target, backends, models, precisions, measure)
    journal = BaselineJournal(work, [rebuild, str(out), json.dumps(sysinfo.versions(), sort_keys=True)])
    if fresh:
        journal.forget()
    earlier = journal.load(candidates)
    if earlier:
        echo(f"{plural(len(earlier), 'candidate')} measured by an earlier run of this command (kept in "
             f"{display(journal.path)}; --fresh measures them again); "
             f"{len(candidates) - len(earlier) or 'nothing'} left to measure")
    jobs = [make_job(plan, i, c) for i, c in enumerate(candidates) if i not in earlier]
    results = {job.number: (job, result) for job, result in _measure(plan, jobs, executor, journal, progress,
                                                                    len(earlier))}
    results.update({i: (make_job(plan, i, candidates[i]), result) for i, result in earlier.items()})
    for number in sorted(results):
        job, result = results[number]
        label = f"{job.candidate['framework']} {_model_id(plan, job.candidate)}"
        if not result.ok:
            run.failed.append((label, result.status, result.error))
            continue
        run.bundles.append(_write(plan, job, result, out, rebuild))
    return run


def _measure(plan: Plan, jobs: list[TrialJob], executor: str | None, journal: BaselineJournal,
             progress: BaselineProgress | None, earlier: int) -> list[tuple[TrialJob, TrialResult]]:
    if progress is not None:
        progress.start(len(jobs), earlier)
    if not jobs:
        return []
    runner = make_executor(plan, executor)

    def finished(job: TrialJob, result: TrialResult) -> None:
        journal.record(job.number, result)
        if progress is not None:
            progress.result(f"{job.candidate['framework']} {_model_id(plan, job.candidate)}", result)

    try:
        return run_jobs(runner, jobs, finished)
    finally:
        runner.shutdown()


def _model_id(plan: Any, candidate: Any) -> str:
    entry = plan.workload.entry(candidate)
    return f"{entry['id']}-{candidate.get('model.precision', 'fp32')}"


def _wanted(plan: Any, candidate: Any, models: Sequence[str], precisions: Sequence[str]) -> bool:
    if precisions and candidate.get("model.precision", "fp32") not in precisions:
        return False
    if models:
        mid = plan.workload.entry(candidate)["id"]
        return any(fnmatch.fnmatchcase(mid, m) for m in models)
    return True


def _write(plan: Plan, job: TrialJob, result: TrialResult, out: Path, rebuild: str) -> Path:
    candidate = job.candidate
    backend = candidate["framework"]
    name = f"{backend}-{_model_id(plan, candidate)}"
    assert result.samples_path is not None and result.artifact_dir is not None  # an ok trial has both
    sessions = load_samples(result.samples_path)
    entry = make_entry(
        plan, candidate, kind="baseline", entry_id=f"{plan.name}-{name}",
        label=f"{candidate_label(candidate.params)} (defaults)", metrics=result.metrics,
        intervals=metric_intervals(sessions, result.metrics, plan.batch_size(candidate)),
        artifact_dir=result.artifact_dir, samples_path=result.samples_path, info=result.info,
        repeats=plan.study.measure.repeats, location=display(out / name), rebuild=rebuild)
    return write_bundle(entry, out / name, system.describe_entry(entry, versions=sysinfo.versions()))
