// A small form in a panel for one action (add, rename, rotate…), with its errors placed at
// its fields and a banner; used by the keys views.

import { h, banner as makeBanner, refocus } from "./dom.js";
import { clearErrors, clearOnEdit, showErrors } from "./errors.js";

/**
 * `fields` are field() elements; `submit(form)` does the work and throws an ApiError to show.
 * Answers the form element; `onCancel` puts the view back.
 */
export function actionForm(title, fields, label, submit, cancelled) {
  // Cancelling gives focus back to what opened the form, so the keyboard does not lose its place.
  const opener = document.activeElement;
  const onCancel = () => {
    cancelled();
    if (opener?.isConnected) opener.focus();
  };
  const banner = makeBanner(`${title.replace(/\W+/g, "-").toLowerCase()}-banner`);
  const button = h("button", { type: "submit" }, label);
  const form = h("form", { class: "panel action", novalidate: true, "aria-label": title },
    h("h2", {}, title), banner, ...fields,
    h("div", { class: "actions" }, button,
      h("button", { type: "button", class: "quiet", onclick: onCancel }, "Cancel")));
  clearOnEdit(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, banner);
    button.disabled = true;
    try {
      await submit(form);
      // A form done with goes away; the keyboard goes on from what opened it, not the top.
      if (!form.isConnected) refocus(opener);
    } catch (e) {
      if (e.status !== 401) showErrors(form, banner, e);
    } finally {
      button.disabled = false;
    }
  });
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") onCancel(); });
  return form;
}

/** Shows a secret once, with a copy button and the warning that it will not be shown again. */
export function shownOnce(what, secret, copy) {
  const code = h("code", { class: "token", id: "new-token" }, secret);
  return h("div", { class: "once", role: "region", "aria-label": `New ${what}` },
    h("p", {}, h("strong", {}, `Your new ${what}. `),
      "Copy it now: it will not be shown again."),
    code,
    h("div", { class: "actions" },
      h("button", { type: "button", id: "copy-token", onclick: () => copy(secret, `Copied the ${what}.`) }, `Copy ${what}`)));
}
