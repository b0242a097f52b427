// The provider form, for creating and editing: the edit is sent as a PATCH of just the changed
// fields with If-Match, so a change made elsewhere meanwhile is reported instead of overwritten.

import { h, main, announce, formatTime, field, input, banner as makeBanner, confirmDialog } from "./dom.js";
import { api, query } from "./api.js";
import { clearErrors, clearOnEdit, showErrors } from "./errors.js";
import { advanced, storedAdvanced } from "./advanced.js";
import { surfacesEditor, modelsEditor } from "./provider-parts.js";
import { providerTools } from "./provider-tools.js";
import { providers, replaceProvider } from "./providers-list.js";

/** The comparable shape of a stored provider, to send only what changed. */
function storedValue(p) {
  return {
    name: p.name,
    baseUrl: p.baseUrl,
    metadata: p.metadata ?? "",
    supportedApiSurfaces: p.supportedApiSurfaces.map((s) => {
      const out = { format: s.format };
      if (s.surface) out.surface = s.surface;
      if (s.supportedParams && s.supportedParams.length) out.supportedParams = s.supportedParams.map((x) => ({ name: x.name }));
      return out;
    }),
    models: p.models.map((m) => ({ modelId: m.modelId })),
    ...storedAdvanced(p),
  };
}

function changes(before, after) {
  const patch = {};
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) patch[key] = after[key];
  }
  if ("metadata" in patch && patch.metadata === "") patch.metadata = null;
  return patch;
}

function staleBanner(banner, id, what) {
  banner.replaceChildren(
    `This provider was changed elsewhere since you opened it, so ${what}. Reload to see the latest version.`,
    h("button", { type: "button", class: "quiet small", id: "reload", onclick: () => renderProviderForm(id) }, "Reload"));
  banner.focus?.();
}

export async function renderProviderForm(id) {
  let original = null;
  let etag = null;
  if (id) {
    main().replaceChildren(h("p", {}, "Loading provider…"));
    try {
      ({ data: original, etag } = await api("GET", `providers/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e.status === 401) return;
      main().replaceChildren(h("div", { class: "banner", role: "alert" }, e.message),
        h("a", { href: "#/" }, "Back to providers"));
      return;
    }
  }
  const editing = Boolean(original);
  const banner = makeBanner("form-banner");
  const providerId = input("providerId", original?.providerId, {
    required: true, disabled: editing, autocomplete: "off", spellcheck: "false",
  });
  const name = input("name", original?.name, { required: true, autocomplete: "off" });
  const baseUrl = input("baseUrl", original?.baseUrl, {
    type: "url", required: true, placeholder: "http://localhost:11434/v1", spellcheck: "false",
  });
  const metadata = h("textarea", { rows: 2 });
  metadata.dataset.path = "metadata";
  metadata.value = original?.metadata ?? "";
  const surfaces = surfacesEditor(original?.supportedApiSurfaces);
  const models = modelsEditor(original);
  const settings = advanced(original);
  const value = () => ({
    name: name.value,
    baseUrl: baseUrl.value,
    metadata: metadata.value,
    supportedApiSurfaces: surfaces.value(),
    models: models.value(),
    ...settings.value(),
  });

  const save = h("button", { type: "submit", id: "save" }, editing ? "Save changes" : "Create provider");
  const del = editing ? h("button", { type: "button", class: "danger", id: "delete" }, "Delete provider") : null;
  const tools = editing ? providerTools(original, () => etag, banner, (p, tag) => {
    replaceProvider(p);
    announce(`Added models to ${p.providerId}.`);
    etag = tag;
    renderProviderForm(p.id);
  }) : null;

  const formEl = h("form", { class: "panel", novalidate: true, "aria-labelledby": "form-title" },
    h("h1", { id: "form-title" }, editing ? `Provider ${original.providerId}` : "New provider"),
    editing ? h("p", { class: "meta" },
      "Created ", h("time", { datetime: original.createdAt }, formatTime(original.createdAt)),
      ` by ${original.createdBy.id} · updated `,
      h("time", { datetime: original.updatedAt }, formatTime(original.updatedAt)),
      ` by ${original.lastUpdatedBy.id} · `,
      h("a", { href: `#/provider-keys/${original.id}` }, "Keys")) : null,
    banner,
    tools?.element,
    field("f-provider-id", "Provider ID", providerId,
      editing ? "The provider ID cannot be changed." : "Lowercase letters, digits, . _ and -. Models are addressed as providerId:modelId."),
    field("f-name", "Name", name),
    field("f-base-url", "Base URL", baseUrl, "The API's root, e.g. http://localhost:11434/v1 or https://api.example.com/v1."),
    field("f-metadata", "Metadata", metadata, "Free text for your own use, up to 4096 characters."),
    h("h2", {}, "API surfaces"),
    h("p", { class: "hint" }, "None declared: the provider serves all OpenAI surfaces."),
    h("p", { class: "field-error", "data-error-for": "supportedApiSurfaces" }),
    surfaces.element,
    h("button", { type: "button", class: "quiet small", id: "add-surface", onclick: () => surfaces.add() }, "Add surface"),
    h("h2", {}, "Models"),
    h("p", { class: "field-error", "data-error-for": "models" }),
    models.element,
    h("button", { type: "button", class: "quiet small", id: "add-model", onclick: () => models.add().input.focus() }, "Add model"),
    models.pasteField,
    settings.element,
    h("div", { class: "actions" },
      save,
      h("a", { class: "button quiet", href: "#/" }, "Cancel"),
      h("span", { class: "spacer" }),
      del));
  clearOnEdit(formEl);

  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(formEl, banner);
    const current = value();
    save.disabled = true;
    try {
      if (editing) {
        const patch = changes(storedValue(original), current);
        if (Object.keys(patch).length === 0) {
          announce("Nothing changed.");
          return;
        }
        ({ data: original, etag } = await api("PATCH", `providers/${original.id}`, { body: patch, etag }));
        replaceProvider(original);
        announce(`Saved ${original.providerId}.`);
        renderProviderForm(original.id);
      } else {
        const body = { providerId: providerId.value.trim(), ...current };
        if (!body.metadata) delete body.metadata;
        for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
        const { data } = await api("POST", "providers", { body });
        providers.items.unshift(data);
        announce(`Created ${data.providerId}.`);
        location.hash = `#/providers/${data.id}`;
      }
    } catch (e) {
      if (e.status === 412) staleBanner(banner, id, "your edit was not saved");
      else if (e.status !== 401) showErrors(formEl, banner, e);
    } finally {
      save.disabled = false;
    }
  });

  del?.addEventListener("click", () => deleteProvider(original, etag, banner));
  main().replaceChildren(formEl);
  (editing ? name : providerId).focus();
}

/** Deletes after a confirmation; a provider with keys offers deleting them too, explicitly. */
async function deleteProvider(provider, etag, banner) {
  let keys = 0;
  try {
    const { data } = await api("GET", `provider-keys${query({ provider: provider.providerId, limit: 100 })}`);
    keys = data.aiGatewayProviderKeys.length;
  } catch (e) {
    if (e.status === 401) return;
  }
  const text = `Delete provider “${provider.providerId}” (${provider.name})? Clients using ${provider.providerId}:… model strings will stop working. This cannot be undone.`;
  const choice = keys
    ? await confirmDialog("Delete provider", `${text} It has ${keys}${keys === 100 ? " or more" : ""} key${keys === 1 ? "" : "s"}; they would be deleted with it.`,
      [["cascade", "Delete provider and its keys"]])
    : await confirmDialog("Delete provider", text, [["delete", "Delete"]]);
  if (choice === "cancel") return;
  try {
    await api("DELETE", `providers/${provider.id}${choice === "cascade" ? "?cascade=true" : ""}`, { etag });
    providers.items = providers.items.filter((p) => p.id !== provider.id);
    announce(`Deleted ${provider.providerId}${choice === "cascade" ? " and its keys" : ""}.`);
    location.hash = "#/";
  } catch (e) {
    if (e.status === 412) staleBanner(banner, provider.id, "it was not deleted");
    else if (e.code === "provider_has_keys") {
      banner.textContent = "Keys were added to this provider meanwhile. Delete again to choose what happens to them.";
    } else if (e.status !== 401) banner.textContent = e.message;
  }
}
