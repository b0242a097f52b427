// DOM helpers shared by every view. Server data reaches the page through textContent only,
// never as HTML, so nothing a provider or key name holds can run as script.

/** Builds an element: h("p", {class: "x", onclick: fn}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An SVG element (the usage chart): same shape as h, in the SVG namespace. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const main = () => document.getElementById("main");

let statusTimer;
/** A toast that goes away by itself after a few seconds. */
export function announce(text) {
  const box = document.getElementById("status");
  box.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { box.textContent = ""; }, 4000);
}

export function formatTime(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function time(iso) {
  return iso ? h("time", { datetime: iso }, formatTime(iso)) : "never";
}

export const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

/** A labelled field with its hint and an error slot tied to the control's data-path. */
export function field(id, label, control, hint) {
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": control.dataset.path });
  control.id = id;
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  const checkbox = control.type === "checkbox";
  return h("div", { class: checkbox ? "field check" : "field" },
    checkbox ? h("div", { class: "check-row" }, control, h("label", { for: id }, label)) : [h("label", { for: id }, label), control],
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    error);
}

export function input(path, value, attrs = {}) {
  const el = h("input", { type: "text", ...attrs });
  el.dataset.path = path;
  el.value = value ?? "";
  return el;
}

export async function copyText(text, spoken = `Copied ${text}`) {
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
  announce(spoken);
}

/**
 * Puts the focus on `el` when what had it went away (a deleted row's button, a closed form),
 * so the keyboard goes on from the view's main action instead of the top of the page.
 */
export function refocus(el) {
  const now = document.activeElement;
  if ((!now || now === document.body) && el?.isConnected) el.focus();
}

/** The banner a view shows its errors in. */
export const banner = (id) => h("div", { class: "banner", role: "alert", id, tabindex: "-1" });

/**
 * Asks to confirm a destructive step in the page's dialog. `choices` are [value, label, class]
 * buttons besides Cancel; answers the chosen value, or "cancel".
 */
export function confirmDialog(title, text, choices) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  const actions = dialog.querySelector(".actions");
  actions.replaceChildren(
    h("button", { type: "submit", value: "cancel", class: "quiet", autofocus: true }, "Cancel"),
    ...choices.map(([value, label, cls]) => h("button", { type: "submit", value, class: cls || "danger" }, label)));
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    const closed = () => {
      // The close event is queued: one left from an earlier use of the dialog (closed by Escape
      // just before this opened it again) finds it open, and is not this one's answer.
      if (dialog.open) return;
      dialog.removeEventListener("close", closed);
      resolve(dialog.returnValue || "cancel");
    };
    dialog.addEventListener("close", closed);
  });
}
