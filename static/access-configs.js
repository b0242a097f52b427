// Access key configurations: which providers and models the keys under one may call (picked
// from the registry) and router rules saying which provider keys their calls use.

import { h, main, announce, field, input, banner as makeBanner, confirmDialog, plural } from "./dom.js";
import { api, all, query } from "./api.js";
import { clearErrors, clearOnEdit, showErrors } from "./errors.js";
import { accessTabs } from "./access-tabs.js";
import { editable, keptRule, ruleEditor } from "./router-editor.js";

export async function renderConfigurations() {
  main().replaceChildren(h("p", {}, "Loading configurations…"));
  let configs;
  try {
    configs = await all("access-key-configurations?limit=100", "aiGatewayAccessKeyConfigurations");
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const summary = (c) => {
    const p = c.access?.providers?.allow;
    const m = c.access?.models?.allow;
    const parts = [p ? `providers: ${p.join(", ") || "none"}` : "any provider", m ? `models: ${m.join(", ") || "none"}` : "any model"];
    return parts.join("; ");
  };
  main().replaceChildren(accessTabs("configs"),
    h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Access key configurations"),
      h("a", { class: "button", href: "#/access-keys/configurations/new" }, "New configuration")),
    h("p", { class: "count" }, configs.length ? `${plural(configs.length, "configuration")}.` : "No configurations yet: keys without one may call every provider and model."),
    h("table", { id: "configurations" },
      h("caption", { class: "sr-only" }, "Access key configurations"),
      h("thead", {}, h("tr", {}, ["Name", "Scope", "Router rules"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, configs.map((c) => h("tr", {},
        h("td", { "data-label": "Name", class: "id" }, h("a", { href: `#/access-keys/configurations/${c.id}` }, c.name)),
        h("td", { "data-label": "Scope" }, summary(c)),
        h("td", { "data-label": "Router rules" }, String(c.router?.rules?.length || 0)))))));
}

/** Checkboxes for a list of values; `value()` answers the checked ones, or null when "any". */
function picker(legend, idPrefix, options, allowed) {
  const any = h("input", { type: "checkbox", id: `${idPrefix}-any`, checked: !allowed });
  const boxes = options.map(([value, label], i) => {
    const box = h("input", { type: "checkbox", id: `${idPrefix}-${i}`, checked: Boolean(allowed?.includes(value)) });
    box.value = value;
    box.disabled = !allowed;
    return h("div", { class: "check-row" }, box, h("label", { for: box.id }, label));
  });
  any.addEventListener("change", () => boxes.forEach((b) => { b.querySelector("input").disabled = any.checked; }));
  const error = h("p", { class: "field-error", "data-error-for": `access.${idPrefix}` });
  const element = h("fieldset", { class: "surface" }, h("legend", {}, legend),
    h("div", { class: "check-row" }, any, h("label", { for: any.id }, `Any ${idPrefix === "providers" ? "provider" : "model"}`)),
    h("div", { class: "checks" }, boxes), error);
  const value = () => (any.checked ? null
    : boxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value));
  return { element, value };
}

export async function renderConfiguration(id) {
  main().replaceChildren(h("p", {}, "Loading configuration…"));
  let original = null;
  let etag = null;
  let providers;
  try {
    providers = await all("providers?limit=100", "aiGatewayProviders");
    if (id !== "new") ({ data: original, etag } = await api("GET", `access-key-configurations/${encodeURIComponent(id)}`));
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const keyCache = new Map();
  const keysOf = async (providerId) => {
    if (!keyCache.has(providerId)) {
      keyCache.set(providerId, await all(`provider-keys${query({ provider: providerId, limit: 100 })}`, "aiGatewayProviderKeys"));
    }
    return keyCache.get(providerId);
  };
  const banner = makeBanner("config-banner");
  const name = input("name", original?.name, { autocomplete: "off" });
  const description = input("description", original?.description);
  const scopeProviders = picker("Providers it may call", "providers",
    providers.map((p) => [p.providerId, `${p.providerId} (${p.name})`]), original?.access?.providers?.allow);
  const modelOptions = providers.flatMap((p) => [`${p.providerId}:*`, ...p.models.map((m) => `${p.providerId}:${m.modelId}`)]);
  const storedModels = original?.access?.models?.allow;
  for (const m of storedModels || []) if (!modelOptions.includes(m)) modelOptions.push(m);
  const scopeModels = picker("Models it may call", "models", modelOptions.map((m) => [m, m]), storedModels);

  let rules = [];
  const ruleRows = h("div", { class: "rows", id: "rules" });
  const paintRules = (values) => {
    rules = [];
    ruleRows.replaceChildren();
    values.forEach((r) => addRule(r));
  };
  const addRule = (r) => {
    const i = rules.length;
    const rule = ruleEditor(i, providers, keysOf, r, async () => {
      await Promise.all(rules.map((x) => x.ready));
      const left = rules.map((x) => x.value());
      left.splice(i, 1);
      paintRules(left);
    });
    rules.push(rule);
    ruleRows.append(rule.element);
  };
  paintRules(original?.router?.rules?.filter(editable(providers)) || []);
  // Rules made through the API that this editor cannot show are kept and sent back unchanged.
  const kept = (original?.router?.rules || []).filter((r) => !editable(providers)(r)).map(keptRule);

  const save = h("button", { type: "submit" }, original ? "Save configuration" : "Create configuration");
  const del = original ? h("button", { type: "button", class: "danger" }, "Delete configuration") : null;
  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "config-title" },
    accessTabs("configs"),
    h("h1", { id: "config-title" }, original ? `Configuration ${original.name}` : "New configuration"),
    banner,
    field("c-name", "Configuration name", name),
    field("c-description", "Description", description),
    h("h2", {}, "Scope"),
    h("p", { class: "hint" }, "A call must pass both: its provider and its model."),
    scopeProviders.element, scopeModels.element,
    h("h2", {}, "Router rules"),
    h("p", { class: "hint" }, "Which provider keys calls under this configuration use, per provider or per model (a model's rule comes first); a provider without a rule uses all its keys. A step's keys are tried before the next step's."),
    kept.length ? h("div", { class: "hint" }, "Rules for built-in providers, kept as they are (edit them through the API):",
      h("ul", { id: "kept-rules" }, kept.map((k) => k.element))) : null,
    ruleRows,
    h("button", { type: "button", class: "quiet small", id: "add-rule", disabled: providers.length === 0, onclick: () => addRule() }, "Add rule"),
    h("div", { class: "actions" }, save, h("a", { class: "button quiet", href: "#/access-keys/configurations" }, "Cancel"),
      h("span", { class: "spacer" }), del));
  clearOnEdit(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, banner);
    const providersAllow = scopeProviders.value();
    const modelsAllow = scopeModels.value();
    const access = {};
    if (providersAllow) access.providers = { allow: providersAllow };
    if (modelsAllow) access.models = { allow: modelsAllow };
    const body = {
      name: name.value.trim(),
      description: description.value.trim() || null,
      access: Object.keys(access).length ? access : null,
      router: rules.length || kept.length ? { rules: [...rules, ...kept].map((r) => r.value()) } : null,
    };
    save.disabled = true;
    try {
      if (original) {
        await api("PATCH", `access-key-configurations/${original.id}`, { body, etag });
        announce(`Saved ${body.name}.`);
        renderConfiguration(original.id);
      } else {
        for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
        const { data } = await api("POST", "access-key-configurations", { body });
        announce(`Created ${data.name}.`);
        location.hash = `#/access-keys/configurations/${data.id}`;
      }
    } catch (e) {
      if (e.status === 412) banner.textContent = "This configuration was changed elsewhere since you opened it; reload to see it.";
      else if (e.status !== 401) showErrors(form, banner, e);
    } finally {
      save.disabled = false;
    }
  });
  del?.addEventListener("click", async () => {
    const path = `access-key-configurations/${original.id}`;
    if (await confirmDialog("Delete configuration", `Delete “${original.name}”?`, [["delete", "Delete"]]) === "cancel") return;
    try {
      await api("DELETE", path);
    } catch (e) {
      if (e.code !== "configuration_in_use") { if (e.status !== 401) banner.textContent = e.message; return; }
      const n = e.details.accessKeys;
      if (await confirmDialog("The configuration is in use", `${plural(Number(n) || 0, "access key")} use “${original.name}”. Delete it and those keys?`,
        [["cascade", "Delete configuration and its keys"]]) === "cancel") return;
      await api("DELETE", `${path}?cascade=true`);
    }
    announce(`Deleted ${original.name}.`);
    location.hash = "#/access-keys/configurations";
  });
  main().replaceChildren(form);
  name.focus();
}
