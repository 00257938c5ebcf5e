"""A loopback index serving the probe backend's library (request-dse-probe 1.0 and 2.0; 3.0
and 4.0 resolve but their wheels are missing), and the probe backend as a plug-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from request_dse.testing.index import LocalIndex, local_index
from request_dse.testing.probe import DISTRIBUTION, MODULE

PROBE_PLUGINS = "request_dse.testing.faults,request_dse.testing.noop,request_dse.testing.probe"


@pytest.fixture(scope="session")
def probe_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    folder = tmp_path_factory.mktemp("index")
    with local_index(folder, DISTRIBUTION, MODULE, ["1.0", "2.0"], missing=["3.0", "4.0"]) as index:
        yield index


@pytest.fixture
def probe(probe_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> LocalIndex:
    """The index in uv's configuration and the probe backend among the plug-ins."""
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", probe_index.url)
    monkeypatch.setenv("REQUEST_DSE_PLUGINS", PROBE_PLUGINS)
    return probe_index
