"""The live scoreboard page: the scoreboard's own page, rendered from the database, with the
tournament's tracks (frontier and hypervolume of each) above it and a script that reloads it
when the database's revision moves (server-sent events; polling where EventSource is missing).

Everything that comes from a bundle or a participant is escaped (``html.escape`` here; the
scoreboard embeds its data as escaped JSON and draws it with ``textContent``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from html import escape

from request_dse.errors import UserError
from request_dse.scoreboard import Entry, render_html
from request_dse.scoreboard.page import build_page
from request_dse.service.board import Standing, declared
from request_dse.service.tournament import Tournament, iso
from request_dse.text import fmt

STYLE = """<style>
#tournament .standing { border: 1px solid var(--line, #ddd); border-radius: 4px; padding: 8px 12px; margin: 8px 0; }
#tournament h3 { margin: 2px 0 4px; font-size: 15px; }
.badge.pending { background: #f1f1f1; border-color: #999; }
.badge.failed { background: #fbe0de; border-color: #b3261e; }
#tournament table { margin: 4px 0; }
</style>"""

LIVE = """<script>
(function () {
  "use strict";
  const revision = __REVISION__, base = "__BASE__", loaded = Date.now(), EVERY_MS = 3000;
  let reloading = false;
  document.body.setAttribute("data-live-revision", String(revision));
  function reloadIf(next) {  // at most one reload every 3 s, however fast the board changes
    if (Number(next) === revision || reloading) return;
    reloading = true;
    setTimeout(function () { window.location.reload(); }, Math.max(0, EVERY_MS - (Date.now() - loaded)));
  }
  function poll() {
    fetch(base + "api/v1/revision", {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (d) { reloadIf(d.revision); }).catch(function () {});
  }
  if (window.EventSource) {
    const events = new EventSource(base + "api/v1/events");
    events.addEventListener("revision", function (e) { reloadIf(e.data); });
    events.onerror = function () { setTimeout(poll, 3000); };
  } else {
    setInterval(poll, 3000);
  }
  function linkEntries() {  // the scoreboard's source column holds /entries/<id>: make it a link
    document.querySelectorAll("#entries tbody tr td:last-child").forEach(function (td) {
      const text = td.textContent;
      if (/^\\/entries\\/[0-9a-f]{16}$/.test(text) && !td.querySelector("a")) {
        const a = document.createElement("a");
        a.href = base + text.slice(1); a.textContent = text; td.textContent = ""; td.appendChild(a);
      }
    });
  }
  new MutationObserver(linkEntries).observe(document.body, {attributes: true, attributeFilter: ["data-rendered"]});
  linkEntries();
})();
</script>"""


def live_script(revision: int, base: str = "") -> str:
    return STYLE + LIVE.replace("__REVISION__", str(int(revision))).replace("__BASE__", base)


def csp(*trusted: str) -> str:
    """A Content-Security-Policy that runs only the inline scripts of ``trusted`` (our own markup,
    rendered before any participant's text is put in): nothing else, no event handler attributes."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
                      for part in trusted for m in re.findall(r"<script>(.*?)</script>", part, re.S))
    return (f"default-src 'none'; script-src {hashes or chr(39) + 'none' + chr(39)}; style-src 'unsafe-inline'; "
            "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _window(tournament: Tournament, now: dt.datetime) -> str:
    parts = []
    if tournament.opens:
        parts.append(("opened " if now >= tournament.opens else "opens ") + iso(tournament.opens))
    if tournament.closes:
        parts.append(("closed " if now >= tournament.closes else "closes ") + iso(tournament.closes))
    return ", ".join(parts) or "open"


def _standing_html(s: Standing, by_id: dict[str, Entry], now: dt.datetime, base: str) -> str:
    t = s.track
    state = t.closed_reason(now) or "open for submissions" + (f" until {iso(t.closes)}" if t.closes else "")
    metrics = ", ".join(f"{o.direction} {o.metric}" for o in t.metrics)
    counts = ", ".join(f"{n} {b}" for b, n in sorted(s.counts.items())) or "none yet"
    ref = ", ".join(f"{o.metric} {fmt(v, o.metric)}" for o, v in zip(t.metrics, s.reference, strict=True))
    out = [f'<div class="standing" data-track="{escape(t.name)}">',
           f"<h3>{escape(t.name)} &mdash; {escape(t.workload)} on {escape(t.target)}</h3>",
           f'<p class="muted">{escape(t.description)}</p>' if t.description else "",
           f"<p>Ranks {escape(metrics)}" + (f"; rules: {escape('; '.join(str(r) for r in t.rules))}" if t.rules else "")
           + f". {escape(state)}.</p>",
           f"<p>Entries: {escape(counts)}. Ranked: the {len(s.ranked)} reproduced entr"
           f"{'y' if len(s.ranked) == 1 else 'ies'} within the rules; hypervolume against the reference point "
           f"({escape(ref)}{'' if s.reference_given else ', computed from the entries'}).</p>"]
    if s.hypervolume:
        out.append('<table class="hv"><thead><tr><th>participant</th><th>on the frontier</th><th>hypervolume</th>'
                   "<th>share</th></tr></thead><tbody>")
        for participant, volume in sorted(s.hypervolume.items(), key=lambda kv: -kv[1]):
            on = sum(1 for i in s.front if by_id[i].participant == participant)
            share = f"{100 * volume / s.total:.1f} %" if s.total > 0 else "-"
            out.append(f'<tr data-participant="{escape(participant)}"><td>{escape(participant)}</td><td>{on}</td>'
                       f'<td class="num">{volume:.6g}</td><td class="num">{share}</td></tr>')
        out.append("</tbody></table>")
    if s.front:
        items = "".join(f'<li><a href="{escape(base)}entries/{escape(i)}">{escape(i)}</a> '
                        f"{escape(by_id[i].participant)}: {escape(by_id[i].details.get('label', ''))}</li>"
                        for i in s.front)
        out.append(f'<p>Frontier:</p><ul class="frontier">{items}</ul>')
    out.append("</div>")
    return "\n".join(x for x in out if x)


def tournament_section(tournament: Tournament, standings: Sequence[Standing], entries: Sequence[Entry],
                       revision: int, base: str = "") -> str:
    now = dt.datetime.now(dt.UTC)
    by_id = {e.id: e for e in entries}
    body = "\n".join(_standing_html(s, by_id, now, base) for s in standings)
    about = f"<p>{escape(tournament.description)}</p>" if tournament.description else ""
    return (f'<section id="tournament" data-revision="{int(revision)}"><h2>Tracks</h2>{about}'
            f'<p class="muted">Tournament {escape(tournament.name)}: {escape(_window(tournament, now))}. Badges are '
            "this service's own validations of each bundle (pending until its job ends). The page updates by itself; "
            f'the data is also at <a href="{escape(base)}api/v1/entries">api/v1/entries</a> '
            f'(<a href="{escape(base)}api/v1/openapi.json">API description</a>).</p>'
            f"{body}</section>")


def board_page(tournament: Tournament, entries: Sequence[Entry], standings: Sequence[Standing], revision: int,
               directions: dict[str, str], *, live: bool = True, base: str = "") -> tuple[str, str]:
    """The whole page at ``/`` and its Content-Security-Policy. ``live=False``: a file to keep or
    publish (no reloading; links to entries go to ``base``, the server's URL)."""
    section = tournament_section(tournament, standings, entries, revision, base)
    script = live_script(revision, base) if live else STYLE
    try:
        page = build_page(entries, declared={**directions, **declared(tournament)}, title=tournament.title,
                          bundle_sources=[f"submissions to tournament {tournament.name}"])
    except UserError:  # no entries yet (or none with a metric): the tracks alone
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(tournament.title)}'
                f'</title><link rel="icon" href="data:,"></head><body data-rendered="1"><header><h1>'
                f"{escape(tournament.title)}</h1><p>No entries yet.</p></header>{section}"
                f"{script}</body></html>", csp(script))
    note = ("Badges come from this service's validation jobs (pending, available, functional, reproduced or failed), "
            "never from a file inside a bundle.")
    tracks = tuple({**t, "mapping": note} if not t.get("read_only") else t for t in page.tracks)
    html = render_html(dataclasses.replace(page, tracks=tracks))  # its data is escaped JSON: no markup of theirs
    policy = csp(html, script)
    html = html.replace("</header>", "</header>\n" + section, 1)
    end = html.rfind("</body>")
    return html[:end] + script + html[end:], policy
