// The usage view: requests, errors, tokens and cost per day as a chart, by provider or by
// access key, the period's totals as numbers, and the recent events, filtered by the server.

import { h, main, time, banner as makeBanner, plural } from "./dom.js";
import { api, all, query, relative } from "./api.js";
import { barChart, daysBetween } from "./chart.js";

const METRICS = {
  requests: ["Requests", (b) => b.requests, String],
  errors: ["Errors", (b) => b.errors, String],
  tokens: ["Tokens", (b) => (b.inputTokens || 0) + (b.outputTokens || 0), (n) => Math.round(n).toLocaleString("en-US")],
  cost: ["Cost (USD)", (b) => Number(b.cost), (n) => `$${n.toFixed(n && n < 1 ? 4 : 2)}`],
};
const view = { days: "7", groupBy: "provider", metric: "requests", key: "" };

const startOf = (days) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (Number(days) - 1) * 86400000);
};
const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
const select = (id, options, value) => {
  const el = h("select", { id }, options.map(([v, label]) => h("option", { value: v }, label)));
  el.value = value;
  return el;
};

export async function renderUsage() {
  main().replaceChildren(h("p", {}, "Loading usage…"));
  const start = startOf(view.days);
  const banner = makeBanner("usage-banner");
  let overview;
  let keys;
  try {
    [overview, keys] = await Promise.all([
      api("GET", `usage/overview${query({ startTime: iso(start), groupBy: view.groupBy, include: "tokens" })}`).then((r) => r.data),
      all("access-keys?limit=100", "aiGatewayAccessKeys"),
    ]);
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("h1", {}, "Usage"), h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const keyName = new Map(keys.map((k) => [k.id, k.name]));
  const labelOf = (key) => (view.groupBy === "accessKey" ? keyName.get(key) || (key ? `${key} (deleted)` : "no key") : key);

  const period = select("u-period", [["1", "Today"], ["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"]], view.days);
  const groupBy = select("u-group", [["provider", "Provider"], ["accessKey", "Access key"]], view.groupBy);
  const metric = select("u-metric", Object.entries(METRICS).map(([k, [label]]) => [k, label]), view.metric);
  for (const [el, name] of [[period, "days"], [groupBy, "groupBy"], [metric, "metric"]]) {
    el.addEventListener("change", () => { view[name] = el.value; renderUsage(); });
  }

  const t = overview.totals;
  const totals = h("dl", { class: "totals", id: "usage-totals", "aria-label": "Totals for the period" },
    [["Requests", t.requests], ["Errors", t.errors], ["Input tokens", t.inputTokens ?? 0],
      ["Output tokens", t.outputTokens ?? 0], ["Cost (USD)", `$${Number(t.cost).toFixed(4)}`]]
      .map(([label, v]) => h("div", {}, h("dt", {}, label), h("dd", {}, typeof v === "number" ? v.toLocaleString("en-US") : v))));

  const [label, pick, format] = METRICS[view.metric];
  const days = daysBetween(start, new Date());
  const groups = [...new Set(overview.buckets.map((b) => b.groupKey))]
    .map((key) => ({ key, label: labelOf(key) })).sort((a, b) => a.label.localeCompare(b.label));
  const cell = new Map(overview.buckets.map((b) => [`${b.bucketStart.slice(0, 10)} ${b.groupKey}`, pick(b)]));
  const chart = overview.buckets.length
    ? barChart(`${label} per day, by ${view.groupBy === "provider" ? "provider" : "access key"}`, days, groups,
      (d, k) => cell.get(`${d} ${k}`) || 0, format)
    : h("div", { class: "panel empty" }, h("h2", {}, "No calls in this period"),
      h("p", {}, "Calls through the gateway (/v1/…) show up here as they are made."));

  main().replaceChildren(h("h1", {}, "Usage"), banner,
    h("div", { class: "toolbar" },
      h("div", {}, h("label", { for: "u-period" }, "Period"), period),
      h("div", {}, h("label", { for: "u-group" }, "Group by"), groupBy),
      h("div", {}, h("label", { for: "u-metric" }, "Show"), metric)),
    totals, chart, await recentEvents(start, keys, keyName, banner));
}

/** The period's recent final attempts; the key filter is a query to the server, not a hide. */
async function recentEvents(start, keys, keyName, banner) {
  const filter = select("u-key", [["", "All access keys"], ...keys.map((k) => [k.id, k.name])], view.key);
  const body = h("tbody");
  const count = h("p", { class: "count", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "quiet", id: "u-more" }, "Load more");
  let next = null;
  let shown = 0;
  const rows = (events) => events.map((e) => h("tr", {},
    h("td", { "data-label": "Time" }, time(e.eventTime)),
    h("td", { "data-label": "Access key", class: "id" }, keyName.get(e.accessKeyId) || e.accessKeyId || "—"),
    h("td", { "data-label": "Model", class: "id" }, `${e.provider}:${e.model}`),
    h("td", { "data-label": "Status" }, e.isError ? h("span", { class: "state bad" }, String(e.statusCode || "no answer")) : String(e.statusCode)),
    h("td", { "data-label": "Tokens in/out", class: "num" }, `${e.inputTokens} / ${e.outputTokens}`),
    h("td", { "data-label": "Cost", class: "num" }, `$${e.totalCost}`)));
  const load = async (path) => {
    const { data } = await api("GET", path);
    body.append(...rows(data.aiGatewayUsage));
    shown += data.aiGatewayUsage.length;
    next = data.nextPageUri ? relative(data.nextPageUri) : null;
    more.hidden = !next;
    count.textContent = shown ? `${plural(shown, "event")} shown${next ? "; more on the server" : ""}.` : "No events for this filter in the period.";
  };
  const first = () => load(`usage${query({ startTime: iso(start), accessKeyId: view.key, limit: 50 })}`);
  filter.addEventListener("change", async () => {
    view.key = filter.value;
    body.replaceChildren();
    shown = 0;
    count.textContent = "Asking the server…";
    try { await first(); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  });
  more.addEventListener("click", async () => {
    more.disabled = true;
    try { await load(next); } catch (e) { if (e.status !== 401) banner.textContent = e.message; } finally { more.disabled = false; }
  });
  try { await first(); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  return h("section", { "aria-labelledby": "recent-title" },
    h("div", { class: "toolbar" }, h("h2", { id: "recent-title", class: "grow" }, "Recent calls"),
      h("div", {}, h("label", { for: "u-key" }, "Access key"), filter)),
    count,
    h("table", { id: "usage-events" },
      h("caption", { class: "sr-only" }, "Recent calls, newest first"),
      h("thead", {}, h("tr", {}, ["Time", "Access key", "Model", "Status", "Tokens in/out", "Cost"].map((x) => h("th", { scope: "col" }, x)))),
      body),
    h("div", { class: "actions" }, more));
}
