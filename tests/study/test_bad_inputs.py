"""Every malformed input under tests/data/bad/ ends with its exact one-line error and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def _cases() -> list[tuple[str, str]]:
    rows = []
    for line in (BAD / "expected.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            case, message = line.split("\t", 1)
            rows.append((case, message))
    return rows


CASES = _cases()


def test_corpus_is_large_and_complete() -> None:
    on_disk = {p.name for p in BAD.iterdir() if p.name != "expected.tsv"}
    assert on_disk == {case for case, _ in CASES}
    assert len(CASES) >= 40
    kinds = {case.split("-")[0] for case, _ in CASES}
    assert {"study", "target", "catalog", "fragment", "workload"} <= kinds


@pytest.mark.parametrize(("case", "message"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_gives_its_one_line_error(cli, case: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = BAD / case
    study = path / "study.yaml" if path.is_dir() else path
    result = cli("space", study)
    assert result.code == 2, result
    assert "Traceback" not in result.err and result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    shown = lines[0].replace(f"{path}/", "").replace(f"{BAD}/", "")
    assert shown == f"request-dse: error: {message}"


def test_bad_input_changes_nothing_in_an_existing_study(cli, write_study, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A study that ran keeps its storage byte for byte when a later run is refused."""
    study = write_study("keep", budget={"trials": 2})
    assert cli("tune", study, "-q").code == 0
    journal = tmp_path / ".request-dse" / "keep" / "study.journal"
    before = journal.read_bytes()
    text = study.read_text().replace("trials: 2", "trials: zero")
    study.write_text(text)
    result = cli("tune", study)
    assert result.code == 2 and "budget.trials" in result.err
    assert journal.read_bytes() == before
