"""The tournament service: participants submit bundles over HTTP, the service validates each one
in a sandbox on the target's own machine, and a live scoreboard ranks them per track.

::

    request-dse serve tournaments/example.yaml                 # the scoreboard on http://127.0.0.1:8470/
    request-dse admin tournaments/example.yaml token add alice  # a participant's token, shown once
    request-dse submit submissions/quickstart/*/ --server http://127.0.0.1:8470 --token rdse_...

Modules, in the order a submission travels: :mod:`.tournament` (the tournament file),
:mod:`.uploads` and :mod:`.intake` (an upload becomes an entry and a queued job),
:mod:`.queue` (jobs as database rows), :mod:`.validator`, :mod:`.runner`, :mod:`.sandbox`
and :mod:`.jobchild` (a job runs in a sandboxed child, here or as a Ray task on the target's
node), :mod:`.board`, :mod:`.pages` and :mod:`.entry_page` (the live scoreboard), :mod:`.api`,
:mod:`.auth` and :mod:`.models` (the HTTP API), :mod:`.app` and :mod:`.server` (the application
and ``serve``), :mod:`.client` (``submit``), :mod:`.admin`, :mod:`.tokens`; the database:
:mod:`.tables`, :mod:`.database` and the Alembic migrations in ``migrations/``.
"""

from __future__ import annotations

from request_dse.service.tournament import Limits, Tournament, Track, Validation, load_tournament

__all__ = ["Limits", "Tournament", "Track", "Validation", "load_tournament"]
