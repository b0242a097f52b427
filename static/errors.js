// Puts an API error where a person looks for it: each `details` entry beside the field whose
// data-path it names, the rest in the view's banner, in plain words.

import { h } from "./dom.js";

/** The error slot of `path`, or of the nearest enclosing path that has one. */
function errorSlot(root, path) {
  for (let p = path; p;) {
    const slot = root.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
    if (slot) return slot;
    const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (shorter === p) return null;
    p = shorter;
  }
  return null;
}

export function clearErrors(root, banner) {
  banner?.replaceChildren();
  root.querySelectorAll("[data-error-for]").forEach((e) => { e.textContent = ""; });
  root.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

/** The headline of an error in people's words: the server's count of broken rules is not one. */
export function headline(error) {
  const placed = Object.keys(error.details || {}).length;
  if (/breaks rules|rule\(s\)|field\(s\)/i.test(error.message)) {
    return placed === 1 ? "One field needs a fix; see below." : `${placed} fields need a fix; see below.`;
  }
  return error.message;
}

export function showErrors(root, banner, error) {
  const unplaced = [];
  for (const [path, message] of Object.entries(error.details || {})) {
    if (typeof message !== "string") continue;
    const slot = errorSlot(root, path);
    if (!slot) {
      unplaced.push(`${path}: ${message}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
    root.querySelector(`[data-path="${CSS.escape(slot.dataset.errorFor)}"]`)?.setAttribute("aria-invalid", "true");
  }
  banner.replaceChildren(headline(error), ...unplaced.map((line) => h("div", {}, line)));
  const first = root.querySelector("[aria-invalid='true']");
  if (first?.closest("details")) first.closest("details").open = true;
  if (first) first.focus();
  else banner.scrollIntoView({ block: "nearest" });
}

/** Clears a field's error as soon as it is edited, so a fixed field stops looking broken. */
export function clearOnEdit(root) {
  const clear = (event) => {
    const path = event.target.dataset?.path;
    if (!path || event.target.getAttribute("aria-invalid") !== "true") return;
    event.target.removeAttribute("aria-invalid");
    const slot = root.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
    if (slot) slot.textContent = "";
  };
  root.addEventListener("input", clear);
  root.addEventListener("change", clear);
}
