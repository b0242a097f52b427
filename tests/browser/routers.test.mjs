// The router editor of an access key configuration, driven as a person would: a provider rule
// with fallback steps, a model rule, a weighted rule, and rules made through the API shown and
// saved back as stored; each checked against the JSON the API then holds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cleanShots, shot, launchBrowser, newPage, overflow, signIn, startServer, unlabelled } from "./harness.mjs";

let server;
let browser;
let page;
const keys = {};
const problems = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser.context, problems);
  // Loopback addresses that nothing here calls: the editor only reads the registry.
  await server.api("POST", "/providers", {
    providerId: "lab", name: "Lab server", baseUrl: "http://127.0.0.1:9/v1",
    models: [{ modelId: "alpha-1" }, { modelId: "beta-2" }],
  });
  await server.api("POST", "/providers", { providerId: "spare", name: "Spare", baseUrl: "http://127.0.0.1:9/v1" });
  for (const [name, value] of [["first key", "sk-first-1111"], ["second key", "sk-second-2222"], ["third key", "sk-third-3333"]]) {
    keys[name] = (await server.api("POST", "/provider-keys", { providerId: "lab", name, value })).body;
  }
  await signIn(page, server.base + "/");
});

after(async () => {
  await browser?.close();
  await server?.stop();
  cleanShots();
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

/** The stored rules as [target, [[strategy, [[key name, weight]]]]], compared whole. */
const shape = (rules) => rules.map((r) => [r.model ?? r.provider,
  r.steps.map((st) => [st.keySelectionStrategy ?? "ordered", st.keys.map((k) => (k.weight === undefined ? [k.name] : [k.name, k.weight]))])]);

async function stored(name) {
  const { body } = await server.api("GET", "/access-key-configurations?limit=100");
  return body.aiGatewayAccessKeyConfigurations.find((c) => c.name === name);
}

async function newConfiguration(name) {
  await page.goto(`${server.base}/#/access-keys/configurations/new`);
  await page.getByLabel("Configuration name").fill(name);
  await page.getByRole("button", { name: "Add rule" }).click();
  const rule = page.getByRole("group", { name: "Rule 1" });
  // The newest provider comes first, and has no keys: picking another lists its keys.
  await rule.getByText("This provider has no keys").waitFor();
  await rule.getByLabel("Provider", { exact: true }).selectOption("lab");
  await rule.getByLabel(/^first key/).first().waitFor();
  return rule;
}

async function create(name) {
  await page.getByRole("button", { name: "Create configuration" }).click();
  await page.getByRole("heading", { name: `Configuration ${name}` }).waitFor();
  return stored(name);
}

test("a provider rule is made with fallback steps, each tried when the one before fails", async () => {
  const rule = await newConfiguration("fallbacks");
  const first = rule.getByRole("group", { name: /^Step 1/ });
  await first.getByLabel("Key selection").selectOption("round-robin");
  await first.getByLabel(/^second key/).check();
  await first.getByLabel(/^first key/).check();
  await rule.getByRole("button", { name: "Add fallback step to rule 1" }).click();
  const second = rule.getByRole("group", { name: /^Step 2: when step 1 fails/ });
  // A step without keys is refused, the error shown in that step.
  await page.getByRole("button", { name: "Create configuration" }).click();
  const empty = second.locator(".field-error").last();
  await empty.waitFor({ state: "visible" });
  assert.match(await empty.innerText(), /needs between 1 and 16 keys/);
  assert.equal(await first.locator(".field-error:visible").count(), 0);
  await second.getByLabel(/^third key/).check();
  // A third step, added and taken away again.
  await rule.getByRole("button", { name: "Add fallback step to rule 1" }).click();
  await rule.getByRole("button", { name: "Remove step 3" }).click();
  assert.equal(await rule.getByRole("group", { name: /^Step 3/ }).count(), 0);
  assert.equal(await first.getByLabel(/^second key/).isChecked(), true, "the other steps keep their picks");
  assert.deepEqual(await unlabelled(page), []);
  const c = await create("fallbacks");
  // Keys are listed newest first, and a step sends them in the order shown.
  assert.deepEqual(shape(c.router.rules), [["lab", [["round-robin", [["second key"], ["first key"]]], ["ordered", [["third key"]]]]]]);
  // Opened again, both steps are shown as stored.
  const again = page.getByRole("group", { name: "Rule 1" });
  await again.getByRole("group", { name: /^Step 2/ }).getByLabel(/^third key/).waitFor();
  assert.equal(await again.getByRole("group", { name: /^Step 1/ }).getByLabel("Key selection").inputValue(), "round-robin");
  assert.equal(await again.getByRole("group", { name: /^Step 2/ }).getByLabel(/^third key/).isChecked(), true);
  await shot(page, "router-steps.png", { fullPage: true });
});

test("a model rule is made for one model, a wrong model id named at its field", async () => {
  const rule = await newConfiguration("one model");
  assert.equal(await rule.getByLabel("Model id").isVisible(), false, "a provider rule has no model");
  await rule.getByLabel("Applies to").selectOption("model");
  await rule.getByLabel("Model id").fill("beta 2");
  await rule.getByRole("group", { name: /^Step 1/ }).getByLabel(/^second key/).check();
  await page.getByRole("button", { name: "Create configuration" }).click();
  const error = page.locator("#rule-0-model-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.innerText(), /providerId:modelId/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "rule-0-model");
  await rule.getByLabel("Model id").fill("beta-2");
  assert.equal(await error.isVisible(), false, "the error goes once the field is edited");
  const c = await create("one model");
  assert.deepEqual(shape(c.router.rules), [["lab:beta-2", [["ordered", [["second key"]]]]]]);
  assert.equal(c.router.rules[0].provider, undefined);
  assert.equal(await page.getByRole("group", { name: "Rule 1" }).getByLabel("Model id").inputValue(), "beta-2");
});

test("a weighted rule is made with each key's weight", async () => {
  const rule = await newConfiguration("weighted");
  const step = rule.getByRole("group", { name: /^Step 1/ });
  assert.equal(await step.getByLabel("Weight of first key").isVisible(), false, "weights only under weighted");
  await step.getByLabel("Key selection").selectOption("weighted");
  await step.getByLabel(/^first key/).check();
  await step.getByLabel("Weight of first key").fill("3");
  await step.getByLabel(/^third key/).check();
  await step.getByLabel("Weight of third key").fill("1");
  const c = await create("weighted");
  assert.deepEqual(shape(c.router.rules), [["lab", [["weighted", [["third key", 1], ["first key", 3]]]]]]);
  const again = page.getByRole("group", { name: "Rule 1" }).getByRole("group", { name: /^Step 1/ });
  await again.getByLabel("Weight of first key").waitFor();
  assert.equal(await again.getByLabel("Weight of first key").inputValue(), "3");
  assert.equal(await again.getByLabel("Weight of first key").isVisible(), true);
});

test("rules made through the API are shown in the editor and saved back as they are", async () => {
  const id = (n) => ({ id: keys[n].id });
  const router = { rules: [
    { model: "lab:alpha-1", steps: [
      { type: "user", keys: [id("first key")], keySelectionStrategy: "ordered" },
      { type: "user", keys: [id("third key"), id("second key")], keySelectionStrategy: "round-robin" }] },
    { provider: "lab", steps: [
      { type: "user", keys: [{ ...id("second key"), weight: 5 }, { ...id("first key"), weight: 2 }], keySelectionStrategy: "weighted" }] },
  ] };
  // A built-in (catalog) provider is not in the editor's list: its rule is kept as it is.
  const catalogKey = (await server.api("POST", "/provider-keys", { providerId: "openai", name: "cloud key", value: "sk-cloud-4444" })).body;
  router.rules.push({ provider: "openai", steps: [{ type: "user", keys: [{ id: catalogKey.id }] }] });
  const made = await server.api("POST", "/access-key-configurations", { name: "hand made", router });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await page.goto(`${server.base}/#/access-keys/configurations/${made.body.id}`);
  await page.getByRole("heading", { name: "Configuration hand made" }).waitFor();
  const modelRule = page.getByRole("group", { name: "Rule 1" });
  await modelRule.getByRole("group", { name: /^Step 2/ }).getByLabel(/^third key/).waitFor();
  assert.equal(await modelRule.getByLabel("Applies to").inputValue(), "model");
  assert.equal(await modelRule.getByLabel("Model id").inputValue(), "alpha-1");
  const weights = page.getByRole("group", { name: "Rule 2" });
  assert.equal(await weights.getByLabel("Weight of second key").inputValue(), "5");
  assert.match(await page.locator("#kept-rules").innerText(), /^provider openai → ordered: cloud key$/);
  assert.equal(await page.getByRole("group", { name: "Rule 3" }).count(), 0);
  await page.getByLabel("Configuration name").fill("hand made, renamed");
  await page.getByRole("button", { name: "Save configuration" }).click();
  await page.getByText("Saved hand made, renamed.").waitFor();
  const { body } = await server.api("GET", `/access-key-configurations/${made.body.id}`);
  assert.deepEqual(shape(body.router.rules), shape(made.body.router.rules));
  assert.equal(body.name, "hand made, renamed");
});

test("the router editor fits a phone in dark mode", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  const c = await stored("hand made, renamed");
  await page.goto(`${server.base}/#/access-keys/configurations/${c.id}`);
  await page.getByRole("group", { name: "Rule 2" }).getByLabel("Weight of second key").waitFor();
  assert.ok(await overflow(page) <= 0, "wider than the screen");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 800 });
});
