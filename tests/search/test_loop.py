"""The search loop: samplers, constraints, duplicates, resume, failures, exhaustion."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from request_dse.results import ResultsCache
from request_dse.search import Search, records
from request_dse.testing.faults import EXPECTED_STATUS
from request_dse.testing.studies import run_study


def run(path: Path, executor: str = "local", cache: ResultsCache | None = None) -> Search:
    return run_study(path, executor, cache)


def measured(search: Search) -> list:
    return [r for r in records(search.study) if r.measured]


@pytest.mark.parametrize("sampler", ["nsga2", "nsga3", "tpe", "gp", "random", "grid", "default"])
def test_every_sampler_measures_distinct_candidates(write_study, sampler: str) -> None:  # type: ignore[no-untyped-def]
    search = run(write_study(f"s-{sampler}", sampler={"name": sampler, "seed": 1}, budget={"trials": 5}))
    done = measured(search)
    assert len(done) == 5
    assert all(r.status == "ok" for r in done)
    assert len({r.hash for r in done}) == 5
    front, reference, hv = search.front()
    assert front and hv > 0 and len(reference) == 2


def test_samplers_are_seeded(write_study) -> None:  # type: ignore[no-untyped-def]
    a = run(write_study("seed-a", sampler={"name": "tpe", "seed": 7}, budget={"trials": 4}))
    b = run(write_study("seed-b", sampler={"name": "tpe", "seed": 7}, budget={"trials": 4}))
    assert [r.hash for r in measured(a)] == [r.hash for r in measured(b)]


def test_grid_exhausts_a_small_space(write_study) -> None:  # type: ignore[no-untyped-def]
    search = run(write_study("grid", sampler={"name": "grid", "seed": 0}, budget={"trials": 50}))
    assert search.exhausted
    assert len(measured(search)) == search.plan.space.count() == 8


def test_stuck_sampler_falls_back_to_unmeasured_candidates(write_study) -> None:  # type: ignore[no-untyped-def]
    """NSGA-II proposes duplicates on a tiny space; every candidate still gets measured once."""
    search = run(write_study("stuck", sampler={"name": "nsga2", "seed": 0}, budget={"trials": 50}))
    assert search.exhausted and search.stop_reason == "search space exhausted"
    hashes = [r.hash for r in measured(search)]
    assert len(hashes) == len(set(hashes)) == 8


def test_metric_constraints_make_trials_infeasible(write_study) -> None:  # type: ignore[no-untyped-def]
    search = run(write_study("cons", constraints=["accuracy_top1 >= 0.95"], sampler={"name": "grid"},
                             budget={"trials": 8}))
    by_status = Counter(r.status for r in measured(search))
    assert by_status["infeasible"] >= 1 and by_status["ok"] >= 1
    for r in measured(search):
        assert (r.metrics["accuracy_top1"] >= 0.95) == (r.status == "ok")
        if r.status == "infeasible":
            assert "violates accuracy_top1 >= 0.95" in r.error
            assert r.constraints["accuracy_top1 >= 0.95"] > 0
    front, _, _ = search.front()
    assert all(r.metrics["accuracy_top1"] >= 0.95 for r in front)


def test_space_constraints_are_never_measured(write_study) -> None:  # type: ignore[no-untyped-def]
    search = run(write_study("excl", space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                                           "model.resolution": [4, 8], "model.precision": ["fp32"]},
                                            "constraints": ["model.resolution != 4"]},
                             sampler={"name": "random", "seed": 2}, budget={"trials": 10}))
    done = measured(search)
    assert all(r.params["model.resolution"] == 8 for r in done)
    assert len(done) == 4
    skipped = [r for r in records(search.study) if r.skip == "excluded"]
    assert all("excluded by the space" in r.error for r in skipped)


def test_resume_does_not_measure_again(write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("resume", budget={"trials": 3}, sampler={"name": "random", "seed": 4})
    first = run(path)
    first_done = {r.number: r.hash for r in measured(first)}
    assert len(first_done) == 3
    doc = path.read_text().replace("trials: 3", "trials: 6")
    path.write_text(doc)
    second = run(path)
    done = measured(second)
    assert len(done) == 6
    assert len({r.hash for r in done}) == 6
    for r in done:  # the first three kept their numbers and results
        if r.number in first_done:
            assert r.hash == first_done[r.number]
    again = run(path)  # budget reached: nothing new
    assert len(measured(again)) == 6


def test_results_cache_makes_reruns_free(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = ResultsCache(tmp_path / "results")
    a = run(write_study("c1", cache=True, budget={"trials": 3}, sampler={"name": "grid"}), cache=cache)
    b = run(write_study("c2", cache=True, budget={"trials": 3}, sampler={"name": "grid"}), cache=cache)
    assert not any(r.cached for r in measured(a))
    assert all(r.cached for r in measured(b))
    assert [r.metrics for r in measured(a)] == [r.metrics for r in measured(b)]


def test_duplicates_are_told_again_not_measured(write_study) -> None:  # type: ignore[no-untyped-def]
    search = run(write_study("dup", sampler={"name": "tpe", "seed": 0}, budget={"trials": 8}))
    all_records = records(search.study)
    dups = [r for r in all_records if r.skip == "duplicate"]
    by_number = {r.number: r for r in all_records}
    for d in dups:
        original = by_number[d.duplicate_of]
        assert d.hash == original.hash and d.metrics == original.metrics
    assert len({r.hash for r in measured(search)}) == len(measured(search))


FAULTS = ["segfault", "abort", "exit", "hang", "oom", "raise", "wrong_output", "noisy"]


@pytest.mark.slow
def test_every_fault_ends_its_trial_and_the_study_goes_on(write_study) -> None:  # type: ignore[no-untyped-def]
    path = write_study("faults", frameworks={"faults": {"fault": FAULTS, "stage": ["build", "measure"]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                             "model.resolution": [4], "model.precision": ["fp32"]}},
                       sampler={"name": "grid"}, budget={"trials": 16},
                       measure={"warmup_runs": 1, "min_runs": 5, "min_time_s": 0, "max_time_s": 1, "repeats": 1,
                                "timeout_s": 10, "memory_limit_mb": 1500},
                       build={"timeout_s": 10, "memory_limit_mb": 1500})
    search = run(path)
    done = measured(search)
    assert len(done) == 16
    for r in done:
        expected = EXPECTED_STATUS[(r.params["faults.fault"], r.params["faults.stage"])]
        assert r.status == expected, (r.params, r.status, r.error)
        if expected != "ok":
            assert r.error
    segv = next(r for r in done if r.params["faults.fault"] == "segfault")
    assert "SIGSEGV" in segv.error


def test_study_with_other_objectives_is_refused(write_study, cli) -> None:  # type: ignore[no-untyped-def]
    path = write_study("obj", budget={"trials": 1})
    run(path)
    path.write_text(path.read_text().replace("latency_p90_ms", "latency_p50_ms"))
    result = cli("tune", path)
    assert result.code == 2
    assert "optimizes accuracy_top1, latency_p90_ms, not accuracy_top1, latency_p50_ms" in result.err


def test_report_json_round_trip(write_study, cli) -> None:  # type: ignore[no-untyped-def]
    path = write_study("rep", budget={"trials": 3})
    assert cli("tune", path, "-q").code == 0
    result = cli("report", path, "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert [t["number"] for t in report["trials"]] == sorted(t["number"] for t in report["trials"])
    assert set(report["reference_point"]) == {"accuracy_top1", "latency_p90_ms"}


def test_a_changed_dimension_is_refused_not_spun_on(write_study, cli) -> None:  # type: ignore[no-untyped-def]
    path = write_study("changed", budget={"trials": 2})
    assert cli("tune", path, "-q", "--no-export").code == 0
    path.write_text(path.read_text().replace("- 0.5", "- 0.75"))
    result = cli("tune", path, "-q", "--no-export")
    assert result.code == 2, result
    assert result.err.strip().splitlines() == [
        f"request-dse: error: {path}: space: dimension model.width is now [0.25, 0.75], but study 'changed' in "
        f"journal:{path.parent / '.request-dse' / 'changed' / 'study.journal'} started with [0.25, 0.5]; a running "
        "study cannot change a dimension: restore it, or give the study another name or work_dir"]


def test_a_share_another_process_held_and_gave_back_is_measured(write_study, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Another live process stores its candidate on a trial while this one proposes, so this one
    counts the budget as taken; then that trial turns out a twin and is skipped. The share is free
    again: this process measures it instead of ending one trial short of the budget."""
    import os
    import socket

    import psutil

    from request_dse.search import load_existing, loop
    from request_dse.search.ledger import Ledger
    from request_dse.search.storage import HASH, OWNER
    from request_dse.study import load_plan

    path = write_study("given-back", budget={"trials": 1})
    measured_first = {r.hash for r in records(run_study(path).study) if r.measured}
    plan = load_plan(path)
    study = load_existing(plan.storage_url, plan.name)
    parent = psutil.Process(os.getppid())   # alive for the whole test: the other process's owner
    other = next(c for c in plan.space.enumerate() if c.hash not in measured_first)
    study.enqueue_trial(other.params)
    held = study.ask()                      # the other process has asked; it stores its candidate later
    plan.space.suggest(held)
    held.set_user_attr(OWNER, f"{socket.gethostname()}:{parent.pid}:{parent.create_time()}")
    path.write_text(path.read_text().replace("trials: 1", "trials: 2"))

    claimed, skip = loop.claimed_elsewhere, Ledger.skip

    def other_process_stores_its_candidate(index, number, candidate_hash, mine):  # type: ignore[no-untyped-def]
        if HASH not in study.trials[held.number].user_attrs:
            held.set_user_attr(HASH, other.hash)
        return claimed(index, number, candidate_hash, mine)

    def then_gives_its_share_back(self, trial, kind, status, error):  # type: ignore[no-untyped-def]
        skip(self, trial, kind, status, error)
        if kind == "budget":
            skip(self, held, "duplicate", "duplicate", "a twin of a trial of its own process")

    monkeypatch.setattr(loop, "claimed_elsewhere", other_process_stores_its_candidate)
    monkeypatch.setattr(Ledger, "skip", then_gives_its_share_back)
    again = run_study(path, "inline")
    recs = records(again.study)
    assert [r.skip for r in recs].count("budget") == 1        # the share looked taken at first
    assert len([r for r in recs if r.measured]) == 2, [(r.number, r.status, r.skip) for r in recs]
    assert again.stop_reason == "budget reached"


def test_candidates_a_dead_run_left_running_are_measured_first(write_study) -> None:  # type: ignore[no-untyped-def]
    """A killed run leaves its trials RUNNING; the next run marks them interrupted and measures
    their candidates before anything new."""
    import socket

    from request_dse.search import load_existing
    from request_dse.search.storage import HASH, OWNER
    from request_dse.study import load_plan

    path = write_study("lost", budget={"trials": 1})
    first = run_study(path)
    measured = {r.hash for r in records(first.study) if r.measured}
    plan = load_plan(path)
    study = load_existing(plan.storage_url, plan.name)
    lost = [c for c in plan.space.enumerate() if c.hash not in measured][-2:]
    for candidate in lost:  # what a run killed with kill -9 leaves: its trials RUNNING, their owner dead
        study.enqueue_trial(candidate.params)
        trial = study.ask()
        plan.space.suggest(trial)
        trial.set_user_attr(OWNER, f"{socket.gethostname()}:999999999:0.00")
        trial.set_user_attr(HASH, candidate.hash)
    path.write_text(path.read_text().replace("trials: 1", "trials: 3"))
    again = run_study(path)
    recs = records(again.study)
    assert sorted(r.status for r in recs if r.hash in {c.hash for c in lost} and not r.measured) == \
        ["interrupted", "interrupted"]
    assert {r.hash for r in recs if r.measured} == measured | {c.hash for c in lost}
