"""LoadGen around one loaded backend session: runs in folders of their own, in the layout of an
MLPerf Inference result (``performance/run_1/``, ``accuracy/``, ``TEST01/``, ``TEST04/``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.targets.loadgen.logs import ACCURACY, figures, responses
from request_dse.targets.loadgen.settings import RunSettings, audit_config, test_settings, user_conf
from request_dse.targets.loadgen.sut import SampleLibrary, SystemUnderTest


@dataclass
class Run:
    """One finished LoadGen run: its folder, figures and the backend run times it caused."""

    settings: RunSettings
    folder: Path
    figures: dict[str, float]
    samples_ns: np.ndarray
    wall_s: float

    @property
    def valid(self) -> bool:
        return self.figures.get("loadgen_valid") == 1.0

    @property
    def score(self) -> float | None:
        return self.figures.get("loadgen_score")


@dataclass
class Harness:
    """LoadGen's SUT and QSL over ``session``; :meth:`run` starts one test."""

    session: Any
    x: np.ndarray
    batch_size: int
    threaded: bool
    lg: Any = field(init=False)

    def __post_init__(self) -> None:
        import mlperf_loadgen

        self.lg = mlperf_loadgen
        self.library = SampleLibrary(self.session, self.x, self.batch_size)
        self.sut = SystemUnderTest(self.lg, self.session, self.library, self.threaded)
        self._sut = self.lg.ConstructFastSUT(self.sut.issue, self.sut.flush)
        self._qsl: dict[int, int] = {}

    def _qsl_for(self, performance_count: int) -> int:
        if performance_count not in self._qsl:
            self._qsl[performance_count] = self.lg.ConstructQSL(len(self.x), performance_count, self.library.load,
                                                                self.library.unload)
        return self._qsl[performance_count]

    def run(self, settings: RunSettings, folder: Path, audit: str | None = None) -> Run:
        """One LoadGen test into ``folder`` (with ``user.conf``, and ``audit.config`` for a compliance
        test); raises what the backend raised while answering."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "user.conf").write_text(user_conf(settings))
        audit_path = folder / "audit.config"  # LoadGen reads it when it exists: never one left lying around
        if audit is not None:
            audit_path.write_text(audit)
        log = self.lg.LogSettings()
        log.log_output.outdir = str(folder)
        log.log_output.copy_summary_to_stdout = False
        log.enable_trace = False
        self.sut.samples_ns = []
        started = time.perf_counter()
        self.lg.StartTestWithLogSettings(self._sut, self._qsl_for(settings.performance_sample_count),
                                         test_settings(self.lg, settings), log, str(audit_path))
        wall = time.perf_counter() - started
        (folder / "mlperf_log_trace.json").unlink(missing_ok=True)
        if self.sut.failure is not None:
            raise self.sut.failure
        found = figures(folder, settings.scenario) if settings.mode == "performance" else {}
        return Run(settings, folder, found, np.asarray(self.sut.samples_ns, dtype=np.int64), wall)

    def predictions(self, folder: Path) -> dict[int, int]:
        """The top-1 class LoadGen logged per sample in ``folder``'s accuracy log."""
        return {i: int.from_bytes(data[:4], "little", signed=True)
                for i, data in responses(folder / ACCURACY).items() if len(data) >= 4}

    def compliance(self, test: str, settings: RunSettings, folder: Path) -> Run:
        return self.run(settings, folder / "performance" / "run_1", audit_config(test, len(self.x)))

    def close(self) -> None:
        self.sut.close()
        for qsl in self._qsl.values():
            self.lg.DestroyQSL(qsl)
        self.lg.DestroyFastSUT(self._sut)
