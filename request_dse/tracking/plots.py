"""The Pareto plot of a study: a self-contained interactive HTML page (no CDN) and a PNG.

The plot shows the first two objectives: every ``ok`` trial as a grey dot, the Pareto front as
a red line and dots; hovering a dot shows the trial's number, metrics and candidate.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.results import candidate_label

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
svg {{ background: #fff; border: 1px solid #ddd; }}
circle {{ cursor: pointer; }}
#tip {{ position: fixed; display: none; background: #222; color: #fff; padding: .4em .6em; border-radius: 4px;
       font: 12px monospace; white-space: pre; pointer-events: none; }}
table {{ border-collapse: collapse; margin-top: 1em; font-size: 13px; }}
td, th {{ border: 1px solid #ddd; padding: .2em .5em; text-align: right; }}
</style></head><body>
<h2>{title}</h2>
<p>{subtitle}</p>
<svg id="plot" width="{w}" height="{h}"></svg>
<div id="tip"></div>
{table}
<script>
const data = {data};
const W = {w}, H = {h}, M = 60;
const svg = document.getElementById("plot"), tip = document.getElementById("tip");
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {{
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  svg.appendChild(e); return e;
}}
const xs = data.points.map(p => p.x), ys = data.points.map(p => p.y);
function span(v) {{ let lo = Math.min(...v), hi = Math.max(...v); if (lo === hi) {{ lo -= 1; hi += 1; }}
  const pad = (hi - lo) * 0.05; return [lo - pad, hi + pad]; }}
const [x0, x1] = span(xs), [y0, y1] = span(ys);
const sx = x => M + (x - x0) / (x1 - x0) * (W - 2 * M), sy = y => H - M - (y - y0) / (y1 - y0) * (H - 2 * M);
el("line", {{x1: M, y1: H - M, x2: W - M, y2: H - M, stroke: "#888"}});
el("line", {{x1: M, y1: M, x2: M, y2: H - M, stroke: "#888"}});
for (let i = 0; i <= 4; i++) {{
  const xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
  el("text", {{x: sx(xv), y: H - M + 18, "text-anchor": "middle", "font-size": 11}}, xv.toPrecision(3));
  el("text", {{x: M - 6, y: sy(yv) + 4, "text-anchor": "end", "font-size": 11}}, yv.toPrecision(3));
}}
el("text", {{x: W / 2, y: H - 15, "text-anchor": "middle"}}, data.xlabel);
el("text", {{x: 15, y: H / 2, transform: `rotate(-90 15 ${{H / 2}})`, "text-anchor": "middle"}}, data.ylabel);
const front = data.points.filter(p => p.front).sort((a, b) => a.x - b.x);
if (front.length > 1) el("polyline", {{points: front.map(p => `${{sx(p.x)}},${{sy(p.y)}}`).join(" "),
  fill: "none", stroke: "#d62728", "stroke-width": 1.5}});
for (const p of data.points) {{
  const c = el("circle", {{cx: sx(p.x), cy: sy(p.y), r: p.front ? 6 : 4, fill: p.front ? "#d62728" : "#999",
    opacity: p.front ? 1 : 0.6}});
  c.addEventListener("mousemove", ev => {{ tip.style.display = "block"; tip.textContent = p.label;
    tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px"; }});
  c.addEventListener("mouseleave", () => {{ tip.style.display = "none"; }});
}}
</script></body></html>
"""


def _points(records: Sequence[Any], front: Sequence[Any], names: Sequence[str]) -> list[dict[str, Any]]:
    on_front = {r.number for r in front}
    x, y = names[0], names[1] if len(names) > 1 else names[0]
    out = []
    for r in records:
        if r.status != "ok" or x not in r.metrics or y not in r.metrics:
            continue
        label = f"trial {r.number}\n" + "\n".join(f"{m} = {r.metrics[m]:.6g}" for m in names if m in r.metrics)
        out.append({"x": r.metrics[x], "y": r.metrics[y], "front": r.number in on_front,
                    "label": label + "\n" + candidate_label(r.params)})
    return out


def pareto_html(path: Path, title: str, subtitle: str, records: Sequence[Any], front: Sequence[Any],
                names: Sequence[str], table_html: str = "") -> Path:
    """Write the interactive plot to ``path`` (one file, no network needed to view it)."""
    data = {"points": _points(records, front, names), "xlabel": names[0], "ylabel": names[1] if len(names) > 1 else names[0]}
    text = _PAGE.format(title=html.escape(title), subtitle=html.escape(subtitle), w=720, h=480, table=table_html,
                        data=json.dumps(data).replace("</", "<\\/"))
    path.write_text(text)
    return path


def pareto_png(path: Path, title: str, records: Sequence[Any], front: Sequence[Any], names: Sequence[str]) -> Path | None:
    """Write the static plot with matplotlib; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    points = _points(records, front, names)
    fig, ax = plt.subplots(figsize=(7.2, 4.8), dpi=100)
    rest = [p for p in points if not p["front"]]
    best = sorted((p for p in points if p["front"]), key=lambda p: p["x"])
    ax.scatter([p["x"] for p in rest], [p["y"] for p in rest], c="#999999", s=18, alpha=0.6, label="trials")
    ax.plot([p["x"] for p in best], [p["y"] for p in best], "o-", c="#d62728", ms=6, label="Pareto front")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if len(names) > 1 else names[0])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def table_html(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
