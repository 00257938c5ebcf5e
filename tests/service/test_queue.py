"""The validation queue survives its server: killed with SIGKILL mid-validation, the server leaves no
process behind, and started again it finishes every job exactly once; stopped with Ctrl-C, it
puts its running job back without counting the attempt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from request_dse.service import load_tournament
from request_dse.service.tables import entries, jobs, validations
from request_dse.testing.service import ServerProcess
from tests.service.conftest import add_token, run_cli, variant, write_tournament

pytestmark = pytest.mark.slow  # about 40 s: three real validations, one of them run three times


def running(server: ServerProcess, token: str) -> list[dict[str, Any]]:
    return [j for j in server.get("/api/v1/jobs?state=running", token)]


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def table(url: str, query: Any) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


def test_a_killed_server_resumes_its_queue_and_finishes_every_job_once(
        tmp_path: Path, tiny_bundles: list[Path], slow_bundle: Path) -> None:
    tournament = write_tournament(tmp_path, validation={"tolerance": 3.0})
    alice, org = add_token(tournament, "alice"), add_token(tournament, "org", "organizer")
    server = ServerProcess(tournament).start()
    try:
        sent = run_cli("submit", slow_bundle, tiny_bundles[0], variant(tiny_bundles[-1], tmp_path, "two"),
                       "--server", server.url, "--token", alice)
        assert sent.code == 0 and sent.out.count("accepted as entry") == 3, sent
        first = server.wait_for("the slow bundle's job to run", lambda: running(server, org), 60)[0]
        children = server.wait_for("the job's sandboxed processes", lambda: descendants(server.process.pid), 30)
        server.kill()
        server.wait_for("every process the killed server started to end",
                        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children), 30)
        url = load_tournament(tournament).database
        (left,) = table(url, sa.select(jobs.c.state, jobs.c.attempts).where(jobs.c.id == first["id"]))
        assert (left.state, left.attempts) == ("running", 1)  # the dead server's, until a server looks

        server.start()
        again = server.wait_for("the job to run again", lambda: [j for j in running(server, org)
                                                                 if j["id"] == first["id"]], 60)[0]
        assert again["attempts"] == 2 and "stopped" in again["note"], again
        assert server.stop() == 0  # Ctrl-C: the running job goes back to the queue, the attempt not counted
        (back,) = table(url, sa.select(jobs.c.state, jobs.c.attempts, jobs.c.note).where(jobs.c.id == first["id"]))
        assert (back.state, back.attempts) == ("queued", 1) and "the server stopped while it ran" in back.note

        server.start()
        server.wait_for("every job to finish", lambda: all(j["state"] == "done"
                                                           for j in server.get("/api/v1/jobs", org)), 180)
    finally:
        server.stop()
    done = table(url, sa.select(jobs.c.id, jobs.c.state, jobs.c.attempts))
    assert len(done) == 3 and {j.state for j in done} == {"done"}
    per_job = table(url, sa.select(validations.c.job_id, sa.func.count()).group_by(validations.c.job_id))
    assert sorted(n for _, n in per_job) == [1, 1, 1] and {j for j, _ in per_job} == {j.id for j in done}
    assert {j.id: j.attempts for j in done}[first["id"]] == 2  # killed once, then finished; Ctrl-C not counted
    badges = table(url, sa.select(entries.c.id, entries.c.badge))
    assert {b for _, b in badges} == {"reproduced"}, badges
