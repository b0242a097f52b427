// The provider form's repeating parts: API surfaces (format, surface, parameters as tags) and
// models (one row each, or many pasted at once).

import { h, field, input, copyText, announce } from "./dom.js";
import { API_FORMATS } from "./catalog.js";

/** The surfaces editor for `initial` surfaces; `value()` answers them as the API's JSON. */
export function surfacesEditor(initial) {
  let rows = [];
  const element = h("div", { class: "rows", id: "surfaces" });
  const value = () => rows.map((s) => {
    const out = { format: s.format.value };
    if (s.surface.value) out.surface = s.surface.value;
    if (s.params.length) out.supportedParams = s.params.map((name) => ({ name }));
    return out;
  });
  const add = (s = { format: "openai" }) => {
    const i = rows.length;
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
        const kept = value();
        kept.splice(rows.indexOf(row), 1);
        rebuild(kept);
      } }, `Remove surface ${i + 1}`));
    rows.push(row);
    element.append(row.el);
  };
  const rebuild = (kept) => {
    rows = [];
    element.replaceChildren();
    kept.forEach(add);
  };
  (initial || []).forEach(add);
  return { element, value, add };
}

/**
 * The models editor. `original` is the stored provider when editing: its saved models get a
 * "Copy address" button for their providerId:modelId.
 */
export function modelsEditor(original) {
  let rows = [];
  const element = h("div", { class: "rows", id: "models" });
  const add = (modelId = "") => {
    const i = rows.length;
    const row = { input: input(`models[${i}].modelId`, modelId, { autocomplete: "off", spellcheck: "false" }) };
    const id = `model-${i}`;
    row.input.id = id;
    row.input.setAttribute("aria-describedby", `${id}-error`);
    const saved = original && original.models.some((m) => m.modelId === modelId) && modelId;
    row.el = h("div", { class: "row" },
      h("div", { class: "grow" },
        h("label", { for: id, class: "sr-label" }, `Model ${i + 1} ID`),
        row.input,
        h("p", { class: "field-error", id: `${id}-error`, "data-error-for": `models[${i}].modelId` })),
      saved ? h("button", { type: "button", class: "quiet small",
        "aria-label": `Copy ${original.providerId}:${modelId}`,
        onclick: () => copyText(`${original.providerId}:${modelId}`) }, "Copy address") : null,
      h("button", { type: "button", class: "quiet small", "aria-label": `Remove model ${i + 1}`, onclick: () => {
        rows.splice(rows.indexOf(row), 1);
        rebuild();
      } }, "Remove"));
    rows.push(row);
    element.append(row.el);
    return row;
  };
  const rebuild = () => {
    const kept = rows.map((m) => m.input.value);
    rows = [];
    element.replaceChildren();
    kept.forEach((v) => add(v));
  };
  (original?.models || []).forEach((m) => add(m.modelId));
  const ids = () => rows.map((m) => m.input.value.trim());
  const value = () => ids().map((modelId) => ({ modelId }));

  const paste = h("textarea", { rows: 3, placeholder: "llama3.1:8b\nqwen2.5:7b", id: "paste-models" });
  const addPasted = () => {
    const pasted = paste.value.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);
    const present = new Set(ids());
    pasted.filter((x) => !present.has(x)).forEach((x) => add(x));
    paste.value = "";
    announce(`${pasted.length} model${pasted.length === 1 ? "" : "s"} added`);
  };
  const pasteField = h("div", { class: "field" },
    h("label", { for: "paste-models" }, "Paste model IDs, one per line"),
    paste,
    h("button", { type: "button", class: "quiet small", id: "add-pasted", onclick: addPasted }, "Add pasted models"));
  return { element, value, add, pasteField };
}
