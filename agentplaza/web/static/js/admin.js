// The operator dashboard: polls GET /v1/admin/stats and draws the last samples as small SVG
// line charts (ours, no library). Counters arrive cumulative; two polls make a rate.
import { api } from "./api.js";
import { h, t } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const KEEP = 60; // samples per chart
const W = 300;
const H = 100;
const dash = document.getElementById("dash");
const POLL_MS = Math.max(1, Number(dash.dataset.poll) || 2) * 1000;
const TRANSPORTS = ["websocket", "sse", "longpoll", "aim"];
const history = new Map(); // chart → { series name → [numbers] }
let previous = null;

const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
const perSec = (now, before, dt) => (before === undefined ? null : Math.max(0, now - before) / dt);
const meanMs = (now, before) => {
  if (before === undefined) return null;
  const n = now.count - before.count;
  return n > 0 ? ((now.sum_secs - before.sum_secs) / n) * 1000 : 0;
};
const NONE = { ts: 0, deliveries: {}, webhook_attempts: {}, store_ops: {} }; // before the first poll: rates unknown

/** One poll (and the one before it, or NONE) → the value of every series (null: unknown yet). */
export function samples(now, before) {
  const dt = Math.max(0.001, (now.ts - before.ts) / 1000);
  const first = before === NONE;
  const attempts = (o) => (first ? undefined : (o.webhook_attempts.retry || 0) + (o.webhook_attempts.failed || 0));
  const x60 = (v) => (v === null ? null : v * 60);
  return {
    messages: { [t("admin.messages")]: perSec(now.messages_sent, before.messages_sent, dt) },
    deliveries: Object.fromEntries(
      [...new Set([...TRANSPORTS, ...Object.keys(now.deliveries)])].map((k) => [k, perSec(now.deliveries[k] || 0, first ? undefined : before.deliveries[k] || 0, dt)]),
    ),
    connections: Object.fromEntries(TRANSPORTS.map((k) => [k, now.connections[k] || 0])),
    webhooks: { [t("admin.queue_depth")]: now.webhook_queue_depth },
    failures: {
      [t("admin.retry")]: x60(perSec(now.webhook_attempts.retry || 0, first ? undefined : before.webhook_attempts.retry || 0, dt)),
      [t("admin.failed")]: x60(perSec(now.webhook_attempts.failed || 0, first ? undefined : before.webhook_attempts.failed || 0, dt)),
      [t("admin.total")]: x60(perSec(attempts(now), attempts(before), dt)),
    },
    latency: {
      [t("admin.store_ping")]: now.store_ping_ms ?? 0,
      [t("admin.bus_ping")]: now.bus_ping_ms ?? 0,
      [t("admin.append")]: meanMs(now.store_ops.append || ZERO, first ? undefined : before.store_ops.append || ZERO),
      [t("admin.publish")]: meanMs(now.bus_publish, first ? undefined : before.bus_publish),
    },
  };
}

const ZERO = { count: 0, sum_secs: 0 };
const fmt = (v) => (v === null ? "–" : Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function draw(section, series) {
  const names = Object.keys(series);
  const top = Math.max(1e-9, ...names.flatMap((n) => series[n].filter((v) => v !== null)));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": names.map((n) => `${n} ${fmt(series[n].at(-1))}`).join(", ") });
  for (const y of [0.25, 0.5, 0.75]) chart.append(svg("line", { class: "grid", x1: 0, x2: W, y1: H * y, y2: H * y }));
  names.forEach((name, i) => {
    const values = series[name];
    const step = W / (KEEP - 1);
    const x0 = W - (values.length - 1) * step;
    const points = values.flatMap((v, j) => (v === null ? [] : [`${(x0 + j * step).toFixed(1)},${(H - 2 - (v / top) * (H - 4)).toFixed(1)}`]));
    chart.append(svg("polyline", { class: `s${i % 5}`, points: points.join(" ") }));
  });
  const legend = h("ul", { class: "legend" }, ...names.map((name, i) => h("li", { "data-series": name }, h("span", { class: `key k${i % 5}`, "aria-hidden": "true" }), name, " ", h("b", {}, fmt(series[name].at(-1))))));
  const old = section.querySelectorAll("svg, .legend, .scale");
  old.forEach((el) => el.remove());
  section.append(chart, legend, h("p", { class: "scale" }, `max ${fmt(top)} · ${t("admin.chart", { n: KEEP })}`));
}

async function poll() {
  const status = document.getElementById("dash-status");
  const first = previous === null;
  try {
    const now = await api("GET", "/v1/admin/stats");
    const values = samples(now, previous || NONE);
    for (const [chart, series] of Object.entries(values)) {
      const kept = history.get(chart) || {};
      for (const [name, v] of Object.entries(series)) kept[name] = [...(kept[name] || []), v].slice(-KEEP);
      history.set(chart, kept);
      draw(dash.querySelector(`[data-chart="${chart}"]`), kept);
    }
    previous = now;
    status.textContent = `${t("admin.node")} ${now.node} · ` + t("admin.updated", { time: new Date(now.ts).toLocaleTimeString(), n: POLL_MS / 1000 });
    status.classList.remove("error");
  } catch (err) {
    status.textContent = t("admin.error", { detail: err.message });
    status.classList.add("error");
  }
  setTimeout(poll, previous && first ? 1000 : POLL_MS); // the first rates come a second in
}

poll();
