"""The Pareto plot of a study: a self-contained interactive HTML page (no CDN) and a PNG.

The plot shows the first two objectives: every ``ok`` trial as a grey dot, the Pareto front as
a red staircase (its boundary) and dots labelled with their trial numbers; each axis names its metric, unit and
better direction, and is logarithmic when its values span more than a decade (a front from
0.03 to 22 ms is readable). Hovering a dot of the HTML page shows the trial's metrics and
candidate.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.metrics import METRICS
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
const T = (v, log) => log ? Math.log10(v) : v;
function span(v, log) {{ let lo = Math.min(...v.map(x => T(x, log))), hi = Math.max(...v.map(x => T(x, log)));
  if (lo === hi) {{ lo -= log ? 0.5 : 1; hi += log ? 0.5 : 1; }}
  const pad = (hi - lo) * 0.05; return [lo - pad, hi + pad]; }}
const [x0, x1] = span(data.points.map(p => p.x), data.xlog), [y0, y1] = span(data.points.map(p => p.y), data.ylog);
const sx = x => M + (T(x, data.xlog) - x0) / (x1 - x0) * (W - 2 * M);
const sy = y => H - M - (T(y, data.ylog) - y0) / (y1 - y0) * (H - 2 * M);
function ticks(a, b, log) {{
  if (!log) return [0, 1, 2, 3, 4].map(i => a + (b - a) * i / 4);
  const out = [];
  for (let k = Math.floor(a); k <= Math.ceil(b); k++) for (const m of (b - a > 3 ? [1] : [1, 2, 5]))
    {{ const t = k + Math.log10(m); if (t >= a && t <= b) out.push(Math.pow(10, t)); }}
  return out; }}
el("line", {{x1: M, y1: H - M, x2: W - M, y2: H - M, stroke: "#888"}});
el("line", {{x1: M, y1: M, x2: M, y2: H - M, stroke: "#888"}});
for (const v of ticks(x0, x1, data.xlog))
  el("text", {{x: sx(v), y: H - M + 18, "text-anchor": "middle", "font-size": 11}}, Number(v.toPrecision(3)));
for (const v of ticks(y0, y1, data.ylog))
  el("text", {{x: M - 6, y: sy(v) + 4, "text-anchor": "end", "font-size": 11}}, Number(v.toPrecision(3)));
el("text", {{x: W / 2, y: H - 15, "text-anchor": "middle"}}, data.xlabel);
el("text", {{x: 15, y: H / 2, transform: `rotate(-90 15 ${{H / 2}})`, "text-anchor": "middle"}}, data.ylabel);
const front = data.points.filter(p => p.front).sort((a, b) => a.x - b.x);
if (data.stair.length > 1) el("polyline", {{points: data.stair.map(([x, y]) => `${{sx(x)}},${{sy(y)}}`).join(" "),
  fill: "none", stroke: "#d62728", "stroke-width": 1.5}});
for (const p of front) el("text", {{x: sx(p.x) + 8, y: sy(p.y) - 6, "font-size": 11, fill: "#d62728"}}, p.number);
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
        out.append({"x": r.metrics[x], "y": r.metrics[y], "front": r.number in on_front, "number": r.number,
                    "label": label + "\n" + candidate_label(r.params)})
    return out


def log_scale(values: Sequence[float]) -> bool:
    """A logarithmic axis when every value is positive and they span more than a decade."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def axis_label(metric: str) -> str:
    """``latency_p90_ms [ms], lower is better``: the metric, its unit and which way is better."""
    known = METRICS.get(metric)
    if known is None:
        return metric
    return f"{metric} [{known.unit}], {'higher' if known.better == 'maximize' else 'lower'} is better"


def _axes(points: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    y = names[1] if len(names) > 1 else names[0]
    xlog, ylog = log_scale([p["x"] for p in points]), log_scale([p["y"] for p in points])
    return {"xlabel": axis_label(names[0]) + (" (log scale)" if xlog else ""), "xlog": xlog,
            "ylabel": axis_label(y) + (" (log scale)" if ylog else ""), "ylog": ylog,
            "stair": staircase(points, names[0], y)}


def staircase(points: Sequence[dict[str, Any]], x: str, y: str) -> list[tuple[float, float]]:
    """The front's boundary: its points by x, joined through the corner that is worse on both axes
    (what the front dominates lies beyond it)."""
    def worse(metric: str) -> Any:
        known = METRICS.get(metric)
        return min if known is not None and known.better == "maximize" else max

    best = sorted((p for p in points if p["front"]), key=lambda p: p["x"])
    out: list[tuple[float, float]] = []
    for a, b in zip(best, best[1:], strict=False):
        out += [(a["x"], a["y"]), (worse(x)(a["x"], b["x"]), worse(y)(a["y"], b["y"]))]
    return out + [(best[-1]["x"], best[-1]["y"])] if best else out


def pareto_html(path: Path, title: str, subtitle: str, records: Sequence[Any], front: Sequence[Any],
                names: Sequence[str], table_html: str = "") -> Path:
    """Write the interactive plot to ``path`` (one file, no network needed to view it)."""
    points = _points(records, front, names)
    data = {"points": points, **_axes(points, names)}
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
    fig = pareto_figure(plt, title, records, front, names)
    fig.savefig(path)
    plt.close(fig)
    return path


def pareto_figure(plt: Any, title: str, records: Sequence[Any], front: Sequence[Any], names: Sequence[str]) -> Any:
    """The static plot: trials in grey, the front in red, its staircase and its trial numbers;
    an axis is logarithmic when its values span more than a decade."""
    points = _points(records, front, names)
    axes = _axes(points, names)
    fig, ax = plt.subplots(figsize=(7.2, 4.8), dpi=100)
    rest = [p for p in points if not p["front"]]
    best = sorted((p for p in points if p["front"]), key=lambda p: p["x"])
    ax.scatter([p["x"] for p in rest], [p["y"] for p in rest], c="#999999", s=18, alpha=0.6,
               label=f"other trials ({len(rest)})")
    ax.plot([x for x, _ in axes["stair"]], [y for _, y in axes["stair"]], c="#d62728", lw=1.2, alpha=0.7)
    ax.scatter([p["x"] for p in best], [p["y"] for p in best], c="#d62728", s=42, zorder=3,
               label=f"Pareto front ({len(best)})")
    for p in best:
        ax.annotate(str(p["number"]), (p["x"], p["y"]), xytext=(5, 4), textcoords="offset points", fontsize=8,
                    color="#d62728")
    ax.set_xscale("log" if axes["xlog"] else "linear")
    ax.set_yscale("log" if axes["ylog"] else "linear")
    ax.set_xlabel(axes["xlabel"])
    ax.set_ylabel(axes["ylabel"])
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both" if axes["xlog"] or axes["ylog"] else "major")
    ax.legend()
    fig.tight_layout()
    return fig


def table_html(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
