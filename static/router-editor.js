// A configuration's router rules, edited whole: a rule for a provider or for one of its
// models, its steps in order (each tried when the keys of the one before have failed), and in
// each step its keys, taken in order, round-robin, or by weight.

import { h, field, input } from "./dom.js";

const STRATEGIES = [["ordered", "in order"], ["round-robin", "round-robin"], ["weighted", "weighted"]];

/** A stored key reference as the API takes it back: by id (and its weight, if any). */
export const keyRef = (k) => (k.weight === undefined ? { id: k.id } : { id: k.id, weight: k.weight });

const slugOf = (providers, entry) => providers.find((p) => p.providerId === entry || p.id === entry)?.providerId;

/** What a stored rule is for, when it is one of the listed providers (or one of its models). */
function targetOf(providers, r) {
  if (r.model) {
    const [prefix, ...model] = r.model.split(":");
    const slug = slugOf(providers, prefix);
    return slug ? { slug, model: model.join(":") } : null;
  }
  const slug = slugOf(providers, r.provider);
  return slug ? { slug, model: null } : null;
}

/** Whether the editor can show a rule: any rule for a provider the registry lists. */
export const editable = (providers) => (r) => Boolean(targetOf(providers, r));

/** A rule for a provider the editor does not list (a catalog one), kept as it is. */
export function keptRule(r) {
  const steps = r.steps.map((st) => `${st.keySelectionStrategy || "ordered"}: ${st.keys.map((k) => k.name || k.id).join(", ")}`);
  const element = h("li", {}, `${r.model ? `model ${r.model}` : `provider ${r.provider}`} → ${steps.join(" then ")}`);
  const value = () => ({ ...r, steps: r.steps.map((st) => ({ ...st, keys: st.keys.map(keyRef) })) });
  return { element, value };
}

/**
 * One step: how it picks among its keys, and which keys (the stored ones first, in their
 * order, since `ordered` tries them so), each with a weight shown under `weighted`.
 */
function stepEditor(path, id, n, keys, step, remove) {
  const strategy = h("select", {}, STRATEGIES.map(([value, label]) => h("option", { value }, label)));
  strategy.dataset.path = `${path}.keySelectionStrategy`;
  strategy.value = step?.keySelectionStrategy || "ordered";
  const stored = (step?.keys || []).map((k) => k.id);
  const rank = (k) => (stored.includes(k.id) ? stored.indexOf(k.id) : stored.length);
  const weights = new Map((step?.keys || []).map((k) => [k.id, k.weight]));
  const rows = [...keys].sort((a, b) => rank(a) - rank(b)).map((k, j) => {
    const box = h("input", { type: "checkbox", id: `${id}-key-${j}`, checked: stored.includes(k.id) });
    box.value = k.id;
    const weight = h("input", { type: "text", inputmode: "numeric", class: "weight", "aria-label": `Weight of ${k.name}` });
    weight.value = weights.get(k.id) ?? "1";
    return { box, weight, element: h("div", { class: "check-row" }, box, h("label", { for: box.id }, `${k.name} (${k.keyRedacted})`), weight) };
  });
  const showWeights = () => rows.forEach((r) => { r.weight.hidden = strategy.value !== "weighted"; });
  strategy.addEventListener("change", showWeights);
  showWeights();
  const element = h("fieldset", { class: "step" },
    h("legend", {}, n === 0 ? "Step 1: tried first" : `Step ${n + 1}: when step ${n} fails`),
    field(`${id}-strategy`, "Key selection", strategy),
    h("div", { class: "checks" }, rows.length ? rows.map((r) => r.element)
      : h("p", { class: "hint" }, "This provider has no keys; add some under Provider keys.")),
    h("p", { class: "field-error", "data-error-for": path }),
    remove ? h("button", { type: "button", class: "quiet small", onclick: remove }, `Remove step ${n + 1}`) : null);
  const value = () => ({
    type: "user",
    keySelectionStrategy: strategy.value,
    keys: rows.filter((r) => r.box.checked).map((r) => {
      if (strategy.value !== "weighted") return { id: r.box.value };
      const w = r.weight.value.trim();
      return { id: r.box.value, weight: /^\d+$/.test(w) ? Number(w) : w };
    }),
  });
  return { element, value };
}

/** One router rule: what it is for, and its steps. `keysOf(providerId)` answers its keys. */
export function ruleEditor(i, providers, keysOf, rule, remove) {
  const path = `router.rules[${i}]`;
  const target = rule ? targetOf(providers, rule) : null;
  const kind = h("select", {},
    h("option", { value: "provider" }, "every model of a provider"),
    h("option", { value: "model" }, "one model"));
  kind.dataset.path = `${path}.kind`;
  kind.value = target?.model !== null && target?.model !== undefined ? "model" : "provider";
  const provider = h("select", {}, providers.map((p) => h("option", { value: p.providerId }, p.providerId)));
  provider.dataset.path = `${path}.provider`;
  provider.value = target?.slug || providers[0]?.providerId;
  const models = h("datalist", { id: `rule-${i}-models` });
  const model = input(`${path}.model`, target?.model || "", { autocomplete: "off", spellcheck: "false", list: models.id });
  const modelField = field(`rule-${i}-model`, "Model id", model, "One of the provider's models; matched ignoring case.");
  const showKind = () => { modelField.hidden = kind.value !== "model"; };
  kind.addEventListener("change", showKind);
  showKind();

  let stepValues = rule?.steps?.length ? rule.steps : [null];
  let steps = [];
  let keys = [];
  const stepBox = h("div", { class: "rows" });
  const paintSteps = () => {
    steps = stepValues.map((st, n) => stepEditor(`${path}.steps[${n}]`, `rule-${i}-step-${n}`, n, keys, st,
      stepValues.length > 1 ? () => { stepValues = steps.map((s) => s.value()); stepValues.splice(n, 1); paintSteps(); } : null));
    stepBox.replaceChildren(...steps.map((s) => s.element));
  };
  const fill = async () => {
    keys = await keysOf(provider.value);
    const p = providers.find((x) => x.providerId === provider.value);
    models.replaceChildren(...(p?.models || []).map((m) => h("option", { value: m.modelId })));
    paintSteps();
  };
  provider.addEventListener("change", () => {
    // Another provider's keys: the steps keep their strategies, not their keys.
    stepValues = steps.map((s) => ({ ...s.value(), keys: [] }));
    fill();
  });
  const addStep = () => {
    stepValues = [...steps.map((s) => s.value()), null];
    paintSteps();
    stepBox.lastElementChild.querySelector("select").focus();
  };
  const element = h("fieldset", { class: "surface" }, h("legend", {}, `Rule ${i + 1}`),
    h("div", { class: "row" },
      h("div", { class: "grow" }, field(`rule-${i}-kind`, "Applies to", kind)),
      h("div", { class: "grow" }, field(`rule-${i}-provider`, "Provider", provider)),
      h("div", { class: "grow" }, modelField, models)),
    stepBox,
    h("p", { class: "field-error", "data-error-for": path }),
    h("div", { class: "row" },
      h("button", { type: "button", class: "quiet small", onclick: addStep }, `Add fallback step to rule ${i + 1}`),
      h("button", { type: "button", class: "quiet small", onclick: remove }, `Remove rule ${i + 1}`)));
  const value = () => ({
    ...(kind.value === "model" ? { model: `${provider.value}:${model.value.trim()}` } : { provider: provider.value }),
    steps: steps.map((s) => s.value()),
  });
  return { element, value, ready: fill() };
}
