// The gateway view: /gateway-config (timeouts, token caps, notes) sent as a PATCH of what
// changed with If-Match, and model aliases (a name apps send, its target and fallbacks).

import { h, main, announce, field, input, banner as makeBanner, confirmDialog, plural } from "./dom.js";
import { api, all } from "./api.js";
import { clearErrors, clearOnEdit, showErrors } from "./errors.js";
import { actionForm } from "./forms.js";
import { gatewayTabs } from "./gateway-tabs.js";

const FIELDS = [
  ["totalTimeout", "Total timeout", "A whole call, retries and fallbacks included: a duration such as 10m or 600s, up to 24h."],
  ["perRequestTimeout", "Per-attempt timeout", "Each attempt's time to the answer's head, at most the total: e.g. 5m."],
  ["maxInputTokens", "Most input tokens", "Empty: no cap. Calls estimated above it are refused before any attempt."],
  ["maxOutputTokens", "Most output tokens", "Empty: no cap. A larger max_tokens is lowered to it."],
  ["metadata", "Notes", "Free text for your own use."],
];

const numberish = (v) => (/^\d+$/.test(v) ? Number(v) : v);

export async function renderGateway() {
  main().replaceChildren(h("p", {}, "Loading gateway settings…"));
  let config;
  let etag;
  let aliases;
  try {
    ({ data: config, etag } = await api("GET", "gateway-config"));
    aliases = await all("model-aliases?limit=100", "modelAliases");
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("h1", {}, "Gateway"), h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const banner = makeBanner("gateway-banner");
  const controls = Object.fromEntries(FIELDS.map(([key]) => [key, input(key, config[key] ?? "", { autocomplete: "off" })]));
  const save = h("button", { type: "submit" }, "Save gateway settings");
  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "gw-title" },
    h("h2", { id: "gw-title" }, "Settings"), banner,
    FIELDS.map(([key, label, hint]) => field(`g-${key}`, label, controls[key], hint)),
    h("div", { class: "actions" }, save));
  clearOnEdit(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, banner);
    const patch = {};
    for (const [key] of FIELDS) {
      const typed = controls[key].value.trim();
      const before = config[key] === null || config[key] === undefined ? "" : String(config[key]);
      if (typed === before) continue;
      patch[key] = typed === "" ? null : key.startsWith("max") ? numberish(typed) : typed;
    }
    if (!Object.keys(patch).length) { announce("Nothing changed."); return; }
    save.disabled = true;
    try {
      ({ data: config, etag } = await api("PATCH", "gateway-config", { body: patch, etag }));
      for (const [key] of FIELDS) controls[key].value = config[key] ?? "";
      announce("Saved the gateway settings.");
    } catch (e) {
      if (e.status === 412) {
        banner.replaceChildren("The settings were changed elsewhere since you opened them, so yours were not saved.",
          h("button", { type: "button", class: "quiet small", onclick: renderGateway }, "Reload"));
      } else if (e.status !== 401) showErrors(form, banner, e);
    } finally {
      save.disabled = false;
    }
  });
  main().replaceChildren(gatewayTabs("settings"), h("h1", {}, "Gateway"), form, aliasSection(aliases));
}

function aliasSection(aliases) {
  const banner = makeBanner("alias-banner");
  const slot = h("div", { id: "alias-action" });
  const body = h("tbody");
  const count = h("p", { class: "count" });
  const close = () => slot.replaceChildren();
  const refresh = async () => { aliases = await all("model-aliases?limit=100", "modelAliases"); paint(); };
  const aliasFields = (a = {}) => {
    const alias = input("alias", a.alias, { autocomplete: "off", spellcheck: "false" });
    const target = input("target", a.target, { autocomplete: "off", spellcheck: "false", placeholder: "providerId:modelId" });
    const fallbacks = input("fallbacks", (a.fallbacks || []).join(", "), { autocomplete: "off", spellcheck: "false" });
    const read = () => ({ alias: alias.value.trim(), target: target.value.trim(),
      fallbacks: fallbacks.value.split(",").map((x) => x.trim()).filter(Boolean) });
    return { read, alias, fields: [
      field("al-alias", "Alias", alias, "The model name apps send, e.g. default-chat."),
      field("al-target", "Target", target, "Where calls for it go: providerId:modelId or a bare model id."),
      field("al-fallbacks", "Fallbacks", fallbacks, "Tried in order when the target fails; comma separated, at most 16."),
    ] };
  };
  const createForm = () => {
    const f = aliasFields();
    slot.replaceChildren(actionForm("New model alias", f.fields, "Create alias", async () => {
      const b = f.read();
      if (!b.fallbacks.length) delete b.fallbacks;
      await api("POST", "model-aliases", { body: b });
      close();
      announce(`Created alias ${b.alias}.`);
      await refresh();
    }, close));
    f.alias.focus();
  };
  const editForm = async (a) => {
    const { data, etag } = await api("GET", `model-aliases/${a.id}`);
    const f = aliasFields(data);
    slot.replaceChildren(actionForm(`Edit alias ${a.alias}`, f.fields, "Save alias", async () => {
      await api("PATCH", `model-aliases/${a.id}`, { body: f.read(), etag });
      close();
      announce(`Saved alias ${f.read().alias}.`);
      await refresh();
    }, close));
    f.alias.focus();
  };
  const remove = async (a) => {
    if (await confirmDialog("Delete model alias", `Delete alias “${a.alias}”? Apps sending it get model_not_found unless something serves that name.`,
      [["delete", "Delete"]]) === "cancel") return;
    await api("DELETE", `model-aliases/${a.id}`);
    announce(`Deleted alias ${a.alias}.`);
    await refresh();
  };
  const guarded = (fn) => async () => {
    banner.replaceChildren();
    try { await fn(); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  };
  const paint = () => {
    body.replaceChildren(...aliases.map((a) => h("tr", {},
      h("td", { "data-label": "Alias", class: "id" }, a.alias),
      h("td", { "data-label": "Target", class: "id" }, a.target),
      h("td", { "data-label": "Fallbacks", class: "id" }, (a.fallbacks || []).join(", ") || "none"),
      h("td", { "data-label": "Actions" }, h("div", { class: "row" },
        h("button", { type: "button", class: "quiet small", "aria-label": `Edit alias ${a.alias}`, onclick: guarded(() => editForm(a)) }, "Edit"),
        h("button", { type: "button", class: "quiet small", "aria-label": `Delete alias ${a.alias}`, onclick: guarded(() => remove(a)) }, "Delete"))))));
    count.textContent = aliases.length ? `${plural(aliases.length, "alias", "aliases")}.` : "No aliases yet.";
  };
  paint();
  return h("section", { "aria-labelledby": "aliases-title" },
    h("div", { class: "toolbar" }, h("h2", { id: "aliases-title", class: "grow" }, "Model aliases"),
      h("button", { type: "button", id: "new-alias", onclick: createForm }, "New alias")),
    banner, slot, count,
    h("table", { id: "aliases" },
      h("caption", { class: "sr-only" }, "Model aliases"),
      h("thead", {}, h("tr", {}, ["Alias", "Target", "Fallbacks", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body));
}
