// The sign-in form: a token is tried against the API before it is kept (in this tab only).

import { h, main } from "./dom.js";
import { setToken } from "./api.js";

export function renderSignIn(message, done) {
  document.getElementById("sign-out").hidden = true;
  document.getElementById("nav").hidden = true;
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
      const res = await fetch("providers?limit=1", { headers: { Authorization: `Bearer ${candidate}` } });
      if (res.status === 401) {
        error.textContent = "That token was not accepted. Check it and try again.";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      setToken(candidate);
      done();
    } catch {
      error.textContent = "The server could not be reached. Is modelgate running?";
    } finally {
      submit.disabled = false;
    }
  });
  main().replaceChildren(form);
  input.focus();
}
