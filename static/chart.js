// A plain SVG bar chart of daily values, stacked by group, drawn from numbers only (no library,
// nothing from elsewhere). Each bar segment carries a <title> for hover; the caller also shows
// the numbers as text.

import { h, svg } from "./dom.js";

const COLORS = ["#2f5fd0", "#1a9c4a", "#d49a00", "#b42318", "#7a4cc2", "#0f8b8d", "#c2547a", "#5b6470"];
export const colorOf = (i) => COLORS[i % COLORS.length];

/**
 * `days` are the x values (YYYY-MM-DD), `groups` [{key, label}], `value(day, key)` a number.
 * Answers a figure with the chart and its legend.
 */
export function barChart(title, days, groups, value, format = String) {
  // Drawn at about the width it is shown at, so its labels stay readable on a phone.
  const W = Math.max(320, Math.min(720, (document.getElementById("main")?.clientWidth || 720) - 34));
  const H = 240;
  const pad = { l: 56, r: 8, t: 10, b: 34 };
  const totals = days.map((d) => groups.reduce((s, g) => s + value(d, g.key), 0));
  const max = Math.max(1, ...totals);
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const step = plotW / Math.max(1, days.length);
  const barW = Math.max(2, step * 0.7);
  const y = (v) => pad.t + plotH - (v / max) * plotH;
  const ticks = [0, max / 2, max];
  const label = (d) => d.slice(5);
  const every = Math.ceil(days.length / 10);
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `${title}: ${format(totals.reduce((a, b) => a + b, 0))} over ${days.length} days`,
  },
  ticks.map((t) => [
    svg("line", { x1: pad.l, x2: W - pad.r, y1: y(t), y2: y(t), class: "grid" }),
    svg("text", { x: pad.l - 6, y: y(t) + 4, "text-anchor": "end", class: "axis" }, format(t)),
  ]),
  days.map((d, i) => {
    let base = 0;
    const x = pad.l + i * step + (step - barW) / 2;
    const parts = groups.map((g, k) => {
      const v = value(d, g.key);
      if (!v) return null;
      const rect = svg("rect", { x, y: y(base + v), width: barW, height: Math.max(1, y(base) - y(base + v)), fill: colorOf(k) },
        svg("title", {}, `${d} · ${g.label}: ${format(v)}`));
      base += v;
      return rect;
    });
    return [parts, i % every === 0
      ? svg("text", { x: x + barW / 2, y: H - pad.b + 16, "text-anchor": "middle", class: "axis" }, label(d)) : null];
  }));
  const legend = h("ul", { class: "legend" }, groups.map((g, k) => h("li", {},
    h("span", { class: "swatch", "data-color": k % COLORS.length }), g.label)));
  return h("figure", { class: "panel chart-box" }, h("figcaption", {}, title), chart, legend);
}

/** Every UTC day from `start` to `end` (Date objects), as YYYY-MM-DD. */
export function daysBetween(start, end) {
  const out = [];
  for (let t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()); t <= end.getTime(); t += 86400000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}
