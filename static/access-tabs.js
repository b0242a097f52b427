// The sub-navigation of the Access keys section.

import { h } from "./dom.js";

export function accessTabs(current) {
  const tab = (id, href, label) => h("a", { href, "aria-current": id === current ? "page" : null }, label);
  return h("nav", { class: "subnav", "aria-label": "Access" },
    tab("keys", "#/access-keys", "Access keys"),
    tab("configs", "#/access-keys/configurations", "Configurations"),
    tab("api", "#/access-keys/api-keys", "Management API keys"));
}
