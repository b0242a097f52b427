// The provider's probes on its form: "Test" shows what the provider answered, "Discover
// models" shows the difference with its declared models, with checkboxes to add the new ones.

import { h, plural } from "./dom.js";
import { api } from "./api.js";

/** A probe's answer ({ok, statusCode, latencyMs, modelsFound, error}) in words. */
export function probeText(r) {
  if (r.ok) {
    const models = r.modelsFound === null || r.modelsFound === undefined ? "" : `, ${plural(r.modelsFound, "model")} listed`;
    return `Reachable: HTTP ${r.statusCode}${r.latencyMs === null ? "" : ` in ${r.latencyMs} ms`}${models}.`;
  }
  const status = r.statusCode ? `HTTP ${r.statusCode}` : "no answer";
  return `Not reachable (${status}): ${r.error || "no reason given"}.`;
}

/**
 * The probe panel of a stored provider. `etag()` is the form's current ETag; `applied(p, etag)`
 * is called with the provider once discovered models are added.
 */
export function providerTools(provider, etag, banner, applied) {
  const out = h("div", { class: "probe", id: "probe-result", role: "status", "aria-live": "polite" });
  const test = h("button", { type: "button", class: "quiet", id: "test-provider" }, "Test");
  const discover = h("button", { type: "button", class: "quiet", id: "discover" }, "Discover models");

  test.addEventListener("click", async () => {
    test.disabled = true;
    out.replaceChildren("Testing…");
    try {
      const { data } = await api("POST", `providers/${provider.id}/test`);
      out.replaceChildren(h("p", { class: data.ok ? "ok" : "bad" }, probeText(data)));
    } catch (e) {
      if (e.status !== 401) out.replaceChildren(h("p", { class: "bad" }, e.message));
    } finally {
      test.disabled = false;
    }
  });

  discover.addEventListener("click", async () => {
    discover.disabled = true;
    out.replaceChildren("Reading the provider's model list…");
    try {
      const { data } = await api("POST", `providers/${provider.id}/discover-models`);
      out.replaceChildren(diffView(provider, data, etag, banner, applied));
    } catch (e) {
      if (e.status === 401) return;
      const why = e.details?.error ? `: ${e.details.error}` : "";
      out.replaceChildren(h("p", { class: "bad" }, e.code === "discovery_failed"
        ? `The provider's model list could not be read${why}.` : e.message));
    } finally {
      discover.disabled = false;
    }
  });

  const element = h("section", { class: "tools", "aria-label": "Checks" },
    h("div", { class: "actions" }, test, discover), out);
  return { element };
}

function diffView(provider, diff, etag, banner, applied) {
  const boxes = diff.added.map((id, i) => {
    const box = h("input", { type: "checkbox", id: `discovered-${i}`, checked: true });
    box.value = id;
    return box;
  });
  const summary = h("p", {},
    `${plural(diff.added.length, "new model")}, ${diff.unchanged.length} already declared, `,
    `${diff.missing.length} declared but not listed by the provider.`);
  if (diff.added.length === 0) return h("div", {}, summary);
  const add = h("button", { type: "button", id: "add-discovered" }, "Add selected models");
  add.addEventListener("click", async () => {
    const modelIds = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!modelIds.length) return;
    // A provider declaring no models takes any; declaring some narrows it, so that is confirmed.
    const confirm = provider.models.length === 0 ? "&confirm=true" : "";
    add.disabled = true;
    try {
      const { data, etag: tag } = await api("POST", `providers/${provider.id}/discover-models?apply=true${confirm}`,
        { body: { modelIds }, etag: etag() });
      const { data: fresh } = await api("GET", `providers/${provider.id}`);
      applied(fresh, tag);
      return data;
    } catch (e) {
      if (e.status !== 401) banner.textContent = e.status === 412
        ? "This provider was changed elsewhere meanwhile; reload before adding models." : e.message;
    } finally {
      add.disabled = false;
    }
  });
  return h("fieldset", { class: "discovered" },
    h("legend", {}, "Discovered models"),
    summary,
    h("div", { class: "checks" }, boxes.map((b) => h("div", { class: "check-row" }, b, h("label", { for: b.id }, b.value)))),
    diff.missing.length ? h("p", { class: "hint" }, `Not listed by the provider: ${diff.missing.join(", ")}.`) : null,
    add);
}
