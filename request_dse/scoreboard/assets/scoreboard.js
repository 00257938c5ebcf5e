// request-dse scoreboard: workload, filters, axis choice, 2-D Pareto frontier and hypervolume, all client-side.
// The rules match request_dse/scoreboard/frontier.py: one workload at a time; an entry lacking a chosen
// axis is left out of that frontier only; every participant is measured against one shared reference point.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("scoreboard-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const W = 860, H = 520, M = {left: 78, right: 24, top: 18, bottom: 58};
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#7f7f7f", "#d62728", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"];
  const FACETS = [["track", "track"], ["target", "target"], ["framework", "framework"],
                  ["precision", "precision"], ["kind", "baseline or not"]];
  const WORKLOADS = (DATA.workloads || []).length ? DATA.workloads : [{name: null, x: DATA.defaults.x, y: DATA.defaults.y}];
  const entries = DATA.entries.map(function (e) {
    return Object.assign({}, e, {kind: e.baseline ? "baseline" : "entry"});
  });
  const participants = unique(entries.map(function (e) { return e.participant; }));
  const color = {};
  participants.forEach(function (p, i) { color[p] = i < PALETTE.length ? PALETTE[i] : "hsl(" + ((i * 47) % 360) + ",55%,45%)"; });
  const ROW_LIMIT = 300;  // rows laid out at once: a table of thousands takes seconds to lay out
  const state = {workload: WORKLOADS[0].name, x: DATA.defaults.x, y: DATA.defaults.y, xlog: false, ylog: false, filters: {},
                 sort: {col: "frontier", dir: 1}, selected: null, limit: ROW_LIMIT};
  function inWorkload(e) { return state.workload === null || e.workload === state.workload; }
  function workloadEntries() { return entries.filter(inWorkload); }
  function metricsOf(list) { return DATA.metrics.filter(function (m) { return list.some(function (e) { return value(e, m) !== null; }); }); }
  let METRICS = metricsOf(workloadEntries());

  function unique(values) { return values.filter(function (v, i) { return values.indexOf(v) === i; }); }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function value(e, m) {
    const v = e.metrics[m];
    return (typeof v === "number" && isFinite(v)) ? v : null;
  }
  function axis(m) { return DATA.axes[m] || {unit: "", direction: "minimize", family: "other", description: ""}; }
  function better(m) { return axis(m).direction === "maximize" ? "higher is better" : "lower is better"; }
  function fmt(v, m) {
    if (v === null || v === undefined) return "—";
    if (m && m.indexOf("accuracy") === 0) return v.toFixed(4);
    if (m && (/_bytes$/.test(m) || m === "params" || m === "flops" || m === "samples")) return Math.round(v).toLocaleString("en");
    const a = Math.abs(v);
    if (v !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }

  // ---------- Pareto logic (minimization after negating maximized axes) ----------
  function toMin(v, m) { return axis(m).direction === "maximize" ? -v : v; }
  function frontierOf(pts) {  // pts: [{e, x, y}] in minimized units; the non-dominated ones (ties all kept)
    const sorted = pts.slice().sort(function (a, b) { return a.x - b.x || a.y - b.y; });
    const out = [];
    let bestY = Infinity, i = 0;
    while (i < sorted.length) {  // one group of equal x at a time: its lowest y, if below all before
      let j = i;
      while (j < sorted.length && sorted[j].x === sorted[i].x) j++;
      const minY = sorted[i].y;
      if (minY < bestY) {
        for (let k = i; k < j && sorted[k].y === minY; k++) out.push(sorted[k]);
        bestY = minY;
      }
      i = j;
    }
    return out;
  }
  function referencePoint(pts) {  // worst value pushed out by 10 % of the range (of its size when flat)
    function ref(vals) {
      const lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals), span = hi - lo;
      return hi + 0.1 * (span > 0 ? span : Math.max(Math.abs(hi), 1e-9));
    }
    return {x: ref(pts.map(function (p) { return p.x; })), y: ref(pts.map(function (p) { return p.y; }))};
  }
  function hypervolume(pts, ref) {
    const inside = frontierOf(pts.filter(function (p) { return p.x < ref.x && p.y < ref.y; }))
      .sort(function (a, b) { return a.x - b.x || a.y - b.y; });
    let volume = 0, bestY = ref.y;
    inside.forEach(function (p) {
      if (p.y < bestY) { volume += (ref.x - p.x) * (bestY - p.y); bestY = p.y; }
    });
    return volume;
  }

  // ---------- controls ----------
  function fillAxisSelect(select, chosen) {
    const own = workloadEntries();
    clear(select);
    METRICS.forEach(function (m) {
      const a = axis(m), n = own.filter(function (e) { return value(e, m) !== null; }).length;
      const label = m + (a.unit ? " [" + a.unit + "]" : "") + " — " + better(m) + " (" + n + "/" + own.length + ")";
      const opt = el("option", {value: m, title: a.description || ""}, label);
      if (m === chosen) opt.selected = true;
      select.appendChild(opt);
    });
  }
  function defaultLog(m) {
    const vals = workloadEntries().map(function (e) { return value(e, m); }).filter(function (v) { return v !== null; });
    if (!vals.length || vals.some(function (v) { return v <= 0; })) return false;
    return Math.max.apply(null, vals) / Math.min.apply(null, vals) > 100;
  }
  function canLog(m) {
    return workloadEntries().every(function (e) { const v = value(e, m); return v === null || v > 0; });
  }
  function buildFilters() {
    const box = document.getElementById("filters");
    FACETS.forEach(function (f) {
      const key = f[0], values = unique(entries.map(function (e) { return e[key] || "—"; })).sort();
      state.filters[key] = new Set(values);
      const fs = el("fieldset", {"data-facet": key});
      fs.appendChild(el("legend", {}, f[1]));
      values.forEach(function (v) {
        const label = el("label"), box2 = el("input", {type: "checkbox", value: v, "data-facet": key});
        box2.checked = true;
        box2.addEventListener("change", function () {
          if (box2.checked) state.filters[key].add(v); else state.filters[key].delete(v);
          render();
        });
        label.appendChild(box2);
        label.appendChild(document.createTextNode(" " + v + " (" + entries.filter(function (e) { return (e[key] || "—") === v; }).length + ")"));
        fs.appendChild(label);
      });
      box.appendChild(fs);
    });
  }
  function visible(e) {
    return inWorkload(e) && FACETS.every(function (f) { return state.filters[f[0]].has(e[f[0]] || "—"); });
  }

  // ---------- scales and plot ----------
  function scale(vals, log, lo, hi) {
    let a = Math.min.apply(null, vals), b = Math.max.apply(null, vals);
    if (log) { a = Math.log10(a); b = Math.log10(b); }
    if (a === b) { const pad = log ? 0.5 : (Math.abs(a) * 0.1 || 1); a -= pad; b += pad; }
    const pad = (b - a) * 0.06; a -= pad; b += pad;
    const f = function (v) { const t = log ? Math.log10(v) : v; return lo + (t - a) / (b - a) * (hi - lo); };
    f.domain = [a, b]; f.log = log;
    return f;
  }
  function ticks(s) {
    const a = s.domain[0], b = s.domain[1], out = [];
    if (s.log) {
      const steps = (b - a) < 2.2 ? [1, 2, 5] : [1];
      for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
        steps.forEach(function (m) { const t = Math.log10(m) + k; if (t >= a && t <= b) out.push(Math.pow(10, t)); });
      }
      return out;
    }
    const raw = (b - a) / 6, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s2) { return raw <= s2; });
    for (let t = Math.ceil(a / step) * step; t <= b + 1e-12 * Math.abs(b); t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }
  function shape(e, x, y, r) {
    if (e.baseline) return "M" + x + "," + (y - r * 1.35) + "L" + (x + r * 1.35) + "," + y + "L" + x + "," + (y + r * 1.35) + "L" + (x - r * 1.35) + "," + y + "Z";
    if (e.read_only) return "M" + x + "," + (y - r * 1.3) + "L" + (x + r * 1.15) + "," + (y + r * 0.75) + "L" + (x - r * 1.15) + "," + (y + r * 0.75) + "Z";
    return "M" + (x - r) + "," + y + "a" + r + "," + r + " 0 1,0 " + (2 * r) + ",0a" + r + "," + r + " 0 1,0 " + (-2 * r) + ",0Z";
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function computeView() {
    const shown = entries.filter(visible);
    const pts = [], lacking = {};
    shown.forEach(function (e) {
      const vx = value(e, state.x), vy = value(e, state.y);
      if (vx === null || vy === null) {
        lacking[e.id] = [vx === null ? state.x : null, vy === null ? state.y : null].filter(Boolean);
        return;
      }
      pts.push({e: e, vx: vx, vy: vy, x: toMin(vx, state.x), y: toMin(vy, state.y)});
    });
    const front = frontierOf(pts);
    const frontIds = new Set(front.map(function (p) { return p.e.id; }));
    const ref = pts.length ? referencePoint(pts) : null;
    const hv = {};
    participants.forEach(function (name) {
      const own = pts.filter(function (p) { return p.e.participant === name; });
      const total = shown.filter(function (e) { return e.participant === name; });
      if (!total.length) return;
      hv[name] = {plotted: own.length, total: total.length, onFront: own.filter(function (p) { return frontIds.has(p.e.id); }).length,
                  hv: ref && own.length ? hypervolume(own, ref) : 0,
                  track: unique(total.map(function (e) { return e.track; })).join(", ")};
    });
    return {shown: shown, pts: pts, front: front, frontIds: frontIds, lacking: lacking, ref: ref, hv: hv,
            totalHv: ref ? hypervolume(pts, ref) : 0};
  }

  function drawPlot(view) {
    const grid = document.getElementById("grid"), layer = document.getElementById("points"), labels = document.getElementById("axes-labels");
    const path = document.getElementById("frontier-path");
    [grid, layer, labels].forEach(clear);
    path.setAttribute("d", ""); path.setAttribute("data-ids", "");
    grid.setAttribute("class", "grid");
    grid.appendChild(svgEl("rect", {x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom, "class": "frame"}));
    const xa = axis(state.x), ya = axis(state.y);
    labels.appendChild(svgEl("text", {x: (M.left + W - M.right) / 2, y: H - 14, "text-anchor": "middle", "class": "axis-title"},
      state.x + (xa.unit ? " [" + xa.unit + "]" : "") + " — " + better(state.x) + (state.xlog ? " (log)" : "")));
    labels.appendChild(svgEl("text", {x: 16, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", "class": "axis-title",
      transform: "rotate(-90 16 " + (M.top + H - M.bottom) / 2 + ")"},
      state.y + (ya.unit ? " [" + ya.unit + "]" : "") + " — " + better(state.y) + (state.ylog ? " (log)" : "")));
    if (!view.pts.length) {
      labels.appendChild(svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle", "class": "axis-title", id: "no-points"},
        "no shown entry has both " + state.x + " and " + state.y));
      return;
    }
    const sx = scale(view.pts.map(function (p) { return p.vx; }), state.xlog, M.left, W - M.right);
    const sy = scale(view.pts.map(function (p) { return p.vy; }), state.ylog, H - M.bottom, M.top);
    ticks(sx).forEach(function (t) {
      const x = sx(t);
      grid.appendChild(svgEl("line", {x1: x, x2: x, y1: M.top, y2: H - M.bottom}));
      const g = svgEl("g", {"class": "tick"});
      g.appendChild(svgEl("text", {x: x, y: H - M.bottom + 16, "text-anchor": "middle"}, fmt(t)));
      labels.appendChild(g);
    });
    ticks(sy).forEach(function (t) {
      const y = sy(t);
      grid.appendChild(svgEl("line", {x1: M.left, x2: W - M.right, y1: y, y2: y}));
      const g = svgEl("g", {"class": "tick"});
      g.appendChild(svgEl("text", {x: M.left - 6, y: y + 4, "text-anchor": "end"}, fmt(t)));
      labels.appendChild(g);
    });
    // the attainment staircase through the frontier, in the order of the (minimized) X axis
    const front = view.front.slice().sort(function (a, b) { return a.x - b.x || a.y - b.y; });
    let d = "";
    front.forEach(function (p, i) {
      if (i === 0) { d += "M" + sx(p.vx).toFixed(2) + "," + sy(p.vy).toFixed(2); return; }
      const prev = front[i - 1];
      d += "L" + sx(p.vx).toFixed(2) + "," + sy(prev.vy).toFixed(2) + "L" + sx(p.vx).toFixed(2) + "," + sy(p.vy).toFixed(2);
    });
    path.setAttribute("d", d);
    path.setAttribute("data-ids", front.map(function (p) { return p.e.id; }).join(" "));
    // dominated points first, frontier on top
    view.pts.slice().sort(function (a, b) { return view.frontIds.has(a.e.id) - view.frontIds.has(b.e.id); }).forEach(function (p) {
      const on = view.frontIds.has(p.e.id);
      const cls = "pt" + (p.e.baseline ? " baseline" : "") + (p.e.read_only ? " historical" : "") + (on ? " on-front" : "") +
                  (on && !p.e.validated ? " unvalidated" : "") + (state.selected === p.e.id ? " selected" : "");
      const node = svgEl("path", {d: shape(p.e, sx(p.vx), sy(p.vy), on ? 5.5 : 4.5), "class": cls, fill: color[p.e.participant],
                                  "data-id": p.e.id, "data-participant": p.e.participant});
      node.style.setProperty("--c", color[p.e.participant]);  // baselines: hollow, outlined in this colour
      node.appendChild(svgEl("title", {}, p.e.participant + (p.e.baseline ? " (baseline)" : "") + " — " + p.e.model + ", " +
        p.e.framework + ", " + p.e.target + "\n" + state.x + " = " + fmt(p.vx, state.x) + "\n" + state.y + " = " + fmt(p.vy, state.y) +
        (on ? (p.e.validated ? "\non the frontier" : "\non the frontier, not validated") : "")));
      node.addEventListener("click", function () { select(p.e.id, true); });
      layer.appendChild(node);
    });
  }

  function drawLegend(view) {
    const box = document.getElementById("legend");
    clear(box);
    function item(text, e, fill) {
      const span = el("span"), s = svgEl("svg", {width: 16, height: 16});
      s.appendChild(svgEl("path", {d: shape(e, 8, 8, 4.5), "class": "pt" + (e.baseline ? " baseline" : "") + (e.read_only ? " historical" : ""), fill: fill}));
      span.appendChild(s); span.appendChild(document.createTextNode(" " + text)); box.appendChild(span);
    }
    participants.filter(function (p) { return view.hv[p]; }).forEach(function (p) { item(p, {}, color[p]); });
    item("live entry", {}, "#aaa"); item("baseline", {baseline: true}, "#aaa"); item("historical (read-only)", {read_only: true}, "#aaa");
    const sw = el("span"); sw.appendChild(el("span", {style: "color:#b3261e;font-weight:700"}, "——")); sw.appendChild(document.createTextNode(" Pareto frontier (★ validated, ☆ not validated: dashed outline)")); box.appendChild(sw);
  }

  function drawNotes(view) {
    const lack = Object.keys(view.lacking), byAxis = {};
    lack.forEach(function (id) { view.lacking[id].forEach(function (m) { byAxis[m] = (byAxis[m] || 0) + 1; }); });
    const parts = Object.keys(byAxis).map(function (m) { return byAxis[m] + " lack " + m; });
    document.getElementById("excluded-note").textContent = lack.length
      ? lack.length + " of " + view.shown.length + " shown entries are not plotted and not in this frontier (" + parts.join("; ") +
        "); they stay in the table and compete on the axes they have."
      : "Every shown entry has both axes.";
    const tracks = unique(view.pts.map(function (p) { return p.e.track; }));
    const unvalidated = view.front.filter(function (p) { return !p.e.validated; }).length;
    document.getElementById("axis-note").textContent = (state.workload !== null ? "Workload " + state.workload + ": " : "") +
      view.pts.length + " entries plotted; " + view.front.length +
      " on the frontier" + (unvalidated ? " (" + unvalidated + " not validated)" : "") + " of " + state.x + " (" + better(state.x) + ") and " + state.y + " (" + better(state.y) + ")" +
      (tracks.length ? "; tracks with both axes: " + tracks.join(", ") + "." : ".");
    document.getElementById("hv-note").textContent = view.ref
      ? "Each participant's entries on the chosen axes, against one shared reference point (" + state.x + " = " +
        fmt(axis(state.x).direction === "maximize" ? -view.ref.x : view.ref.x, state.x) + ", " + state.y + " = " +
        fmt(axis(state.y).direction === "maximize" ? -view.ref.y : view.ref.y, state.y) +
        ": the worst shown value pushed out by 10 % of the range). Share: of the hypervolume of all shown entries together (" + fmt(view.totalHv) + ")."
      : "No shown entry has both axes.";
  }

  function drawHv(view) {
    const body = document.querySelector("#hv-table tbody");
    clear(body);
    Object.keys(view.hv).sort(function (a, b) { return view.hv[b].hv - view.hv[a].hv || a.localeCompare(b); }).forEach(function (p, i) {
      const h = view.hv[p], tr = el("tr", {"data-participant": p});
      tr.appendChild(el("td", {"class": "num"}, i + 1));
      const name = el("td"); const sw = el("span", {style: "color:" + color[p]}, "■ "); name.appendChild(sw); name.appendChild(document.createTextNode(p)); tr.appendChild(name);
      tr.appendChild(el("td", {}, h.track));
      tr.appendChild(el("td", {"class": "num"}, h.plotted + "/" + h.total));
      tr.appendChild(el("td", {"class": "num"}, h.onFront));
      tr.appendChild(el("td", {"class": "num hv", "data-hv": String(h.hv)}, fmt(h.hv)));
      tr.appendChild(el("td", {"class": "num"}, view.totalHv > 0 ? (100 * h.hv / view.totalHv).toFixed(1) + " %" : "—"));
      body.appendChild(tr);
    });
  }

  const BASE_COLUMNS = ["participant", "study", "track", "workload", "model", "target", "framework", "precision", "baseline", "badge"];
  function badgeCell(e) {
    const td = el("td"), b = e.badge || "";
    if (!b && e.claimed) {
      td.appendChild(el("span", {"class": "badge claimed", title: "what the bundle's own validation.json says; the organizer's " +
        "validation store has no verdict on this content"}, "claimed: " + e.claimed));
      return td;
    }
    const cls = e.read_only ? "historical" : (["reproduced", "functional", "available"].indexOf(b) >= 0 ? b : "none");
    td.appendChild(el("span", {"class": "badge " + cls, title: e.read_only ? "validated by the tournament's artifact evaluation; read-only" :
      (b ? "the organizer's own verdict on this content" : "")}, b || "not validated"));
    return td;
  }
  const rowCache = {};  // id -> {tr, front}: rows are built once and moved, never rebuilt
  function detailsText(e) { return Object.keys(e.details).map(function (k) { return k + "=" + e.details[k]; }).join("; "); }
  function buildRow(e) {
    const tr = el("tr", {"data-id": e.id}), front = el("td");
    tr.appendChild(front);
    BASE_COLUMNS.forEach(function (c) {
      if (c === "badge") { tr.appendChild(badgeCell(e)); return; }
      if (c === "baseline") { tr.appendChild(el("td", {}, e.baseline ? "baseline" : "")); return; }
      if (c === "participant") {
        const td = el("td"); td.appendChild(el("span", {style: "color:" + color[e.participant]}, "■ ")); td.appendChild(document.createTextNode(e.participant)); tr.appendChild(td); return;
      }
      tr.appendChild(el("td", {}, e[c]));
    });
    METRICS.forEach(function (m) {
      const v = value(e, m);
      tr.appendChild(v === null ? el("td", {"class": "missing", title: m + " not reported"}, "—") : el("td", {"class": "num", title: String(v)}, fmt(v, m)));
    });
    const details = detailsText(e);
    tr.appendChild(el("td", {"class": "details", title: details}, details));
    tr.appendChild(el("td", {}, e.source));
    tr.addEventListener("click", function () { select(e.id, false); });
    return {tr: tr, front: front};
  }
  function drawHeader() {
    const head = document.querySelector("#entries thead tr");
    clear(head);
    ["frontier"].concat(BASE_COLUMNS, METRICS, ["details", "source"]).forEach(function (c) {
      const th = el("th", {"data-column": c, title: DATA.axes[c] ? axis(c).description + " (" + better(c) + ")" : ""},
                    c + (DATA.axes[c] && axis(c).unit ? " [" + axis(c).unit + "]" : "") + (state.sort && state.sort.col === c ? (state.sort.dir > 0 ? " ▲" : " ▼") : ""));
      th.addEventListener("click", function () {
        state.sort = {col: c, dir: state.sort && state.sort.col === c ? -state.sort.dir : 1};
        drawHeader(); render();
      });
      head.appendChild(th);
    });
  }
  function drawTable(view) {
    function key(e, c) {
      if (c === "frontier") return view.frontIds.has(e.id) ? 0 : (view.lacking[e.id] ? 2 : 1);
      if (METRICS.indexOf(c) >= 0) return value(e, c);
      if (c === "details") return detailsText(e);
      return String(e[c]);
    }
    const rows = view.shown.slice();
    if (state.sort) {
      const col = state.sort.col, dir = state.sort.dir, keys = {};
      rows.forEach(function (e) { keys[e.id] = key(e, col); });
      rows.sort(function (a, b) {
        const ka = keys[a.id], kb = keys[b.id];
        if (ka === null && kb === null) return 0;
        if (ka === null) return 1;
        if (kb === null) return -1;
        return (ka < kb ? -1 : ka > kb ? 1 : 0) * dir;
      });
    }
    const frag = document.createDocumentFragment();
    rows.slice(0, state.limit).forEach(function (e) {
      const r = rowCache[e.id] || (rowCache[e.id] = buildRow(e)), on = view.frontIds.has(e.id), lacks = view.lacking[e.id];
      r.tr.className = (on ? "on-front " : "") + (on && !e.validated ? "unvalidated " : "") + (e.baseline ? "baseline " : "") +
        (e.read_only ? "historical " : "") + (state.selected === e.id ? "selected" : "");
      r.front.textContent = on ? (e.validated ? "★" : "☆ not validated") : (lacks ? "lacks " + lacks.join(", ") : "");
      r.front.title = lacks ? "not in this frontier: lacks " + lacks.join(" and ") :
        (on && !e.validated ? "on the frontier, but the organizer has not reproduced it" : "");
      frag.appendChild(r.tr);
    });
    const body = document.querySelector("#entries tbody");
    clear(body);
    body.appendChild(frag);
    const note = document.getElementById("table-note");
    clear(note);
    note.appendChild(document.createTextNode(rows.length + " of " + workloadEntries().length + " entries" +
      (state.workload !== null ? " of workload " + state.workload : "") + " pass the filters" +
      (rows.length > state.limit ? "; the first " + state.limit + " in this order are listed " : "") +
      ". A dash marks a metric the entry does not report; ★: on the frontier of the chosen axes and reproduced by the organizer; ☆: on the frontier, not validated. Click a header to sort. "));
    if (rows.length > state.limit) {
      const more = el("button", {type: "button", id: "show-all-rows"}, "list all " + rows.length);
      more.addEventListener("click", function () { state.limit = Infinity; render(); });
      note.appendChild(more);
    }
  }

  function drawTracks() {
    const box = document.getElementById("tracks");
    DATA.tracks.forEach(function (t) {
      const div = el("div", {"class": "track", "data-track": t.name});
      div.appendChild(el("h3", {}, t.name + (t.read_only ? " — read-only historical track" : "")));
      div.appendChild(el("p", {}, t.rows + " rows from " + t.source + (t.summary ? ". " + t.summary : "")));
      if (t.mapping) div.appendChild(el("p", {"class": "muted"}, t.mapping));
      if (t.rejected && t.rejected.length) {
        div.appendChild(el("p", {}, t.rejected.length + " bundle(s) rejected and not ranked:"));
        const ul = el("ul", {"class": "rejected"});
        t.rejected.forEach(function (r) { ul.appendChild(el("li", {}, r)); });
        div.appendChild(ul);
      }
      if (t.provenance) {
        const det = el("details"); det.appendChild(el("summary", {}, "provenance, units and known defects (the table's README)"));
        det.appendChild(el("pre", {}, t.provenance)); div.appendChild(det);
      }
      box.appendChild(div);
    });
  }

  function select(id, scroll) {
    state.selected = state.selected === id ? null : id;
    render();
    if (scroll && state.selected) {
      const row = document.querySelector('#entries tr[data-id="' + CSS.escape(id) + '"]');
      if (row) row.scrollIntoView({block: "nearest"});
    }
  }

  function render() {
    const view = computeView();
    drawPlot(view); drawLegend(view); drawNotes(view); drawHv(view); drawTable(view);
    document.body.setAttribute("data-rendered", String(Number(document.body.getAttribute("data-rendered") || 0) + 1));
  }

  function init() {
    const xs = document.getElementById("x-axis"), ys = document.getElementById("y-axis");
    const xl = document.getElementById("x-log"), yl = document.getElementById("y-log");
    const ws = document.getElementById("workload");
    WORKLOADS.forEach(function (w) {
      if (w.name === null) return;
      const opt = el("option", {value: w.name}, w.name + " (" + w.entries + " entries" + (w.live ? ", " + w.live + " from bundles" : "") + ")");
      if (w.name === state.workload) opt.selected = true;
      ws.appendChild(opt);
    });
    ws.disabled = WORKLOADS.length < 2;
    fillAxisSelect(xs, state.x); fillAxisSelect(ys, state.y);
    function syncLog() {
      xl.disabled = !canLog(state.x); yl.disabled = !canLog(state.y);
      state.xlog = xl.checked = !xl.disabled && defaultLog(state.x);
      state.ylog = yl.checked = !yl.disabled && defaultLog(state.y);
    }
    ws.addEventListener("change", function () {  // another workload: its own metrics, axes and frontier
      const w = WORKLOADS.filter(function (v) { return v.name === ws.value; })[0];
      state.workload = w.name; state.x = w.x; state.y = w.y; state.selected = null;
      METRICS = metricsOf(workloadEntries());
      Object.keys(rowCache).forEach(function (k) { delete rowCache[k]; });
      fillAxisSelect(xs, state.x); fillAxisSelect(ys, state.y); syncLog(); drawHeader(); render();
    });
    xs.addEventListener("change", function () { state.x = xs.value; syncLog(); render(); });
    ys.addEventListener("change", function () { state.y = ys.value; syncLog(); render(); });
    xl.addEventListener("change", function () { state.xlog = xl.checked; render(); });
    yl.addEventListener("change", function () { state.ylog = yl.checked; render(); });
    document.getElementById("swap-axes").addEventListener("click", function () {
      const t = state.x; state.x = state.y; state.y = t; xs.value = state.x; ys.value = state.y; syncLog(); render();
    });
    buildFilters(); drawTracks(); drawHeader(); syncLog();
    const live = entries.filter(function (e) { return !e.read_only; }).length;
    const named = WORKLOADS.filter(function (w) { return w.name !== null; }).length;
    document.getElementById("summary").textContent = entries.length + " entries: " + live + " from submission bundles (" +
      entries.filter(function (e) { return e.baseline; }).length + " baselines), " + (entries.length - live) +
      " from read-only historical tracks; " + participants.length + " participants; " + named + " workload" +
      (named === 1 ? "" : "s") + ", ranked separately.";
    render();
  }
  init();
})();
