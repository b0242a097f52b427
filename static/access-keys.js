// The access keys view: data-plane keys, created with their token shown once, scoped by a
// configuration, with expiry, a rate, disable, rotate and revoke.

import { h, main, announce, field, input, time, copyText, banner as makeBanner, confirmDialog, plural, refocus } from "./dom.js";
import { api, all } from "./api.js";
import { actionForm, shownOnce } from "./forms.js";
import { accessTabs } from "./access-tabs.js";

/** An RFC 3339 time as a datetime-local control's value (local time), and back. */
const toLocal = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocal = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : null);

function stateOf(k) {
  if (k.disabled) return h("span", { class: "state bad" }, "disabled");
  if (k.expiresAt && new Date(k.expiresAt) <= new Date()) return h("span", { class: "state bad" }, "expired");
  return h("span", { class: "state" }, "active");
}

/** The fields shared by create and edit; `value()` answers the API's JSON. */
function keyFields(configs, k = {}) {
  const name = input("name", k.name, { autocomplete: "off" });
  const config = h("select", {},
    h("option", { value: "" }, "Allow all (no configuration)"),
    configs.map((c) => h("option", { value: c.id }, c.name)));
  config.dataset.path = "accessKeyConfigurationId";
  config.value = k.accessKeyConfiguration?.id || "";
  const expires = h("input", { type: "datetime-local" });
  expires.dataset.path = "expiresAt";
  expires.value = toLocal(k.expiresAt);
  const rate = input("requestsPerMinute", k.requestsPerMinute ?? "", { inputmode: "numeric" });
  const description = input("description", k.description);
  const fields = [
    field("a-name", "Key name", name, "Who or what uses it: an app, a person."),
    field("a-description", "Description", description, "For you: what it is for, who to ask about it."),
    field("a-config", "Configuration", config, "Which providers and models it may call, and which provider keys it uses."),
    field("a-expires", "Expires", expires, "Empty: never. Your local time."),
    field("a-rate", "Requests per minute", rate, "Empty: no limit; 1-1000000."),
  ];
  const value = () => {
    const r = rate.value.trim();
    return {
      name: name.value.trim(),
      description: description.value.trim() || null,
      accessKeyConfigurationId: config.value || null,
      expiresAt: fromLocal(expires.value),
      requestsPerMinute: r === "" ? null : /^\d+$/.test(r) ? Number(r) : r,
    };
  };
  return { fields, value, focus: () => name.focus() };
}

export async function renderAccessKeys() {
  main().replaceChildren(h("p", {}, "Loading access keys…"));
  let keys;
  let configs;
  try {
    [keys, configs] = await Promise.all([
      all("access-keys?limit=100", "aiGatewayAccessKeys"),
      all("access-key-configurations?limit=100", "aiGatewayAccessKeyConfigurations"),
    ]);
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const banner = makeBanner("access-banner");
  const slot = h("div", { id: "access-action" });
  const body = h("tbody");
  const count = h("p", { class: "count", "aria-live": "polite" });
  const close = () => slot.replaceChildren();
  const reload = async () => {
    keys = await all("access-keys?limit=100", "aiGatewayAccessKeys");
    paint();
  };

  const createForm = () => {
    const f = keyFields(configs);
    slot.replaceChildren(actionForm("New access key", f.fields, "Create access key", async () => {
      const body = f.value();
      for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
      const { data } = await api("POST", "access-keys", { body });
      slot.replaceChildren(shownOnce("access key", data.token, copyText));
      document.getElementById("copy-token").focus();
      announce(`Created access key ${data.name}.`);
      await reload();
    }, close));
    f.focus();
  };

  const editForm = async (k) => {
    const { data: fresh, etag } = await api("GET", `access-keys/${k.id}`);
    const f = keyFields(configs, fresh);
    const before = keyFields(configs, fresh).value();
    slot.replaceChildren(actionForm(`Edit access key ${fresh.name}`, f.fields, "Save access key", async () => {
      // Only what changed: an expiry already past, sent back as it is, would be refused.
      const now = f.value();
      const patch = Object.fromEntries(Object.entries(now).filter(([key, v]) => v !== before[key]));
      if (!Object.keys(patch).length) { close(); announce("Nothing changed."); return; }
      await api("PATCH", `access-keys/${k.id}`, { body: patch, etag });
      close();
      announce(`Saved ${f.value().name}.`);
      await reload();
    }, close));
    f.focus();
  };

  const toggle = async (k) => {
    const { etag } = await api("GET", `access-keys/${k.id}`);
    await api("PATCH", `access-keys/${k.id}`, { body: { disabled: k.disabled ? null : true }, etag });
    announce(k.disabled ? `Enabled ${k.name}.` : `Disabled ${k.name}: its calls are refused from now on.`);
    await reload();
  };

  const rotateForm = (k) => {
    const grace = input("graceSeconds", "0", { inputmode: "numeric" });
    slot.replaceChildren(actionForm(`Rotate access key ${k.name}`, [
      field("a-grace", "Old token keeps working for (seconds)", grace, "0-86400: time for apps to switch to the new token."),
    ], "Rotate", async () => {
      const g = grace.value.trim();
      const { data } = await api("POST", `access-keys/${k.id}/rotate`, { body: { graceSeconds: /^\d+$/.test(g) ? Number(g) : g } });
      slot.replaceChildren(shownOnce("access key", data.token, copyText));
      document.getElementById("copy-token").focus();
      announce(`Rotated ${k.name}.`);
      await reload();
    }, close));
    grace.focus();
  };

  const revoke = async (k) => {
    const choice = await confirmDialog("Revoke access key",
      `Revoke “${k.name}” (${k.keyRedacted})? Apps using it are refused from their next call. This cannot be undone.`,
      [["delete", "Revoke"]]);
    if (choice === "cancel") return;
    await api("DELETE", `access-keys/${k.id}`);
    announce(`Revoked ${k.name}.`);
    await reload();
    refocus(document.getElementById("new-access-key"));
  };

  const guarded = (fn) => async (...args) => {
    banner.replaceChildren();
    try { await fn(...args); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  };

  const paint = () => {
    body.replaceChildren(...keys.map((k) => h("tr", {},
      h("td", { "data-label": "Name", class: "id" }, k.name, k.description ? h("p", { class: "hint" }, k.description) : null),
      h("td", { "data-label": "Key" }, h("code", {}, k.keyRedacted)),
      h("td", { "data-label": "Configuration" }, k.accessKeyConfiguration?.name || "allow all"),
      h("td", { "data-label": "State" }, stateOf(k)),
      h("td", { "data-label": "Expires" }, k.expiresAt ? time(k.expiresAt) : "never"),
      h("td", { "data-label": "Last used" }, time(k.lastUsed)),
      h("td", { "data-label": "Actions" }, h("div", { class: "row" },
        h("button", { type: "button", class: "quiet small", "aria-label": `Edit ${k.name}`, onclick: guarded(() => editForm(k)) }, "Edit"),
        h("button", { type: "button", class: "quiet small", "aria-label": `${k.disabled ? "Enable" : "Disable"} ${k.name}`, onclick: guarded(() => toggle(k)) }, k.disabled ? "Enable" : "Disable"),
        h("button", { type: "button", class: "quiet small", "aria-label": `Rotate ${k.name}`, onclick: () => rotateForm(k) }, "Rotate"),
        h("button", { type: "button", class: "quiet small", "aria-label": `Revoke ${k.name}`, onclick: guarded(() => revoke(k)) }, "Revoke"))))));
    count.textContent = keys.length ? `${plural(keys.length, "access key")}.` : "No access keys yet: apps call the data plane with one.";
  };

  main().replaceChildren(accessTabs("keys"),
    h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Access keys"),
      h("button", { type: "button", id: "new-access-key", onclick: createForm }, "New access key")),
    banner, slot, count,
    h("table", { id: "access-keys" },
      h("caption", { class: "sr-only" }, "Access keys, newest first"),
      h("thead", {}, h("tr", {}, ["Name", "Key", "Configuration", "State", "Expires", "Last used", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body));
  paint();
}
