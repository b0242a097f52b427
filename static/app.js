// The modelgate admin page: a plain client of the management API. No framework, no build
// step; each view is a module, and every URL is relative so the page works under a sub-path.

import { hasToken, onUnauthorized, setToken } from "./api.js";
import { renderSignIn } from "./signin.js";
import { renderProviders, forgetProviders } from "./providers-list.js";
import { renderProviderForm } from "./provider-form.js";
import { renderProviderKeys } from "./provider-keys.js";
import { renderAccessKeys } from "./access-keys.js";
import { renderConfigurations, renderConfiguration } from "./access-configs.js";
import { renderApiKeys } from "./api-keys.js";
import { renderUsage } from "./usage.js";
import { renderGateway } from "./gateway.js";
import { renderPrices } from "./prices.js";

const signOutButton = document.getElementById("sign-out");
const nav = document.getElementById("nav");

/** Hash routes: a pattern, its view, and the navigation entry it belongs to. */
const ROUTES = [
  [/^#\/new$/, () => renderProviderForm(null), "providers"],
  [/^#\/providers\/([^/]+)$/, (id) => renderProviderForm(decodeURIComponent(id)), "providers"],
  [/^#\/provider-keys(?:\/([^/]+))?$/, (id) => renderProviderKeys(id && decodeURIComponent(id)), "provider-keys"],
  [/^#\/access-keys$/, () => renderAccessKeys(), "access-keys"],
  [/^#\/access-keys\/configurations$/, () => renderConfigurations(), "access-keys"],
  [/^#\/access-keys\/configurations\/([^/]+)$/, (id) => renderConfiguration(decodeURIComponent(id)), "access-keys"],
  [/^#\/access-keys\/api-keys$/, () => renderApiKeys(), "access-keys"],
  [/^#\/usage$/, () => renderUsage(), "usage"],
  [/^#\/gateway$/, () => renderGateway(), "gateway"],
  [/^#\/prices$/, () => renderPrices(), "gateway"],
  [/^#\/?$/, () => renderProviders(), "providers"],
];

function signOut(message) {
  setToken(null);
  forgetProviders();
  renderSignIn(message, route);
}

onUnauthorized(signOut);
signOutButton.addEventListener("click", () => {
  signOut("Signed out.");
  location.hash = "#/";
});

function route() {
  if (!hasToken()) {
    renderSignIn(undefined, route);
    return;
  }
  signOutButton.hidden = false;
  nav.hidden = false;
  const hash = location.hash || "#/";
  const [pattern, view, section] = ROUTES.find(([p]) => p.test(hash)) || ROUTES[ROUTES.length - 1];
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  view(...(hash.match(pattern) || []).slice(1));
}

window.addEventListener("hashchange", route);
route();
