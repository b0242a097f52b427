// The providers view: newest first, paged, a filter that fetches the rest before it answers,
// and each provider's health as a status dot.

import { h, main, formatTime, banner as makeBanner } from "./dom.js";
import { api, relative } from "./api.js";

const PAGE = 100;
/** Providers loaded so far, newest first, and where the next page is. */
export const providers = { items: [], next: null, loaded: false, filter: "" };

export function forgetProviders() {
  Object.assign(providers, { items: [], next: null, loaded: false, filter: "" });
}

export function replaceProvider(p) {
  const i = providers.items.findIndex((x) => x.id === p.id);
  if (i >= 0) providers.items[i] = { ...p, status: providers.items[i].status };
}

async function loadMore() {
  const path = providers.next || `providers?limit=${PAGE}&include=status`;
  const { data } = await api("GET", path);
  providers.items.push(...data.aiGatewayProviders);
  providers.next = data.nextPageUri ? relative(data.nextPageUri) : null;
  providers.loaded = true;
}

export function surfacesText(provider) {
  const text = provider.supportedApiSurfaces
    .map((s) => (s.surface ? `${s.format}/${s.surface}` : s.format))
    .join(", ");
  return text || "all OpenAI";
}

const STATUS_WORDS = ["online", "degraded", "offline", "unknown"];

/** A dot whose accessible name is the status word; hover or focus adds the last check's time. */
export function statusDot(provider) {
  const word = STATUS_WORDS.includes(provider.status) ? provider.status : "unknown";
  const tip = h("span", { class: "tip", role: "tooltip", id: `tip-${provider.id}` }, word);
  const dot = h("span", {
    class: `dot ${word}`, tabindex: "0", role: "img", "aria-label": word, "aria-describedby": tip.id,
  });
  let asked = false;
  const ask = async () => {
    if (asked) return;
    asked = true;
    try {
      const { data } = await api("GET", `providers/${encodeURIComponent(provider.id)}/health`);
      tip.textContent = data.lastCheckedAt
        ? `${data.status}, last checked ${formatTime(data.lastCheckedAt)}`
        : `${data.status}, not checked yet`;
    } catch {
      asked = false;
    }
  };
  dot.addEventListener("mouseenter", ask);
  dot.addEventListener("focus", () => { tip.classList.remove("dismissed"); ask(); });
  // Escape hides the tip without moving focus, as a tooltip should allow.
  dot.addEventListener("keydown", (e) => { if (e.key === "Escape") tip.classList.add("dismissed"); });
  return h("span", { class: "status" }, dot, tip);
}

export async function renderProviders() {
  const banner = makeBanner("list-banner");
  if (!providers.loaded) {
    main().replaceChildren(h("p", {}, "Loading providers…"));
    try {
      await loadMore();
    } catch (e) {
      if (e.status === 401) return;
      banner.textContent = e.message;
    }
  }
  const filter = h("input", {
    id: "filter", type: "search", value: providers.filter,
    placeholder: "providerId, name, URL or model", "aria-controls": "providers",
  });
  const body = h("tbody");
  const count = h("p", { class: "count", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "quiet", id: "load-more" }, "Load more");
  const table = h("table", { id: "providers" },
    h("caption", { class: "sr-only" }, "Providers, newest first"),
    h("thead", {}, h("tr", {},
      ["Status", "Provider ID", "Name", "Base URL", "Models", "Surfaces", "Updated"].map((t) => h("th", { scope: "col" }, t)))),
    body);

  const paint = () => {
    const needle = providers.filter.trim().toLowerCase();
    const shown = providers.items.filter((p) => !needle || [
      p.providerId, p.name, p.baseUrl, ...p.models.map((m) => m.modelId),
    ].some((v) => v.toLowerCase().includes(needle)));
    body.replaceChildren(...shown.map((p) => h("tr", {},
      h("td", { "data-label": "Status" }, statusDot(p)),
      h("td", { "data-label": "Provider ID", class: "id" }, h("a", { href: `#/providers/${p.id}` }, p.providerId)),
      h("td", { "data-label": "Name" }, p.name),
      h("td", { "data-label": "Base URL", class: "url" }, p.baseUrl),
      h("td", { "data-label": "Models" }, String(p.models.length)),
      h("td", { "data-label": "Surfaces" }, surfacesText(p)),
      h("td", { "data-label": "Updated" }, h("time", { datetime: p.updatedAt }, formatTime(p.updatedAt))))));
    const total = providers.items.length;
    count.textContent = needle
      ? `${shown.length} of ${total} loaded providers match “${providers.filter.trim()}”.`
      : `${total} provider${total === 1 ? "" : "s"} loaded${providers.next ? "; more on the server" : ""}.`;
    more.hidden = !providers.next;
  };

  // A filter over a partial list would miss rows still on the server: fetch them first.
  let searching = null;
  filter.addEventListener("input", async () => {
    providers.filter = filter.value;
    if (providers.filter.trim() && providers.next && !searching) {
      count.textContent = "Fetching the rest from the server to search them all…";
      searching = (async () => {
        try {
          while (providers.next) await loadMore();
        } catch (e) {
          banner.textContent = e.message;
        }
      })();
      await searching;
      searching = null;
    }
    paint();
  });
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

  if (providers.items.length === 0 && !banner.textContent) {
    main().replaceChildren(header, h("div", { class: "panel empty" },
      h("h2", {}, "No providers yet"),
      h("p", {}, "A provider is an endpoint modelgate can send model calls to: an OpenAI-compatible server such as Ollama or vLLM, or an Anthropic-style API."),
      h("p", {}, "Add one with its base URL (for Ollama: ", h("code", {}, "http://localhost:11434/v1"), ") and the models it serves."),
      h("a", { class: "button", href: "#/new" }, "Add your first provider")));
    return;
  }
  main().replaceChildren(header, banner,
    h("div", { class: "toolbar" }, h("div", { class: "grow" },
      h("label", { for: "filter" }, "Filter loaded providers"), filter)),
    count, table, h("div", { class: "actions" }, more));
  paint();
}
