// The sub-navigation of the Gateway section.

import { h } from "./dom.js";

export function gatewayTabs(current) {
  const tab = (id, href, label) => h("a", { href, "aria-current": id === current ? "page" : null }, label);
  return h("nav", { class: "subnav", "aria-label": "Gateway" },
    tab("settings", "#/gateway", "Settings and aliases"),
    tab("prices", "#/prices", "Prices"));
}
