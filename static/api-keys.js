// Management API keys: the credentials that call this API. Stored ones are created (the token
// shown once), renamed and revoked; the bootstrap ones live in the config and are only listed.

import { h, main, announce, field, input, time, copyText, banner as makeBanner, confirmDialog, plural } from "./dom.js";
import { api, all } from "./api.js";
import { actionForm, shownOnce } from "./forms.js";
import { accessTabs } from "./access-tabs.js";

const stored = (k) => k.keyRedacted !== "********";

export async function renderApiKeys() {
  main().replaceChildren(h("p", {}, "Loading management API keys…"));
  let keys;
  const load = async () => { keys = await all("api-keys?limit=100", "aiGatewayApiKeys"); };
  try {
    await load();
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const banner = makeBanner("api-banner");
  const slot = h("div", { id: "api-action" });
  const body = h("tbody");
  const close = () => slot.replaceChildren();
  const refresh = async () => { await load(); paint(); };

  const createForm = () => {
    const name = input("name", "", { autocomplete: "off" });
    const description = input("description", "");
    slot.replaceChildren(actionForm("New management API key", [
      field("m-name", "Key name", name, "Who or what uses it: a script, a CI job."),
      field("m-description", "Description", description),
    ], "Create API key", async () => {
      const b = { name: name.value.trim() };
      if (description.value.trim()) b.description = description.value.trim();
      const { data } = await api("POST", "api-keys", { body: b });
      slot.replaceChildren(shownOnce("API key", data.token, copyText));
      document.getElementById("copy-token").focus();
      announce(`Created API key ${data.name}.`);
      await refresh();
    }, close));
    name.focus();
  };

  const renameForm = async (k) => {
    const { etag } = await api("GET", `api-keys/${k.id}`);
    const name = input("name", k.name, { autocomplete: "off" });
    slot.replaceChildren(actionForm(`Rename API key ${k.name}`, [field("m-rename", "New name", name)], "Rename", async () => {
      await api("PATCH", `api-keys/${k.id}`, { body: { name: name.value.trim() }, etag });
      close();
      announce(`Renamed to ${name.value.trim()}.`);
      await refresh();
    }, close));
    name.focus();
  };

  const revoke = async (k) => {
    if (await confirmDialog("Revoke API key", `Revoke “${k.name}” (${k.keyRedacted})? Its token is refused from the next request on.`,
      [["delete", "Revoke"]]) === "cancel") return;
    await api("DELETE", `api-keys/${k.id}`);
    announce(`Revoked ${k.name}.`);
    await refresh();
  };

  const guarded = (fn) => async () => {
    banner.replaceChildren();
    try { await fn(); } catch (e) { if (e.status !== 401) banner.textContent = e.message; }
  };

  const paint = () => {
    body.replaceChildren(...keys.map((k) => h("tr", {},
      h("td", { "data-label": "Name", class: "id" }, k.name),
      h("td", { "data-label": "Key" }, h("code", {}, k.keyRedacted)),
      h("td", { "data-label": "Created" }, time(k.createdAt)),
      h("td", { "data-label": "Last used" }, stored(k) ? time(k.lastUsed) : "—"),
      h("td", { "data-label": "Actions" }, stored(k) ? h("div", { class: "row" },
        h("button", { type: "button", class: "quiet small", "aria-label": `Rename ${k.name}`, onclick: guarded(() => renameForm(k)) }, "Rename"),
        h("button", { type: "button", class: "quiet small", "aria-label": `Revoke ${k.name}`, onclick: guarded(() => revoke(k)) }, "Revoke"))
        : h("span", { class: "hint" }, "set in the config file")))));
  };

  main().replaceChildren(accessTabs("api"),
    h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Management API keys"),
      h("button", { type: "button", id: "new-api-key", onclick: createForm }, "New API key")),
    banner, slot,
    h("p", { class: "count" }, `${plural(keys.length, "credential")} can call this API.`),
    h("table", { id: "api-keys" },
      h("caption", { class: "sr-only" }, "Management API keys"),
      h("thead", {}, h("tr", {}, ["Name", "Key", "Created", "Last used", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body));
  paint();
}
