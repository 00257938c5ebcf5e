"""Baselines: every available backend with its default flags on every zoo model and precision.

ONNX Runtime with its defaults, TVM with its default pipeline and no tuning, PyTorch eager: the
defaults of each backend's catalog (``backends/<name>.yaml``), overridden only where a backend
class declares ``baseline_flags``. Each candidate is built and measured through an executor
like any trial (builds in worker processes, measurements exclusive per target), and every one
that succeeds becomes a bundle of kind ``baseline``.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from request_dse.errors import UserError

#: Backends that exist to test request-dse itself never make baselines.
TESTING_PREFIX = "request_dse.testing."
OBJECTIVES = [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}]


@dataclass
class BaselineRun:
    bundles: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)   # (label, status, error)
    skipped_backends: list[tuple[str, str]] = field(default_factory=list)


def baseline_backends(target_spec: Any, wanted: Sequence[str] = ()) -> tuple[list[str], list[tuple[str, str]]]:
    """Backends of the registry that can run on the target (testing ones excluded), and why others cannot."""
    from request_dse.backends import BACKENDS, get_backend

    usable, skipped = [], []
    for name, where in BACKENDS.items():
        if where.startswith(TESTING_PREFIX) or (wanted and name not in wanted):
            continue
        if name not in target_spec.frameworks:
            skipped.append((name, f"target {target_spec.name} does not list it"))
            continue
        try:
            reason = get_backend(name).unavailable(target_spec)
        except Exception as exc:  # noqa: BLE001 - a broken optional backend must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
        if reason:
            skipped.append((name, reason))
        else:
            usable.append(name)
    unknown = [w for w in wanted if w not in BACKENDS]
    if unknown:
        raise UserError(f"--backend: unknown backend {unknown[0]!r} (known: "
                        f"{', '.join(n for n, w in BACKENDS.items() if not w.startswith(TESTING_PREFIX))})")
    return usable, skipped


def study_doc(workload: str, target_path: Path, backends: Sequence[str], work_dir: Path,
              measure: dict[str, Any]) -> dict[str, Any]:
    from request_dse.backends import get_backend

    frameworks = {}
    for name in backends:
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


def run_baselines(workload: str, target: str, *, backends: Sequence[str] = (), models: Sequence[str] = (),
                  precisions: Sequence[str] = (), measure: dict[str, Any] | None = None, out: Path | None = None,
                  executor: str | None = None, echo: Callable[[str], None] | None = None) -> BaselineRun:
    from request_dse.config import find_data_file, load_target
    from request_dse.execute import make_executor
    from request_dse.plan import load_plan, make_job
    from request_dse.targets import option_specs
    from request_dse.workloads import ZOO

    echo = echo or (lambda _: None)
    measure = dict(measure or {})
    if workload not in ZOO:
        raise UserError(f"--workload: baselines are measured on zoo workloads ({', '.join(ZOO)}); got {workload!r}")
    target_path = find_data_file("targets", target, Path.cwd())
    if target_path is None:
        raise UserError(f"--target: no target named {target!r} (looked in targets/ here, on REQUEST_DSE_PATH and in "
                        "the repository)")
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
    echo(f"{len(candidates)} baseline candidate(s): {', '.join(usable)} x "
         f"{len({_model_id(plan, c) for c in candidates})} model/precision pair(s) on {spec.name}")
    out = out or Path.cwd() / "submissions" / f"baseline-{workload}-{spec.name}"
    rebuild = command_line(workload, target, backends, models, precisions, measure)
    runner = make_executor(plan, executor)
    results = []
    try:
        jobs = [make_job(plan, i, c) for i, c in enumerate(candidates)]
        queue = list(jobs)
        while queue or runner.in_flight:
            while queue and runner.in_flight < runner.capacity:
                runner.submit(queue.pop(0))
            for job, result in runner.wait(timeout=0.25):
                label = f"{job.candidate['framework']} {_model_id(plan, job.candidate)}"
                shown = (f"p90 {result.metrics.get('latency_p90_ms', float('nan')):.4g} ms, "
                         f"top-1 {result.metrics.get('accuracy_top1', float('nan')):.4f}") if result.ok \
                    else (result.error.splitlines()[0][:100] if result.error else "")
                echo(f"  [{len(results) + 1}/{len(jobs)}] {label}: {result.status} {shown}")
                results.append((job, result))
    finally:
        runner.shutdown()
    for job, result in sorted(results, key=lambda jr: jr[0].number):
        label = f"{job.candidate['framework']} {_model_id(plan, job.candidate)}"
        if not result.ok:
            run.failed.append((label, result.status, result.error))
            continue
        run.bundles.append(_write(plan, job, result, out, rebuild))
    return run


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


def _write(plan: Any, job: Any, result: Any, out: Path, rebuild: str) -> Path:
    import dataclasses

    from request_dse import sysinfo
    from request_dse.backends import get_backend
    from request_dse.confirm import load_sessions
    from request_dse.intervals import metric_intervals
    from request_dse.report import candidate_label
    from request_dse.submission import system
    from request_dse.submission.emit import display
    from request_dse.submission.writer import Entry, write_bundle
    from request_dse.trial import PREDICTIONS

    candidate = job.candidate
    backend = candidate["framework"]
    model_id = _model_id(plan, candidate)
    name = f"{backend}-{model_id}"
    sessions = load_sessions(result.samples_path) or []
    prepared = plan.workload.prepare(candidate, plan.cache_dir / "prepared")
    version = get_backend(backend).version()
    entry = Entry(
        id=f"{plan.name}-{name}", kind="baseline", label=f"{candidate_label(candidate.params)} (defaults)",
        candidate=candidate.params, candidate_hash=candidate.hash, backend=backend, backend_version=version,
        flags=plan.flags(candidate), build_info={k: v for k, v in result.info.items() if k != "energy_source"},
        target_name=plan.target_spec.name, target_kind=plan.target_spec.kind, target_system=plan.target.system(),
        batch_size=plan.batch_size(candidate), threads=plan.threads(candidate),
        protocol=dataclasses.asdict(plan.study.measure), metrics=result.metrics,
        intervals=metric_intervals(sessions, result.metrics, plan.batch_size(candidate)),
        objectives=[(o.metric, o.direction) for o in plan.study.objectives], artifact_dir=result.artifact_dir,
        samples_path=result.samples_path, prepared=prepared, workload=plan.workload.name,
        predictions_path=result.samples_path.parent / PREDICTIONS, rebuild=rebuild,
        energy_source=str(result.info.get("energy_source", "")), sessions=len(sessions),
        location=display(out / name),
    )
    return write_bundle(entry, out / name, system.describe(entry.target_system, backend, version,
                                                           versions=sysinfo.versions()))
