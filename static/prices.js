// The prices view: what each model's tokens cost (USD per million tokens of input, output,
// cache reads and cache writes), which the usage events' costs and the budgets are counted in.

import { h, main, announce, field, input, banner as makeBanner, confirmDialog, plural } from "./dom.js";
import { api, all } from "./api.js";
import { actionForm } from "./forms.js";
import { gatewayTabs } from "./gateway-tabs.js";

const RATES = [
  ["input", "Input"],
  ["output", "Output"],
  ["cacheRead", "Cache read"],
  ["cacheWrite", "Cache write"],
];

/** A typed rate as the API takes it: a number when it reads as one, else as typed (refused at its field). */
const rate = (typed) => (/^\d+(\.\d+)?$/.test(typed) ? Number(typed) : typed);
const usd = (n) => `$${Number(n).toLocaleString("en-US", { maximumFractionDigits: 6 })}`;

function priceFields(p = {}) {
  const model = input("model", p.model, { autocomplete: "off", spellcheck: "false", placeholder: "providerId:modelId" });
  const rates = Object.fromEntries(RATES.map(([key]) => [key, input(key, p[key] ? String(p[key]) : "", { inputmode: "decimal", autocomplete: "off" })]));
  const description = input("description", p.description);
  const fields = [
    field("pr-model", "Model", model, "providerId:modelId for one provider's model, or a bare model id for every provider's; matched ignoring case."),
    ...RATES.map(([key, label]) => field(`pr-${key}`, `${label} (USD per million tokens)`, rates[key], "Empty: free.")),
    field("pr-description", "Description", description),
  ];
  /** What the form says, each rate as typed ("" when empty). */
  const read = () => ({
    model: model.value.trim(),
    ...Object.fromEntries(RATES.map(([key]) => [key, rates[key].value.trim()])),
    description: description.value.trim(),
  });
  return { fields, read, focus: () => model.focus() };
}

export async function renderPrices() {
  main().replaceChildren(h("p", {}, "Loading prices…"));
  let prices;
  try {
    prices = await all("prices?limit=100", "prices");
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("h1", {}, "Prices"), h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const banner = makeBanner("prices-banner");
  const slot = h("div", { id: "price-action" });
  const body = h("tbody");
  const count = h("p", { class: "count", "aria-live": "polite" });
  const close = () => slot.replaceChildren();
  const refresh = async () => { prices = await all("prices?limit=100", "prices"); paint(); };

  const createForm = () => {
    const f = priceFields();
    slot.replaceChildren(actionForm("New price", f.fields, "Create price", async () => {
      const typed = f.read();
      const b = { model: typed.model };
      for (const [key] of RATES) if (typed[key] !== "") b[key] = rate(typed[key]);
      if (typed.description) b.description = typed.description;
      await api("POST", "prices", { body: b });
      close();
      announce(`Created the price of ${b.model}.`);
      await refresh();
    }, close));
    f.focus();
  };

  const editForm = async (p) => {
    const { data, etag } = await api("GET", `prices/${p.id}`);
    const f = priceFields(data);
    const before = f.read();
    slot.replaceChildren(actionForm(`Edit price of ${data.model}`, f.fields, "Save price", async () => {
      // Only what changed; an emptied rate is sent as null, which the API reads as free.
      const now = f.read();
      const patch = {};
      for (const [key, value] of Object.entries(now)) {
        if (value === before[key]) continue;
        patch[key] = value === "" ? null : RATES.some(([r]) => r === key) ? rate(value) : value;
      }
      if (!Object.keys(patch).length) { close(); announce("Nothing changed."); return; }
      await api("PATCH", `prices/${p.id}`, { body: patch, etag });
      close();
      announce(`Saved the price of ${now.model}.`);
      await refresh();
    }, close));
    f.focus();
  };

  const remove = async (p) => {
    if (await confirmDialog("Delete price", `Delete the price of “${p.model}”? Its calls from now on cost what the config file says, or nothing.`,
      [["delete", "Delete"]]) === "cancel") return;
    await api("DELETE", `prices/${p.id}`);
    announce(`Deleted the price of ${p.model}.`);
    await refresh();
  };

  const guarded = (fn) => async () => {
    banner.replaceChildren();
    try { await fn(); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  };

  const paint = () => {
    body.replaceChildren(...prices.map((p) => h("tr", {},
      h("td", { "data-label": "Model", class: "id" }, p.model),
      RATES.map(([key, label]) => h("td", { "data-label": label }, usd(p[key]))),
      h("td", { "data-label": "Actions" }, h("div", { class: "row" },
        h("button", { type: "button", class: "quiet small", "aria-label": `Edit price of ${p.model}`, onclick: guarded(() => editForm(p)) }, "Edit"),
        h("button", { type: "button", class: "quiet small", "aria-label": `Delete price of ${p.model}`, onclick: guarded(() => remove(p)) }, "Delete"))))));
    count.textContent = prices.length ? `${plural(prices.length, "price")}, USD per million tokens.`
      : "No prices yet: calls cost what the config file's [prices] say, or nothing.";
  };
  paint();
  main().replaceChildren(gatewayTabs("prices"),
    h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Prices"),
      h("button", { type: "button", id: "new-price", onclick: createForm }, "New price")),
    banner, slot, count,
    h("table", { id: "prices" },
      h("caption", { class: "sr-only" }, "Model prices, USD per million tokens"),
      h("thead", {}, h("tr", {}, ["Model", ...RATES.map(([, label]) => label), "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body));
}
