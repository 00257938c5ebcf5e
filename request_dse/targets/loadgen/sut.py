"""LoadGen's view of a backend session: a query sample library over the held-out split, and a
system under test that answers LoadGen's queries through ``Session.place`` / ``run`` / ``fetch``.

* Loading a sample (untimed, as MLPerf has it) places it on the device when the candidate runs
  one sample a batch; larger batches are stacked from the loaded samples and placed per query.
* Queries are answered in LoadGen's own call (it accounts for every query from the time it was
  scheduled, so a busy system shows its queueing delay); only a Server run of a candidate built
  for batches of several samples hands queries to a worker thread that runs up to ``batch_size``
  queued samples at a time (a partial batch is padded, never held back).
* Each response is the sample's top-1 class as a little-endian int32: what LoadGen's accuracy
  log then holds. Each ``Session.run`` is also timed, as the request-dse protocol times it.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np


class SampleLibrary:
    """LoadGen's query sample library (QSL) over the held-out inputs ``x``."""

    def __init__(self, session: Any, x: np.ndarray, batch_size: int) -> None:
        self.session, self.x, self.batch_size = session, x, batch_size
        self.loaded: dict[int, Any] = {}

    def load(self, indices: list[int]) -> None:
        for i in indices:
            self.loaded[i] = self.session.place(np.ascontiguousarray(self.x[i:i + 1])) if self.batch_size == 1 \
                else np.ascontiguousarray(self.x[i])

    def unload(self, indices: list[int]) -> None:
        for i in indices:
            self.loaded.pop(i, None)


class SystemUnderTest:
    """LoadGen's system under test (SUT): runs queries on the session, answers with the top-1 class."""

    def __init__(self, lg: Any, session: Any, library: SampleLibrary, threaded: bool) -> None:
        self.lg, self.session, self.library = lg, session, library
        self.batch_size = library.batch_size
        self.answers = np.zeros(len(library.x), dtype="<i4")
        self._base = self.answers.ctypes.data
        self.samples_ns: list[int] = []
        self.failure: BaseException | None = None
        self._queue: collections.deque[tuple[int, int]] = collections.deque()
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="request-dse-sut", daemon=True) if threaded else None
        if self._thread is not None:
            self._thread.start()

    # -- LoadGen's callbacks ----------------------------------------------------------------------
    def issue(self, ids: list[int], indices: list[int]) -> None:
        if self._thread is None:
            if len(ids) == 1 and self.batch_size == 1:
                self._answer_one(ids[0], indices[0])
            else:
                self._answer(list(zip(ids, indices, strict=True)))
            return
        with self._wake:
            self._queue.extend(zip(ids, indices, strict=True))
            self._wake.notify()

    def flush(self) -> None:
        """LoadGen's FlushQueries: nothing is held back, so nothing to flush."""

    # -- running ----------------------------------------------------------------------------------
    def _answer_one(self, rid: int, idx: int) -> None:
        """One query of one sample on a one-sample candidate: the SingleStream and Server path,
        kept to the fewest Python steps -- they count in LoadGen's latency of every query."""
        clock, session = time.perf_counter_ns, self.session
        try:
            placed = self.library.loaded[idx]
            t = clock()
            output = session.run(placed)
            self.samples_ns.append(clock() - t)
            self.answers[idx] = np.asarray(session.fetch(output))[0].argmax()
        except BaseException as exc:  # noqa: BLE001 - kept and raised after LoadGen returns
            self.failure = self.failure or exc
            self.answers[idx] = -1
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(rid, self._base + 4 * idx, 4)])

    def _answer(self, pairs: list[tuple[int, int]]) -> None:
        """Run ``pairs`` in batches; complete them together (a query is done when all its samples
        are; one completion call costs LoadGen less than one a sample)."""
        responses = []
        for k in range(0, len(pairs), self.batch_size):
            chunk = pairs[k:k + self.batch_size]
            try:
                top = self._run(chunk)
            except BaseException as exc:  # noqa: BLE001 - kept and raised after LoadGen returns
                self.failure = self.failure or exc
                top = np.full(len(chunk), -1, dtype="<i4")
            for (rid, idx), cls in zip(chunk, top, strict=True):
                self.answers[idx] = cls
                responses.append(self.lg.QuerySampleResponse(rid, self._base + 4 * idx, 4))
        self.lg.QuerySamplesComplete(responses)

    def _run(self, chunk: list[tuple[int, int]]) -> np.ndarray:
        loaded = self.library.loaded
        if self.batch_size == 1:
            placed = loaded[chunk[0][1]]
        else:
            batch = np.stack([loaded[idx] for _, idx in chunk])
            if len(chunk) < self.batch_size:
                batch = np.concatenate([batch, np.zeros((self.batch_size - len(chunk), *batch.shape[1:]), batch.dtype)])
            placed = self.session.place(batch)
        t = time.perf_counter_ns()
        output = self.session.run(placed)
        self.samples_ns.append(time.perf_counter_ns() - t)
        logits = np.asarray(self.session.fetch(output))
        return np.argmax(logits.reshape(len(logits), -1)[:len(chunk)], axis=1).astype("<i4")

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stop:
                    self._wake.wait()
                if self._stop and not self._queue:
                    return
                chunk = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._answer(chunk)

    def close(self) -> None:
        if self._thread is not None:
            with self._wake:
                self._stop = True
                self._wake.notify()
            self._thread.join(timeout=60)
