// The modelgate admin page: a plain client of the /providers API. No framework, no build step.
// Every piece of server data reaches the page through textContent, never as HTML.

import { advanced, storedAdvanced } from "./advanced.js";

const TOKEN_KEY = "modelgate.token";
const PAGE = 100;

// The formats and surfaces the server accepts. A server test compares this block with the
// server's catalog, so the two cannot drift apart.
/* catalog:start */
const API_FORMATS = {
  "openai": ["chat-completions", "completions", "responses", "embeddings"],
  "anthropic": ["messages", "count-tokens"]
};
/* catalog:end */

const main = document.getElementById("main");
const signOutButton = document.getElementById("sign-out");
const statusBox = document.getElementById("status");

let token = sessionStorage.getItem(TOKEN_KEY);
/** Providers loaded so far, newest first, and where the next page is. */
let listState = { items: [], next: null, loaded: false, filter: "" };

// ---------- small helpers ----------

/** Builds an element: h("p", {class: "x", onclick: fn}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let statusTimer;
function announce(text) {
  statusBox.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { statusBox.textContent = ""; }, 4000);
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A URI from the API as a same-origin path (the server may prefix a public URL). */
function asPath(uri) {
  const url = new URL(uri, location.origin);
  return url.pathname + url.search;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.msg) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.errorCode;
    this.details = (body && body.details) || {};
  }
}

/** Calls the API with the session's token. A 401 ends the session. */
async function api(method, path, { body, etag } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-Match"] = etag;
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { msg: "The server could not be reached. Is modelgate running?" });
  }
  const data = res.status === 204 || res.status === 304 ? null : await res.json().catch(() => null);
  if (res.status === 401 && token) {
    signOut("Your token was not accepted any more. Sign in again.");
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, etag: res.headers.get("ETag") };
}

// ---------- sign in / out ----------

function signOut(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  listState = { items: [], next: null, loaded: false, filter: "" };
  renderSignIn(message);
}

signOutButton.addEventListener("click", () => {
  signOut("Signed out.");
  location.hash = "#/";
});

function renderSignIn(message) {
  signOutButton.hidden = true;
  const error = h("p", { class: "field-error", id: "token-error", role: "alert" }, message || "");
  const input = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "current-password",
    required: true, "aria-describedby": "token-help token-error",
  });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "panel signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to modelgate"),
    h("div", { class: "field" },
      h("label", { for: "token" }, "Admin token"),
      input,
      h("p", { class: "hint", id: "token-help" },
        "Paste a token: on first start modelgate writes one to data/admin-token. It stays in this tab only."),
      error),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) return;
    submit.disabled = true;
    error.textContent = "";
    try {
      const res = await fetch("/providers?limit=1", { headers: { Authorization: `Bearer ${candidate}` } });
      if (res.status === 401) {
        error.textContent = "That token was not accepted. Check it and try again.";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      token = candidate;
      sessionStorage.setItem(TOKEN_KEY, token);
      route();
    } catch (e) {
      error.textContent = "The server could not be reached. Is modelgate running?";
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

// ---------- the list ----------

async function loadMore() {
  const path = listState.next || `/providers?limit=${PAGE}`;
  const { data } = await api("GET", path);
  listState.items.push(...data.aiGatewayProviders);
  listState.next = data.nextPageUri ? asPath(data.nextPageUri) : null;
  listState.loaded = true;
}

function surfacesText(provider) {
  return provider.supportedApiSurfaces
    .map((s) => (s.surface ? `${s.format}/${s.surface}` : s.format))
    .join(", ");
}

async function renderList() {
  const banner = h("div", { class: "banner", role: "alert" });
  if (!listState.loaded) {
    main.replaceChildren(h("p", {}, "Loading providers…"));
    try {
      await loadMore();
    } catch (e) {
      if (e.status === 401) return;
      banner.textContent = e.message;
    }
  }
  const filter = h("input", {
    id: "filter", type: "search", value: listState.filter,
    placeholder: "providerId, name, URL or model", "aria-controls": "providers",
  });
  const body = h("tbody");
  const count = h("p", { class: "count", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "quiet", id: "load-more" }, "Load more");
  const table = h("table", { id: "providers" },
    h("caption", { class: "sr-only" }, "Providers, newest first"),
    h("thead", {}, h("tr", {},
      ["Provider ID", "Name", "Base URL", "Models", "Surfaces", "Updated"].map((t) => h("th", { scope: "col" }, t)))),
    body);

  const paint = () => {
    const needle = listState.filter.trim().toLowerCase();
    const shown = listState.items.filter((p) => !needle || [
      p.providerId, p.name, p.baseUrl, ...p.models.map((m) => m.modelId),
    ].some((v) => v.toLowerCase().includes(needle)));
    body.replaceChildren(...shown.map((p) => h("tr", {},
      h("td", { "data-label": "Provider ID" }, h("a", { href: `#/providers/${p.id}` }, p.providerId)),
      h("td", { "data-label": "Name" }, p.name),
      h("td", { "data-label": "Base URL", class: "url" }, p.baseUrl),
      h("td", { "data-label": "Models" }, String(p.models.length)),
      h("td", { "data-label": "Surfaces" }, surfacesText(p) || "—"),
      h("td", { "data-label": "Updated" }, h("time", { datetime: p.updatedAt }, formatTime(p.updatedAt))))));
    const total = listState.items.length;
    count.textContent = needle
      ? `${shown.length} of ${total} loaded providers match “${listState.filter.trim()}”.`
      : `${total} provider${total === 1 ? "" : "s"} loaded${listState.next ? "; more on the server" : ""}.`;
    more.hidden = !listState.next;
  };

  filter.addEventListener("input", () => { listState.filter = filter.value; paint(); });
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await loadMore();
      paint();
    } catch (e) {
      banner.textContent = e.message;
    } finally {
      more.disabled = false;
    }
  });

  const header = h("div", { class: "toolbar" },
    h("h1", { class: "grow" }, "Providers"),
    h("a", { class: "button", href: "#/new", id: "new-provider" }, "New provider"));

  if (listState.items.length === 0 && !banner.textContent) {
    main.replaceChildren(header, h("div", { class: "panel empty" },
      h("h2", {}, "No providers yet"),
      h("p", {}, "A provider is an endpoint modelgate can send model calls to: an OpenAI-compatible server such as Ollama or vLLM, or an Anthropic-style API."),
      h("p", {}, "Add one with its base URL (for Ollama: ", h("code", {}, "http://localhost:11434/v1"), ") and the models it serves."),
      h("a", { class: "button", href: "#/new" }, "Add your first provider")));
    return;
  }
  main.replaceChildren(header, banner,
    h("div", { class: "toolbar" }, h("div", { class: "grow" },
      h("label", { for: "filter" }, "Filter loaded providers"), filter)),
    count, table, h("div", { class: "actions" }, more));
  paint();
}

// ---------- the form (create and edit) ----------

/** The form's values as the API's JSON. */
function formValue(form) {
  return {
    name: form.name.value,
    baseUrl: form.baseUrl.value,
    metadata: form.metadata.value,
    supportedApiSurfaces: form.surfaces.map((s) => {
      const out = { format: s.format.value };
      if (s.surface.value) out.surface = s.surface.value;
      if (s.params.length) out.supportedParams = s.params.map((name) => ({ name }));
      return out;
    }),
    models: form.models.map((m) => ({ modelId: m.input.value.trim() })),
    ...(form.advanced ? form.advanced.value() : {}),
  };
}

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

function field(id, label, control, hint) {
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": control.dataset.path });
  control.id = id;
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h("div", { class: "field" },
    h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    error);
}

function input(path, value, attrs = {}) {
  const el = h("input", { type: "text", ...attrs });
  el.dataset.path = path;
  el.value = value ?? "";
  return el;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", { class: "sr-only", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  announce(`Copied ${text}`);
}

async function renderForm(id) {
  let original = null;
  let etag = null;
  if (id) {
    main.replaceChildren(h("p", {}, "Loading provider…"));
    try {
      ({ data: original, etag } = await api("GET", `/providers/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e.status === 401) return;
      main.replaceChildren(h("div", { class: "banner", role: "alert" }, e.message),
        h("a", { href: "#/" }, "Back to providers"));
      return;
    }
  }
  const editing = Boolean(original);
  const banner = h("div", { class: "banner", role: "alert", id: "form-banner", tabindex: "-1" });
  const form = { surfaces: [], models: [] };
  form.providerId = input("providerId", original?.providerId, {
    required: true, disabled: editing, autocomplete: "off", spellcheck: "false",
  });
  form.name = input("name", original?.name, { required: true, autocomplete: "off" });
  form.baseUrl = input("baseUrl", original?.baseUrl, {
    type: "url", required: true, placeholder: "http://localhost:11434/v1", spellcheck: "false",
  });
  form.metadata = h("textarea", { rows: 2 });
  form.metadata.dataset.path = "metadata";
  form.metadata.value = original?.metadata ?? "";

  form.advanced = advanced({ h, field, input }, original);

  // Surfaces: format, surface for that format, params as tags.
  const surfaceRows = h("div", { class: "rows", id: "surfaces" });
  const addSurface = (s = { format: "openai" }) => {
    const i = form.surfaces.length;
    const row = { params: (s.supportedParams || []).map((p) => p.name) };
    row.format = h("select", {}, Object.keys(API_FORMATS).map((f) => h("option", { value: f }, f)));
    row.format.value = s.format;
    row.surface = h("select", {});
    const fillSurfaces = (keep) => {
      row.surface.replaceChildren(h("option", { value: "" }, "(any)"),
        ...(API_FORMATS[row.format.value] || []).map((x) => h("option", { value: x }, x)));
      row.surface.value = keep || "";
    };
    fillSurfaces(s.surface);
    row.format.addEventListener("change", () => fillSurfaces(""));
    const chips = h("div", { class: "chips" });
    const paintChips = () => chips.replaceChildren(...row.params.map((name, k) => h("span", { class: "chip" }, name,
      h("button", { type: "button", "aria-label": `Remove parameter ${name}`, onclick: () => { row.params.splice(k, 1); paintChips(); } }, "×"))));
    paintChips();
    const tagInput = h("input", { type: "text", placeholder: "e.g. tools, then Enter" });
    tagInput.dataset.path = `supportedApiSurfaces[${i}].supportedParams`;
    const addTags = () => {
      for (const name of tagInput.value.split(",").map((x) => x.trim()).filter(Boolean)) {
        if (!row.params.includes(name)) row.params.push(name);
      }
      tagInput.value = "";
      paintChips();
    };
    tagInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === ",") { e.preventDefault(); addTags(); }
    });
    tagInput.addEventListener("blur", addTags);
    row.format.dataset.path = `supportedApiSurfaces[${i}].format`;
    row.surface.dataset.path = `supportedApiSurfaces[${i}].surface`;
    const id = `surface-${i}`;
    row.el = h("fieldset", { class: "surface" },
      h("legend", {}, `API surface ${i + 1}`),
      h("div", { class: "row" },
        h("div", { class: "grow" }, field(`${id}-format`, "Format", row.format)),
        h("div", { class: "grow" }, field(`${id}-surface`, "Surface", row.surface))),
      field(`${id}-params`, "Supported parameters", tagInput, "Top-level request fields this surface accepts."),
      chips,
      h("p", { class: "field-error", "data-error-for": `supportedApiSurfaces[${i}]` }),
      h("button", { type: "button", class: "quiet small", onclick: () => {
        form.surfaces.splice(form.surfaces.indexOf(row), 1);
        rebuildSurfaces();
      } }, `Remove surface ${i + 1}`));
    form.surfaces.push(row);
    surfaceRows.append(row.el);
  };
  const rebuildSurfaces = () => {
    const kept = formValue(form).supportedApiSurfaces;
    form.surfaces = [];
    surfaceRows.replaceChildren();
    kept.forEach(addSurface);
  };
  (original?.supportedApiSurfaces || []).forEach(addSurface);

  // Models: one row each; many can be pasted at once.
  const modelRows = h("div", { class: "rows", id: "models" });
  const addModel = (modelId = "") => {
    const i = form.models.length;
    const row = { input: input(`models[${i}].modelId`, modelId, { autocomplete: "off", spellcheck: "false" }) };
    const id = `model-${i}`;
    row.input.id = id;
    row.input.setAttribute("aria-describedby", `${id}-error`);
    const saved = editing && original.models.some((m) => m.modelId === modelId) && modelId;
    row.el = h("div", { class: "row" },
      h("div", { class: "grow" },
        h("label", { for: id, class: "sr-label" }, `Model ${i + 1} ID`),
        row.input,
        h("p", { class: "field-error", id: `${id}-error`, "data-error-for": `models[${i}].modelId` })),
      saved ? h("button", { type: "button", class: "quiet small",
        "aria-label": `Copy ${original.providerId}:${modelId}`,
        onclick: () => copyText(`${original.providerId}:${modelId}`) }, "Copy address") : null,
      h("button", { type: "button", class: "quiet small", "aria-label": `Remove model ${i + 1}`, onclick: () => {
        form.models.splice(form.models.indexOf(row), 1);
        rebuildModels();
      } }, "Remove"));
    form.models.push(row);
    modelRows.append(row.el);
    return row;
  };
  const rebuildModels = () => {
    const kept = form.models.map((m) => m.input.value);
    form.models = [];
    modelRows.replaceChildren();
    kept.forEach((v) => addModel(v));
  };
  (original?.models || []).forEach((m) => addModel(m.modelId));
  const paste = h("textarea", { rows: 3, placeholder: "llama3.1:8b\nqwen2.5:7b" });
  const addPasted = () => {
    const ids = paste.value.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);
    const present = new Set(form.models.map((m) => m.input.value.trim()));
    ids.filter((x) => !present.has(x)).forEach((x) => addModel(x));
    paste.value = "";
    announce(`${ids.length} model${ids.length === 1 ? "" : "s"} added`);
  };

  const save = h("button", { type: "submit", id: "save" }, editing ? "Save changes" : "Create provider");
  const del = editing ? h("button", { type: "button", class: "danger", id: "delete" }, "Delete provider") : null;

  const clearErrors = () => {
    banner.replaceChildren();
    main.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; });
    main.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  };

  /** The error slot of `path`, or of the nearest enclosing path that has one. */
  const errorSlot = (path) => {
    for (let p = path; p;) {
      const slot = main.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
      if (slot) return slot;
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (shorter === p) return null;
      p = shorter;
    }
    return null;
  };

  /** Puts each `details` entry next to the field its path names; the rest goes in the banner. */
  const showErrors = (error) => {
    if (error.status === 412) {
      banner.replaceChildren(
        "This provider was changed elsewhere since you opened it, so your edit was not saved. Reload to see the latest version.",
        h("button", { type: "button", class: "quiet small", id: "reload", onclick: () => renderForm(id) }, "Reload"));
      banner.focus?.();
      return;
    }
    const unplaced = [];
    for (const [path, message] of Object.entries(error.details)) {
      const slot = errorSlot(path);
      if (!slot) {
        unplaced.push(`${path}: ${message}`);
        continue;
      }
      slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
      main.querySelector(`[data-path="${CSS.escape(slot.dataset.errorFor)}"]`)?.setAttribute("aria-invalid", "true");
    }
    banner.replaceChildren(error.message, ...unplaced.map((line) => h("div", {}, line)));
    const first = main.querySelector("[aria-invalid='true']");
    if (first?.closest("details")) first.closest("details").open = true;
    if (first) first.focus();
    else banner.scrollIntoView({ block: "nearest" });
  };

  const formEl = h("form", { class: "panel", novalidate: true, "aria-labelledby": "form-title" },
    h("h1", { id: "form-title" }, editing ? `Provider ${original.providerId}` : "New provider"),
    editing ? h("p", { class: "meta" },
      "Created ", h("time", { datetime: original.createdAt }, formatTime(original.createdAt)),
      ` by ${original.createdBy.id} · updated `,
      h("time", { datetime: original.updatedAt }, formatTime(original.updatedAt)),
      ` by ${original.lastUpdatedBy.id}`) : null,
    banner,
    field("f-provider-id", "Provider ID", form.providerId,
      editing ? "The provider ID cannot be changed." : "Lowercase letters, digits, . _ and -. Models are addressed as providerId:modelId."),
    field("f-name", "Name", form.name),
    field("f-base-url", "Base URL", form.baseUrl, "The API's root, e.g. http://localhost:11434/v1 or https://api.example.com/v1."),
    field("f-metadata", "Metadata", form.metadata, "Free text for your own use, up to 4096 characters."),
    h("h2", {}, "API surfaces"),
    h("p", { class: "field-error", "data-error-for": "supportedApiSurfaces" }),
    surfaceRows,
    h("button", { type: "button", class: "quiet small", id: "add-surface", onclick: () => addSurface() }, "Add surface"),
    h("h2", {}, "Models"),
    h("p", { class: "field-error", "data-error-for": "models" }),
    modelRows,
    h("button", { type: "button", class: "quiet small", id: "add-model", onclick: () => addModel().input.focus() }, "Add model"),
    h("div", { class: "field" },
      h("label", { for: "paste-models" }, "Paste model IDs, one per line"),
      Object.assign(paste, { id: "paste-models" }),
      h("button", { type: "button", class: "quiet small", id: "add-pasted", onclick: addPasted }, "Add pasted models")),
    form.advanced.element,
    h("div", { class: "actions" },
      save,
      h("a", { class: "button quiet", href: "#/" }, "Cancel"),
      h("span", { class: "spacer" }),
      del));

  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const value = formValue(form);
    save.disabled = true;
    try {
      if (editing) {
        const patch = changes(storedValue(original), value);
        if (Object.keys(patch).length === 0) {
          announce("Nothing changed.");
          return;
        }
        ({ data: original, etag } = await api("PATCH", `/providers/${original.id}`, { body: patch, etag }));
        replaceInList(original);
        announce(`Saved ${original.providerId}.`);
        renderForm(original.id);
      } else {
        const body = { providerId: form.providerId.value.trim(), ...value };
        if (!body.metadata) delete body.metadata;
        for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
        const { data } = await api("POST", "/providers", { body });
        listState.items.unshift(data);
        announce(`Created ${data.providerId}.`);
        location.hash = `#/providers/${data.id}`;
      }
    } catch (e) {
      if (e.status !== 401) showErrors(e);
    } finally {
      save.disabled = false;
    }
  });

  del?.addEventListener("click", () => confirmDelete(original, etag, banner));
  main.replaceChildren(formEl);
  (editing ? form.name : form.providerId).focus();
}

function replaceInList(provider) {
  const i = listState.items.findIndex((p) => p.id === provider.id);
  if (i >= 0) listState.items[i] = provider;
}

function confirmDelete(provider, etag, banner) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent =
    `Delete provider “${provider.providerId}” (${provider.name})? Clients using ${provider.providerId}:… model strings will stop working. This cannot be undone.`;
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", `/providers/${provider.id}`, { etag });
      listState.items = listState.items.filter((p) => p.id !== provider.id);
      announce(`Deleted ${provider.providerId}.`);
      location.hash = "#/";
    } catch (e) {
      if (e.status === 412) {
        banner.replaceChildren(
          "This provider was changed elsewhere since you opened it, so it was not deleted. Reload to see the latest version.",
          h("button", { type: "button", class: "quiet small", id: "reload", onclick: () => renderForm(provider.id) }, "Reload"));
      } else if (e.status !== 401) {
        banner.textContent = e.message;
      }
    }
  }, { once: true });
}

// ---------- routing ----------

function route() {
  if (!token) {
    renderSignIn();
    return;
  }
  signOutButton.hidden = false;
  const hash = location.hash || "#/";
  const match = hash.match(/^#\/providers\/([^/]+)$/);
  if (hash === "#/new") renderForm(null);
  else if (match) renderForm(decodeURIComponent(match[1]));
  else renderList();
}

window.addEventListener("hashchange", route);
route();
