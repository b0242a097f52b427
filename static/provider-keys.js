// The provider keys view: one provider's keys (redacted, last used, resting or refused by
// the data plane, last test), added, renamed, rotated, tested and deleted.

import { h, main, announce, field, input, time, banner as makeBanner, confirmDialog, plural, refocus } from "./dom.js";
import { api, all, query } from "./api.js";
import { actionForm } from "./forms.js";
import { probeText } from "./provider-tools.js";

/** Last test answers seen in this tab, by key id: the page's view of "refused". */
const tested = new Map();

/** The data plane's rest of the key, as the server tells it: calls try it last until then. */
function restOf(key) {
  const rest = key.state;
  if (!rest) return null;
  const until = new Date(rest.until).toLocaleTimeString();
  const words = `${rest.status === "refused" ? "Refused" : "Resting"}: tried last until ${until}, because ${rest.reason}.`;
  return h("span", { class: `state ${rest.status === "refused" ? "bad" : "warn"}`, title: words, "data-rest": rest.status },
    h("span", { "aria-hidden": "true" }, `${rest.status} until ${until}`),
    h("span", { class: "sr-only" }, words));
}

function testedOf(key) {
  const r = tested.get(key.id);
  if (!r) return key.state ? null : h("span", { class: "state" }, "not tested");
  if (r.ok) return h("span", { class: "state" }, "accepted");
  const refused = [401, 402, 403].includes(r.statusCode);
  return h("span", { class: "state bad", title: r.error || "" }, refused ? "refused" : "failed");
}

const stateOf = (key) => h("div", { class: "row" }, restOf(key), testedOf(key));

export async function renderProviderKeys(providerRef) {
  main().replaceChildren(h("p", {}, "Loading provider keys…"));
  let list;
  try {
    list = await all("providers?limit=100", "aiGatewayProviders");
  } catch (e) {
    if (e.status !== 401) main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message));
    return;
  }
  const header = h("div", { class: "toolbar" }, h("h1", { class: "grow" }, "Provider keys"));
  if (list.length === 0) {
    main().replaceChildren(header, h("div", { class: "panel empty" },
      h("h2", {}, "No providers yet"),
      h("p", {}, "Keys belong to a provider: add a provider first."),
      h("a", { class: "button", href: "#/new" }, "Add a provider")));
    return;
  }
  const provider = list.find((p) => p.id === providerRef || p.providerId === providerRef) || list[0];
  const picker = h("select", { id: "key-provider" },
    list.map((p) => h("option", { value: p.id, selected: p.id === provider.id }, `${p.providerId} (${p.name})`)));
  picker.addEventListener("change", () => { location.hash = `#/provider-keys/${picker.value}`; });

  const banner = makeBanner("keys-banner");
  const body = h("tbody");
  const slot = h("div", { id: "key-action" });
  const count = h("p", { class: "count", "aria-live": "polite" });
  let keys = [];

  const load = async () => {
    keys = await all(`provider-keys${query({ provider: provider.providerId, limit: 100 })}`, "aiGatewayProviderKeys");
    paint();
  };
  const close = () => { slot.replaceChildren(); };
  const done = async (message) => {
    close();
    announce(message);
    try { await load(); } catch (e) { banner.textContent = e.message; }
    refocus(document.getElementById("add-key"));
  };

  const addForm = () => {
    const name = input("name", "", { autocomplete: "off" });
    const value = h("input", { type: "password", autocomplete: "new-password" });
    value.dataset.path = "value";
    const description = input("description", "");
    slot.replaceChildren(actionForm(`Add a key to ${provider.providerId}`, [
      field("k-name", "Key name", name, "For you: which account or project it is."),
      field("k-value", "Secret value", value, "Sealed at rest; shown redacted from now on."),
      field("k-description", "Description", description),
    ], "Add key", async () => {
      const body = { providerId: provider.providerId, name: name.value.trim(), value: value.value };
      if (description.value.trim()) body.description = description.value.trim();
      await api("POST", "provider-keys", { body });
      await done(`Added key ${body.name}.`);
    }, close));
    name.focus();
  };

  const renameForm = (key) => {
    const name = input("name", key.name, { autocomplete: "off" });
    slot.replaceChildren(actionForm(`Rename key ${key.name}`, [field("k-rename", "New name", name)], "Rename", async () => {
      await api("PATCH", `provider-keys/${key.id}`, { body: { name: name.value.trim() } });
      await done(`Renamed to ${name.value.trim()}.`);
    }, close));
    name.focus();
  };

  const rotateForm = (key) => {
    const value = h("input", { type: "password", autocomplete: "new-password" });
    value.dataset.path = "value";
    slot.replaceChildren(actionForm(`Rotate key ${key.name}`, [
      field("k-rotate", "New secret value", value, "Replaces the secret under the same key; calls use it from the next one on."),
    ], "Rotate", async () => {
      await api("POST", `provider-keys/${key.id}/rotate`, { body: { name: key.name, value: value.value } });
      tested.delete(key.id);
      await done(`Rotated ${key.name}.`);
    }, close));
    value.focus();
  };

  const test = async (key, button) => {
    button.disabled = true;
    try {
      const { data } = await api("POST", `provider-keys/${key.id}/test`);
      tested.set(key.id, data);
      paint();
      announce(`${key.name}: ${probeText(data)}`);
    } catch (e) {
      if (e.status !== 401) banner.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  };

  const remove = async (key) => {
    const choice = await confirmDialog("Delete provider key",
      `Delete key “${key.name}” (${key.keyRedacted}) of ${provider.providerId}? Calls stop using it at once.`,
      [["delete", "Delete"]]);
    if (choice === "cancel") return;
    try {
      await api("DELETE", `provider-keys/${key.id}`);
      await done(`Deleted ${key.name}.`);
    } catch (e) {
      if (e.code === "provider_key_in_use") {
        const n = (e.details.accessKeyConfigurations || []).length;
        const again = await confirmDialog("The key is in a router",
          `${plural(n, "access key configuration")} route calls to “${key.name}”. Delete it anyway and take it out of their routers?`,
          [["cascade", "Delete and take it out of routers"]]);
        if (again !== "cascade") return;
        try {
          await api("DELETE", `provider-keys/${key.id}?cascade=true`);
          await done(`Deleted ${key.name} and took it out of routers.`);
        } catch (e2) {
          if (e2.status !== 401) banner.textContent = e2.message;
        }
      } else if (e.status !== 401) banner.textContent = e.message;
    }
  };

  const paint = () => {
    body.replaceChildren(...keys.map((k) => {
      const testButton = h("button", { type: "button", class: "quiet small", "aria-label": `Test ${k.name}` }, "Test");
      testButton.addEventListener("click", () => test(k, testButton));
      return h("tr", {},
        h("td", { "data-label": "Name", class: "id" }, k.name),
        h("td", { "data-label": "Key" }, h("code", {}, k.keyRedacted)),
        h("td", { "data-label": "Last used" }, time(k.lastUsed)),
        h("td", { "data-label": "State" }, stateOf(k)),
        h("td", { "data-label": "Actions" }, h("div", { class: "row" },
          h("button", { type: "button", class: "quiet small", "aria-label": `Rename ${k.name}`, onclick: () => renameForm(k) }, "Rename"),
          h("button", { type: "button", class: "quiet small", "aria-label": `Rotate ${k.name}`, onclick: () => rotateForm(k) }, "Rotate"),
          testButton,
          h("button", { type: "button", class: "quiet small", "aria-label": `Delete ${k.name}`, onclick: () => remove(k) }, "Delete"))));
    }));
    count.textContent = keys.length ? `${plural(keys.length, "key")}.` : `${provider.providerId} has no keys yet: calls go without credentials.`;
  };

  try {
    await load();
  } catch (e) {
    if (e.status === 401) return;
    banner.textContent = e.message;
  }
  main().replaceChildren(header, banner,
    h("div", { class: "toolbar" },
      h("div", { class: "grow" }, h("label", { for: "key-provider" }, "Provider"), picker),
      h("button", { type: "button", id: "add-key", onclick: addForm }, "Add key")),
    count,
    h("table", { id: "keys" },
      h("caption", { class: "sr-only" }, `Keys of ${provider.providerId}`),
      h("thead", {}, h("tr", {}, ["Name", "Key", "Last used", "State", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body),
    slot);
}
