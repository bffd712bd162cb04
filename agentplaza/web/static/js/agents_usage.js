// A hosted agent's token use and cost per day (GET /studio/api/agents/{id}/usage?days=30) as
// an inline SVG bar chart (input and output tokens stacked), with a text summary for screen
// readers and the same numbers as a table.
import { h, t } from "./dom.js";
import { items, pick } from "./studio_api.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 600;
const H = 160;
const PAD = 28;

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** The days of a usage answer, oldest first: {date, input, output, cost}. */
export function usageDays(data) {
  return items(data, "days")
    .map((d) => ({
      date: String(pick(d, "date", "day") ?? ""),
      input: Number(pick(d, "input_tokens", "prompt_tokens") ?? 0),
      output: Number(pick(d, "output_tokens", "completion_tokens") ?? 0),
      total: Number(pick(d, "total_tokens", "tokens") ?? NaN),
      cost: Number(pick(d, "cost_usd", "cost") ?? 0),
    }))
    .map((d) => ({ ...d, total: Number.isNaN(d.total) ? d.input + d.output : d.total }))
    .sort((a, b) => a.date.localeCompare(b.date));
}

const money = (v) => `$${v < 1 ? v.toFixed(4) : v.toFixed(2)}`;

export function usageFigure(data, name) {
  const days = usageDays(data);
  const tokens = days.reduce((s, d) => s + d.total, 0);
  const cost = days.reduce((s, d) => s + d.cost, 0);
  const peak = days.reduce((best, d) => (d.total > (best ? best.total : -1) ? d : best), null);
  const summary = t("hosted.usage_summary", {
    name, days: days.length, tokens: tokens.toLocaleString(), cost: money(cost),
    peak: peak && peak.total ? `${peak.total.toLocaleString()} (${peak.date})` : "0",
  });
  const max = Math.max(1, ...days.map((d) => d.total));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "usage-chart", role: "img", "aria-label": summary });
  chart.append(svg("title", {}, summary));
  const slot = (W - PAD) / Math.max(1, days.length);
  const bar = Math.max(2, slot * 0.7);
  const y = (v) => H - PAD - (v / max) * (H - PAD * 2);
  chart.append(svg("line", { x1: PAD, y1: H - PAD, x2: W, y2: H - PAD, class: "axis" }));
  chart.append(svg("text", { x: 2, y: PAD - 8, class: "tick" }, max.toLocaleString()));
  days.forEach((d, i) => {
    const x = PAD + i * slot + (slot - bar) / 2;
    const g = svg("g", {});
    g.append(svg("title", {}, `${d.date}: ${d.input} in + ${d.output} out = ${d.total} · ${money(d.cost)}`));
    const inputTop = y(d.input);
    g.append(svg("rect", { x, y: inputTop, width: bar, height: H - PAD - inputTop, class: "bar-in" }));
    const outTop = y(d.input + d.output);
    g.append(svg("rect", { x, y: outTop, width: bar, height: inputTop - outTop, class: "bar-out" }));
    chart.append(g);
  });
  if (days.length) {
    chart.append(svg("text", { x: PAD, y: H - 6, class: "tick" }, days[0].date));
    chart.append(svg("text", { x: W, y: H - 6, class: "tick", "text-anchor": "end" }, days[days.length - 1].date));
  }
  const table = h("table", { class: "usage-table" },
    h("caption", { class: "sr-only" }, summary),
    h("thead", {}, h("tr", {}, ["hosted.day", "hosted.input_tokens", "hosted.output_tokens", "hosted.cost"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, days.map((d) => h("tr", {}, h("th", { scope: "row" }, d.date), h("td", {}, d.input), h("td", {}, d.output), h("td", {}, money(d.cost))))));
  return h("figure", { class: "usage-figure" },
    chart,
    h("figcaption", {}, h("span", { class: "legend-in", "aria-hidden": "true" }), t("hosted.input_tokens"), " ",
      h("span", { class: "legend-out", "aria-hidden": "true" }), t("hosted.output_tokens"), " · ",
      h("span", { class: "usage-total" }, t("hosted.usage_total", { tokens: tokens.toLocaleString(), cost: money(cost) }))),
    h("details", {}, h("summary", {}, t("hosted.usage_table")), table));
}
