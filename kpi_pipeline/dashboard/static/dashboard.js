// kpi-pipeline dashboard: renders the embedded published data as an OKR tree, trend charts (inline SVG),
// an evidence drill-down, the quarantine and LLM costs. No libraries, no network. The page only formats
// numbers it was given; it never derives a KPI. State (filters, zoom, focused point) lives in the URL hash,
// so a link such as #metric=api_error_rate&day=2026-07-15 opens that day's evidence.
(async () => {
  "use strict";

  let DATA;
  try {
    DATA = await loadData();
  } catch (err) {
    fail(err);
    return;
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;
  const WINDOW_START = Date.parse(DATA.window.start + "T00:00:00Z");
  const LAST = offsetOf(DATA.window.end);
  const Q_START = offsetOf(DATA.quarter.start);
  const Q_END = offsetOf(DATA.quarter.end);
  const AS_OF = DATA.quarter.as_of ? offsetOf(DATA.quarter.as_of) : Q_END;
  const METRICS = new Map(DATA.metrics.map((m) => [m.id, m]));
  const STATUS_LABEL = { on_track: "on track", at_risk: "at risk", off_track: "off track" };
  const DIRECTION_LABEL = { higher_is_better: "higher is better", lower_is_better: "lower is better", unknown: "direction unknown" };
  const TONE_LABEL = { good: "a move the good way", bad: "a move the bad way", flat: "no change", neutral: "direction unknown: neither good nor bad" };
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  const state = { objective: "", kpi: "", from: Q_START, to: Q_END, metric: "", day: null };

  // ---------- data ----------
  // Large dashboards embed their JSON gzip-compressed and base64-encoded; the browser inflates it natively.
  async function loadData() {
    const el = document.getElementById("dashboard-data");
    if (el.dataset.encoding !== "gzip-base64") return JSON.parse(el.textContent);
    const binary = atob(el.textContent.trim());
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }
  function fail(err) {
    const box = document.getElementById("error");
    box.textContent = "The dashboard failed to render: " + err;
    box.hidden = false;
    document.body.dataset.ready = "error";
  }

  // ---------- small helpers ----------
  function offsetOf(iso) {
    return Math.round((Date.parse(iso + "T00:00:00Z") - WINDOW_START) / DAY_MS);
  }
  function isoOf(offset) {
    return new Date(WINDOW_START + offset * DAY_MS).toISOString().slice(0, 10);
  }
  function shortDate(offset) {
    const d = new Date(WINDOW_START + offset * DAY_MS);
    return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate();
  }
  function clamp(x, lo, hi) {
    return Math.max(lo, Math.min(hi, x));
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  // ---------- number formatting (display only) ----------
  // `decimals` (axis ticks) fixes the fraction digits; otherwise up to 4 significant digits are shown
  function fmt(value, unit, decimals) {
    if (value === null || value === undefined) return "–";
    const abs = Math.abs(value);
    const digits = (scaled) =>
      decimals === undefined
        ? { maximumSignificantDigits: Math.max(4, Math.floor(Math.log10(Math.abs(scaled) || 1)) + 1) }
        : { minimumFractionDigits: decimals, maximumFractionDigits: decimals };
    let text;
    if (abs >= 1e6 && decimals === undefined) text = (value / 1e6).toLocaleString("en-US", digits(value / 1e6)) + "M";
    else if (abs >= 1e4 && decimals === undefined) text = (value / 1e3).toLocaleString("en-US", digits(value / 1e3)) + "k";
    else text = value.toLocaleString("en-US", digits(value));
    return withUnit(text, unit);
  }
  // fraction digits that tell apart axis ticks `step` apart
  function tickDecimals(step) {
    return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  }
  function exact(value, unit) {
    if (value === null || value === undefined) return "–";
    return withUnit(value.toLocaleString("en-US", { maximumFractionDigits: 6 }), unit);
  }
  function withUnit(text, unit) {
    if (unit === "percent") return text + "%";
    if (unit === "usd") return "$" + text;
    if (unit === "count" || unit === "score" || !unit) return text;
    return text + " " + unit;
  }
  function share(x) {
    return x === null || x === undefined ? "–" : Math.round(x * 100) + "%";
  }
  function int(x) {
    return x === null || x === undefined ? "–" : x.toLocaleString("en-US");
  }
  function usd(x) {
    return x === null || x === undefined ? "–" : "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 });
  }

  // ---------- state <-> URL hash ----------
  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const day = (name, fallback) => {
      const v = params.get(name);
      return v && /^\d{4}-\d{2}-\d{2}$/.test(v) ? clamp(offsetOf(v), 0, LAST) : fallback;
    };
    state.objective = DATA.objectives.some((o) => o.id === params.get("objective")) ? params.get("objective") : "";
    state.kpi = METRICS.has(params.get("kpi")) ? params.get("kpi") : "";
    state.from = day("from", Q_START);
    state.to = day("to", Q_END);
    if (state.from > state.to) [state.from, state.to] = [state.to, state.from];
    state.metric = METRICS.has(params.get("metric")) ? params.get("metric") : "";
    state.day = state.metric ? day("day", null) : null;
  }
  function writeHash() {
    const params = new URLSearchParams();
    if (state.objective) params.set("objective", state.objective);
    if (state.kpi) params.set("kpi", state.kpi);
    if (state.from !== Q_START) params.set("from", isoOf(state.from));
    if (state.to !== Q_END) params.set("to", isoOf(state.to));
    if (state.metric && state.day !== null) {
      params.set("metric", state.metric);
      params.set("day", isoOf(state.day));
    }
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  function update(changes) {
    Object.assign(state, changes);
    writeHash();
    render();
  }

  // ---------- filters ----------
  function visibleMetrics() {
    return DATA.metrics.filter(
      (m) => (!state.objective || m.objectives.includes(state.objective)) && (!state.kpi || m.id === state.kpi),
    );
  }
  function setupFilters() {
    const objective = document.getElementById("filter-objective");
    append(objective, [h("option", { value: "", text: "All objectives" })]);
    for (const o of DATA.objectives) append(objective, [h("option", { value: o.id, text: o.title })]);
    objective.addEventListener("change", () => update({ objective: objective.value, kpi: "" }));
    const kpi = document.getElementById("filter-kpi");
    kpi.addEventListener("change", () => update({ kpi: kpi.value }));
    for (const id of ["filter-from", "filter-to"]) {
      const input = document.getElementById(id);
      input.min = DATA.window.start;
      input.max = DATA.window.end;
      input.addEventListener("change", () => {
        if (!input.value) return;
        const from = offsetOf(document.getElementById("filter-from").value || DATA.window.start);
        const to = offsetOf(document.getElementById("filter-to").value || DATA.window.end);
        update({ from: clamp(Math.min(from, to), 0, LAST), to: clamp(Math.max(from, to), 0, LAST) });
      });
    }
    const presets = { quarter: [Q_START, Q_END], 30: [Math.max(0, AS_OF - 29), AS_OF], all: [0, LAST] };
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => {
        const [from, to] = presets[button.dataset.preset];
        update({ from, to });
      });
    }
  }
  function renderFilters() {
    document.getElementById("filter-objective").value = state.objective;
    const kpi = document.getElementById("filter-kpi");
    kpi.replaceChildren(h("option", { value: "", text: "All KPIs" }));
    for (const m of DATA.metrics) {
      if (!state.objective || m.objectives.includes(state.objective)) append(kpi, [h("option", { value: m.id, text: m.id })]);
    }
    kpi.value = state.kpi;
    document.getElementById("filter-from").value = isoOf(state.from);
    document.getElementById("filter-to").value = isoOf(state.to);
  }

  // ---------- OKR tree ----------
  function renderOkr() {
    const tree = document.getElementById("okr-tree");
    const objectives = DATA.objectives.filter((o) => !state.objective || o.id === state.objective);
    document.getElementById("okr-as-of").textContent =
      DATA.quarter.id + (DATA.quarter.as_of ? " · as of " + DATA.quarter.as_of : " · nothing published yet");
    if (!objectives.length) {
      tree.replaceChildren(h("p", { class: "empty", text: "No objectives for " + DATA.quarter.id + "." }));
      return;
    }
    tree.replaceChildren(...objectives.map(objectiveCard));
  }
  function objectiveCard(o) {
    const counts = {};
    for (const kr of o.key_results) counts[kr.status || "no_data"] = (counts[kr.status || "no_data"] || 0) + 1;
    const worst = ["off_track", "at_risk", "no_data", "on_track"].find((st) => counts[st]) || "no_data";
    const summary = Object.entries(counts).map(([st, n]) =>
      h("span", { class: "pill status-" + st, text: n + " " + (STATUS_LABEL[st] || "no data") }),
    );
    return h(
      "article",
      { class: "objective status-edge-" + worst, "data-objective": o.id },
      h("header", {}, h("h3", { text: o.title }), h("code", { text: o.id }), h("span", { class: "summary" }, summary)),
      h("ol", { class: "krs" }, o.key_results.map((kr) => keyResultRow(o, kr))),
    );
  }
  function keyResultRow(o, kr) {
    const metric = METRICS.get(kr.metric) || { unit: "", description: "" };
    const status = kr.status || "no_data";
    const fill = kr.progress === null ? 0 : clamp(kr.progress, 0, 1) * 100;
    const expected = kr.expected === null ? null : clamp(kr.expected, 0, 1) * 100;
    return h(
      "li",
      { class: "kr status-" + status, "data-metric": kr.metric, "data-status": status },
      h(
        "div",
        { class: "kr-head" },
        h("a", {
          class: "kr-metric",
          href: "#kpi=" + encodeURIComponent(kr.metric),
          text: kr.metric,
          title: metric.description,
          onclick: (e) => {
            e.preventDefault();
            update({ kpi: kr.metric, objective: state.objective });
            document.getElementById("trends").scrollIntoView();
          },
        }),
        h("span", { class: "pill status-" + status, text: STATUS_LABEL[status] || "no data" }),
      ),
      h(
        "div",
        {
          class: "bar",
          role: "img",
          "aria-label": "progress " + share(kr.progress) + ", expected " + share(kr.expected),
        },
        h("div", { class: "fill", style: "width:" + fill.toFixed(1) + "%" }),
        expected === null ? null : h("div", { class: "expected", style: "left:" + expected.toFixed(1) + "%", title: "expected by now" }),
      ),
      h(
        "div",
        { class: "kr-numbers" },
        h("span", { class: "progress", text: "progress " + share(kr.progress) }),
        h("span", { class: "expected-text", text: "expected " + share(kr.expected) }),
        h(
          "span",
          { class: "values" },
          fmt(kr.baseline, metric.unit) + " → ",
          h("b", { text: fmt(kr.value, metric.unit) }),
          " → target " + fmt(kr.target, metric.unit),
        ),
        kr.is_carried ? h("span", { class: "asof", text: "no value on " + kr.day + ": the last one carried forward" }) : null,
        kr.day && kr.day !== DATA.quarter.as_of ? h("span", { class: "asof", text: "as of " + kr.day }) : null,
      ),
    );
  }

  // ---------- trend charts ----------
  const W = 600;
  const M = { left: 56, right: 14, top: 12 };
  const PLOT_H = 130;
  const CONF_TOP = M.top + PLOT_H + 10;
  const CONF_H = 26;
  const AXIS_Y = CONF_TOP + CONF_H + 14;
  const H = AXIS_Y + 6;

  function inRange(series) {
    const idx = [];
    for (let i = 0; i < series.d.length; i++) if (series.d[i] >= state.from && series.d[i] <= state.to) idx.push(i);
    return idx;
  }
  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const err = raw / mag;
    const step = (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1) * mag;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
    return ticks;
  }
  function dayTicks(from, to) {
    const span = to - from;
    const ticks = [];
    for (let o = from; o <= to; o++) {
      const d = new Date(WINDOW_START + o * DAY_MS);
      if (span > 120 ? d.getUTCDate() === 1 : span > 21 ? d.getUTCDay() === 1 : true) ticks.push(o);
    }
    const every = Math.ceil(ticks.length / 8);
    return ticks.filter((_, i) => i % every === 0);
  }
  function keyResultsOf(metricId) {
    const krs = [];
    for (const o of DATA.objectives) for (const kr of o.key_results) if (kr.metric === metricId) krs.push(kr);
    return krs;
  }

  function renderCharts() {
    const metrics = visibleMetrics();
    document.getElementById("trends-range").textContent =
      isoOf(state.from) + " → " + isoOf(state.to) + " · " + metrics.length + " of " + DATA.metrics.length + " KPIs";
    const charts = document.getElementById("charts");
    if (!metrics.length) {
      charts.replaceChildren(h("p", { class: "empty", text: "No KPI matches the filters." }));
      return;
    }
    charts.replaceChildren(...metrics.map(chartCard));
  }

  function chartCard(m) {
    const pts = inRange(m.points);
    const held = inRange(m.quarantine);
    const last = pts.length ? pts[pts.length - 1] : null;
    const conflicts = pts.filter((i) => m.points.s[i] === "conflict").length;
    return h(
      "article",
      { class: "kpi-card", "data-metric": m.id },
      h(
        "header",
        {},
        h("div", {}, h("h3", { text: m.id }), h("p", { class: "desc", text: m.description })),
        last === null
          ? h("div", { class: "latest empty", text: "no value in range" })
          : h(
              "div",
              { class: "latest" },
              h("b", { text: fmt(m.points.v[last], m.unit) }),
              move(m, last),
              h("span", { text: shortDate(m.points.d[last]) + " · confidence " + share(m.points.c[last]) }),
            ),
      ),
      chartSvg(m, pts, held),
      h(
        "p",
        { class: "counts" },
        pts.length + " days published · ",
        h("span", { class: conflicts ? "warn" : "", text: conflicts + " with conflicting sources" }),
        " · ",
        h("span", { class: held.length ? "bad" : "", text: held.length + " held back" }),
        " · " + (DIRECTION_LABEL[m.direction] || DIRECTION_LABEL.unknown),
      ),
    );
  }

  // the move into point i from the previous published value, coloured by the tone the payload gives it:
  // good or bad by the metric's direction, neutral when the direction is unknown
  function move(m, i) {
    const tone = m.points.t[i];
    if (!tone) return null;
    const before = m.points.v[i - 1];
    const arrow = tone === "flat" ? "→" : m.points.v[i] > before ? "▲" : "▼";
    return h("span", {
      class: "move tone-" + tone,
      "data-tone": tone,
      title: TONE_LABEL[tone],
      text: arrow + " from " + fmt(before, m.unit) + " on " + shortDate(m.points.d[i - 1]),
    });
  }

  function chartSvg(m, pts, held) {
    const from = state.from;
    const to = Math.max(state.to, state.from + 1);
    const x = (o) => M.left + ((o - from) / (to - from)) * (W - M.left - M.right);
    const krs = keyResultsOf(m.id);
    const values = pts.map((i) => m.points.v[i]);
    for (const kr of krs) values.push(kr.baseline, kr.target);
    let lo = values.length ? Math.min(...values) : 0;
    let hi = values.length ? Math.max(...values) : 1;
    if (hi === lo) {
      const pad = Math.abs(hi) * 0.05 || 1;
      lo -= pad;
      hi += pad;
    }
    const ticks = niceTicks(lo, hi, 4);
    const decimals = ticks.length > 1 ? tickDecimals(ticks[1] - ticks[0]) : undefined;
    lo = Math.min(lo, ticks[0]);
    hi = Math.max(hi, ticks[ticks.length - 1]);
    const y = (v) => M.top + PLOT_H - ((v - lo) / (hi - lo)) * PLOT_H;
    const svg = s("svg", {
      class: "chart",
      viewBox: "0 0 " + W + " " + H,
      role: "img",
      "aria-label": "trend of " + m.id,
    });
    const qa = Math.max(from, Q_START);
    const qb = Math.min(to, Q_END);
    if (qb > qa && (from < Q_START || to > Q_END)) {
      svg.append(s("rect", { class: "quarter-band", x: x(qa), y: M.top, width: x(qb) - x(qa), height: PLOT_H }));
    }
    for (const t of ticks) {
      svg.append(s("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
      svg.append(s("text", { class: "tick", x: M.left - 6, y: y(t) + 4, "text-anchor": "end", text: fmt(t, m.unit, decimals) }));
    }
    for (const o of dayTicks(from, to)) {
      svg.append(s("line", { class: "xtick", x1: x(o), x2: x(o), y1: M.top + PLOT_H, y2: CONF_TOP + CONF_H + 3 }));
      svg.append(s("text", { class: "tick", x: x(o), y: AXIS_Y + 2, "text-anchor": "middle", text: shortDate(o) }));
    }
    for (const kr of krs) {
      for (const [kind, v] of [["baseline", kr.baseline], ["target", kr.target]]) {
        svg.append(s("line", { class: "ref ref-" + kind, x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
        svg.append(s("text", { class: "ref-label ref-" + kind, x: W - M.right - 2, y: y(v) - 3, "text-anchor": "end", text: kind + " " + fmt(v, m.unit) }));
      }
    }
    // quarantined days: a red band and a cross on the axis (their value may be far off the scale)
    for (const i of held) {
      const cx = x(m.quarantine.d[i]);
      svg.append(s("rect", { class: "held-band", x: cx - 1.5, y: M.top, width: 3, height: PLOT_H }));
      svg.append(
        s("path", {
          class: "mark-quarantine",
          d: `M${cx - 4},${M.top + PLOT_H - 8}l8,8m0,-8l-8,8`,
          "data-day": isoOf(m.quarantine.d[i]),
        }),
      );
    }
    // the value line, broken where a day has no published value
    let d = "";
    let prev = null;
    for (const i of pts) {
      const o = m.points.d[i];
      d += (prev !== null && o === prev + 1 ? "L" : "M") + x(o).toFixed(1) + "," + y(m.points.v[i]).toFixed(1);
      prev = o;
    }
    svg.append(s("path", { class: "line", d }));
    const dots = to - from <= 120;
    for (const i of pts) {
      const cx = x(m.points.d[i]);
      const cy = y(m.points.v[i]);
      if (m.points.s[i] === "conflict") {
        svg.append(s("path", { class: "mark-conflict", d: `M${cx},${cy - 5}l5,5l-5,5l-5,-5z`, "data-day": isoOf(m.points.d[i]) }));
      } else if (dots) {
        svg.append(s("circle", { class: "point", cx, cy, r: 2.2 }));
      }
    }
    // confidence strip: published confidences, held-back ones in red, the metric's minimum as a line
    const cy = (c) => CONF_TOP + CONF_H - clamp(c, 0, 1) * CONF_H;
    const bw = Math.max(1, ((W - M.left - M.right) / (to - from + 1)) * 0.7);
    svg.append(s("rect", { class: "conf-bg", x: M.left, y: CONF_TOP, width: W - M.left - M.right, height: CONF_H }));
    for (const i of pts) {
      svg.append(s("rect", { class: "conf", x: x(m.points.d[i]) - bw / 2, y: cy(m.points.c[i]), width: bw, height: CONF_TOP + CONF_H - cy(m.points.c[i]) }));
    }
    for (const i of held) {
      const c = m.quarantine.c[i] ?? 0;
      svg.append(s("rect", { class: "conf conf-held", x: x(m.quarantine.d[i]) - bw / 2, y: cy(c), width: bw, height: CONF_TOP + CONF_H - cy(c) }));
    }
    if (m.min_confidence !== null) {
      svg.append(s("line", { class: "conf-min", x1: M.left, x2: W - M.right, y1: cy(m.min_confidence), y2: cy(m.min_confidence) }));
    }
    svg.append(s("text", { class: "tick", x: M.left - 6, y: CONF_TOP + CONF_H / 2 + 4, "text-anchor": "end", text: "conf." }));
    if (state.metric === m.id && state.day !== null && state.day >= from && state.day <= to) {
      svg.append(s("line", { class: "focus", x1: x(state.day), x2: x(state.day), y1: M.top, y2: CONF_TOP + CONF_H }));
    }
    const hover = s("line", { class: "hover", x1: 0, x2: 0, y1: M.top, y2: CONF_TOP + CONF_H, visibility: "hidden" });
    const brush = s("rect", { class: "brush", x: 0, y: M.top, width: 0, height: PLOT_H, visibility: "hidden" });
    svg.append(hover, brush);
    const overlay = s("rect", { class: "overlay", x: M.left, y: M.top, width: W - M.left - M.right, height: CONF_TOP + CONF_H - M.top });
    svg.append(overlay);
    interact(svg, overlay, hover, brush, m, x, from, to);
    return svg;
  }

  function interact(svg, overlay, hover, brush, m, x, from, to) {
    const toOffset = (e) => {
      const rect = svg.getBoundingClientRect();
      const sx = ((e.clientX - rect.left) / rect.width) * W;
      return clamp(Math.round(from + ((sx - M.left) / (W - M.left - M.right)) * (to - from)), from, to);
    };
    let start = null;
    overlay.addEventListener("pointerdown", (e) => {
      start = toOffset(e);
      overlay.setPointerCapture(e.pointerId);
    });
    overlay.addEventListener("pointermove", (e) => {
      const o = toOffset(e);
      if (start !== null && o !== start) {
        brush.setAttribute("x", x(Math.min(o, start)));
        brush.setAttribute("width", Math.abs(x(o) - x(start)));
        brush.setAttribute("visibility", "visible");
      }
      const near = nearest(m, o, from, to);
      if (near === null) return hideTip(hover);
      hover.setAttribute("x1", x(near.day));
      hover.setAttribute("x2", x(near.day));
      hover.setAttribute("visibility", "visible");
      showTip(e, tipText(m, near));
    });
    overlay.addEventListener("pointerleave", () => hideTip(hover));
    overlay.addEventListener("pointerup", (e) => {
      const o = toOffset(e);
      const began = start;
      start = null;
      brush.setAttribute("visibility", "hidden");
      if (began !== null && Math.abs(o - began) >= 2) {
        update({ from: Math.min(o, began), to: Math.max(o, began) });
        return;
      }
      const near = nearest(m, o, from, to);
      if (near !== null) update({ metric: m.id, day: near.day });
    });
  }

  function nearest(m, o, from, to) {
    let best = null;
    for (const [series, held] of [[m.points, false], [m.quarantine, true]]) {
      for (const day of series.d) {
        if (day < from || day > to) continue;
        if (best === null || Math.abs(day - o) < Math.abs(best.day - o)) best = { day, held };
      }
    }
    return best;
  }
  function findPoint(series, day) {
    const i = series.d.indexOf(day);
    return i < 0 ? null : i;
  }
  function tipText(m, near) {
    if (near.held) {
      const i = findPoint(m.quarantine, near.day);
      return isoOf(near.day) + " · held back: " + fmt(m.quarantine.v[i], m.unit) + " (confidence " + share(m.quarantine.c[i]) + ")";
    }
    const i = findPoint(m.points, near.day);
    const conflict = m.points.s[i] === "conflict" ? " · sources disagreed" : "";
    const tone = m.points.t[i] ? " · " + TONE_LABEL[m.points.t[i]] : "";
    return isoOf(near.day) + " · " + fmt(m.points.v[i], m.unit) + " · confidence " + share(m.points.c[i]) + conflict + tone;
  }
  const tooltip = document.getElementById("tooltip");
  function showTip(e, text) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    tooltip.style.left = Math.min(e.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8) + "px";
    tooltip.style.top = e.clientY + 14 + "px";
  }
  function hideTip(hover) {
    tooltip.hidden = true;
    hover.setAttribute("visibility", "hidden");
  }

  // ---------- evidence drill-down ----------
  function evidenceList(items) {
    if (!items.length) return h("p", { class: "empty", text: "No quotes recorded." });
    return h(
      "ul",
      { class: "quotes" },
      items.map(([sourceType, sourceId, url, quote]) =>
        h(
          "li",
          { class: "quote" },
          h("blockquote", { text: quote || "" }),
          h(
            "div",
            { class: "source" },
            h("span", { class: "badge", text: sourceType || "source" }),
            " ",
            safeUrl(url) ? h("a", { href: safeUrl(url), target: "_blank", rel: "noopener noreferrer", text: sourceId || url }) : h("code", { text: sourceId || "" }),
          ),
        ),
      ),
    );
  }
  function facts(rows) {
    return h("dl", { class: "facts" }, rows.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  }
  function renderEvidence() {
    const panel = document.getElementById("evidence");
    const m = METRICS.get(state.metric);
    if (!m || state.day === null) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    const pi = findPoint(m.points, state.day);
    const qi = findPoint(m.quarantine, state.day);
    const close = h("button", { type: "button", class: "close", "aria-label": "close", text: "×", onclick: () => update({ metric: "", day: null }) });
    const step = (dir) => {
      const days = [...m.points.d, ...m.quarantine.d].sort((a, b) => a - b);
      const next = dir > 0 ? days.find((d) => d > state.day) : [...days].reverse().find((d) => d < state.day);
      return h("button", { type: "button", class: "step", disabled: next === undefined, text: dir > 0 ? "next day →" : "← previous day", onclick: () => update({ day: next }) });
    };
    const body = [];
    if (pi !== null) {
      const [model, prompt, run, published, reasoning, evidence, conflict, restated] = m.points.info[pi];
      body.push(
        h("p", { class: "big" }, h("b", { text: exact(m.points.v[pi], m.unit) }), " ", h("span", { class: "pill status-" + m.points.s[pi], text: m.points.s[pi] })),
      );
      if (restated) {
        // [restated on, the earlier value (null: it had been withdrawn), reason, the override's note]
        const [on, was, reason, note] = restated;
        const earlier = was === null ? "not published" : exact(was, m.unit);
        body.push(
          h("p", { class: "restated" }, h("b", { text: "restated on " + on + " (was " + earlier + ")" }), " · " + reason + (note ? ": " + note : "")),
        );
      }
      body.push(
        facts([
          ["confidence", share(m.points.c[pi]) + " (minimum " + share(m.min_confidence) + ")"],
          ["sources", m.points.n[pi] + " source group(s)"],
          ["model", DATA.strings[model]],
          ["prompt version", DATA.strings[prompt]],
          ["run", DATA.strings[run]],
          ["published", DATA.strings[published]],
        ]),
        h("h4", { text: "Evidence" }),
        evidenceList(evidence),
        h("h4", { text: "The model's reasoning" }),
        h("p", { class: "reasoning", text: reasoning || "No reasoning recorded." }),
      );
      if (conflict.length) {
        body.push(
          h("h4", { text: "Conflicting readings (the first was chosen)" }),
          h(
            "div",
            { class: "conflict" },
            conflict.map((side) =>
              h(
                "div",
                { class: "side" },
                h("p", {}, h("span", { class: "badge", text: side.source_type || "source" }), " ", h("b", { text: exact(side.value, m.unit) }), " · confidence " + share(side.confidence) + (side.grounded === false ? " · not grounded" : "")),
                evidenceList(side.evidence || []),
              ),
            ),
          ),
        );
      }
    }
    if (qi !== null) {
      const [reasons, evidence, run, reasoning] = m.quarantine.info[qi];
      body.push(
        h("section", { class: "held" },
          h("h4", { text: "Held back by the quality gate" }),
          h("p", { class: "big" }, h("b", { text: exact(m.quarantine.v[qi], m.unit) }), " · confidence " + share(m.quarantine.c[qi])),
          h("ul", { class: "reasons" }, reasons.map((r) => h("li", { text: r }))),
          facts([["run", DATA.strings[run]]]),
          h("h4", { text: "Evidence as extracted" }),
          evidenceList(evidence),
          h("h4", { text: "The model's reasoning" }),
          h("p", { class: "reasoning", text: reasoning || "No reasoning recorded." }),
        ),
      );
    }
    if (pi === null && qi === null) body.push(h("p", { class: "empty", text: "Nothing was published or held back for this KPI on this day." }));
    panel.replaceChildren(
      h("header", {}, h("div", {}, h("h3", { text: m.id }), h("p", { class: "day", text: isoOf(state.day) })), close),
      h("p", { class: "desc", text: m.description }),
      ...body,
      h("footer", {}, step(-1), step(1)),
    );
    panel.dataset.metric = m.id;
    panel.dataset.day = isoOf(state.day);
    panel.hidden = false;
  }

  // ---------- quarantine ----------
  function renderQuarantine() {
    const rows = [];
    for (const m of visibleMetrics()) {
      for (const i of inRange(m.quarantine)) rows.push([m, i]);
    }
    rows.sort((a, b) => b[0].quarantine.d[b[1]] - a[0].quarantine.d[a[1]] || a[0].id.localeCompare(b[0].id));
    document.getElementById("quarantine-count").textContent = rows.length + " value(s) in range";
    const target = document.getElementById("quarantine");
    if (!rows.length) {
      target.replaceChildren(h("p", { class: "empty", text: "Nothing was held back in this range." }));
      return;
    }
    target.replaceChildren(
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "held-table" },
          h("thead", {}, h("tr", {}, ["Day", "KPI", "Value", "Confidence", "Why"].map((t) => h("th", { text: t })))),
          h(
            "tbody",
            {},
            rows.map(([m, i]) =>
              h(
                "tr",
                { "data-metric": m.id, "data-day": isoOf(m.quarantine.d[i]), onclick: () => update({ metric: m.id, day: m.quarantine.d[i] }) },
                h("td", { text: isoOf(m.quarantine.d[i]) }),
                h("td", {}, h("code", { text: m.id })),
                h("td", { class: "num", text: exact(m.quarantine.v[i], m.unit) }),
                h("td", { class: "num", text: share(m.quarantine.c[i]) }),
                h("td", { text: m.quarantine.info[i][0].join("; ") }),
              ),
            ),
          ),
        ),
      ),
    );
  }

  // ---------- cost ----------
  function renderCosts() {
    const c = DATA.costs;
    const total = c.quarter;
    document.getElementById("cost-total").textContent =
      total.calls === null
        ? "no LLM calls recorded for " + DATA.quarter.id
        : DATA.quarter.id + ": " + usd(total.cost_usd) + " for " + int(total.calls) + " calls, " +
          int(total.input_tokens + total.cache_creation_input_tokens + total.cache_read_input_tokens) + " input and " +
          int(total.output_tokens) + " output tokens";
    const idx = [];
    for (let i = 0; i < c.d.length; i++) if (c.d[i] >= state.from && c.d[i] <= state.to) idx.push(i);
    const target = document.getElementById("costs");
    if (!idx.length) {
      target.replaceChildren(h("p", { class: "empty", text: "No LLM calls in this range." }));
      return;
    }
    const kinds = [
      ["input_tokens", "input"],
      ["cache_creation_input_tokens", "cache write"],
      ["cache_read_input_tokens", "cache read"],
      ["output_tokens", "output"],
    ];
    target.replaceChildren(
      barChart("Cost per day (USD)", idx, [["cost_usd", "cost"]], usd, "bar-cost"),
      barChart("Tokens per day", idx, kinds, int, "bar-tokens"),
    );
  }
  function barChart(title, idx, kinds, format, cls) {
    const c = DATA.costs;
    const from = state.from;
    const to = Math.max(state.to, state.from + 1);
    const CH = 150;
    const top = 10;
    const x = (o) => M.left + ((o - from) / (to - from + 1)) * (W - M.left - M.right);
    const bw = Math.max(1, ((W - M.left - M.right) / (to - from + 1)) * 0.8);
    let hi = 0;
    for (const i of idx) hi = Math.max(hi, kinds.reduce((acc, [k]) => acc + (c[k][i] || 0), 0));
    const ticks = niceTicks(0, hi || 1, 3);
    const top_ = ticks[ticks.length - 1];
    const y = (v) => top + CH - (v / top_) * CH;
    const svg = s("svg", { class: "chart cost-chart", viewBox: "0 0 " + W + " " + (CH + top + 24), role: "img", "aria-label": title });
    for (const t of ticks) {
      svg.append(s("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
      svg.append(s("text", { class: "tick", x: M.left - 6, y: y(t) + 4, "text-anchor": "end", text: format(t) }));
    }
    for (const o of dayTicks(from, to)) {
      svg.append(s("text", { class: "tick", x: x(o) + bw / 2, y: top + CH + 16, "text-anchor": "middle", text: shortDate(o) }));
    }
    for (const i of idx) {
      let base = 0;
      kinds.forEach(([k, label], n) => {
        const v = c[k][i] || 0;
        const bar = s("rect", { class: cls + " kind-" + n, x: x(c.d[i]), y: y(base + v), width: bw, height: y(base) - y(base + v) });
        bar.append(s("title", { text: isoOf(c.d[i]) + " · " + label + ": " + format(c[k][i]) + " · " + int(c.calls[i]) + " calls, " + int(c.response_cache_hits[i]) + " from the response cache" }));
        svg.append(bar);
        base += v;
      });
    }
    const legend = kinds.length > 1 ? h("p", { class: "legend" }, kinds.map(([, label], n) => [h("span", { class: "key kind-" + n }), " " + label + " "])) : null;
    return h("figure", { class: "cost-card" }, h("figcaption", { text: title }), svg, legend);
  }

  // ---------- page ----------
  function render() {
    renderFilters();
    renderOkr();
    renderCharts();
    renderQuarantine();
    renderCosts();
    renderEvidence();
  }

  function start() {
    document.getElementById("subtitle").textContent =
      DATA.metrics.length + " KPIs · " + DATA.objectives.length + " objectives · published data " +
      DATA.window.start + " → " + DATA.window.end + " · generated " + DATA.generated_at;
    setupFilters();
    readHash();
    render();
    window.addEventListener("hashchange", () => {
      readHash();
      render();
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && state.metric) update({ metric: "", day: null });
    });
    document.body.dataset.ready = "true";
  }

  try {
    start();
  } catch (err) {
    fail(err);
    throw err;
  }
})();
