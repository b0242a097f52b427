// The providers view's health and probes: status dots, Test, Discover models, the surfaces
// shown when none are declared, and the three states of allowPrivateNetwork.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cleanShots, shot, launchBrowser, newPage, signIn, startServer, startUpstream } from "./harness.mjs";

let server;
let upstream;
let browser;
let page;
let lab;
const problems = [];

before(async () => {
  server = await startServer();
  upstream = await startUpstream(["alpha-1", "beta-2", "gamma-3"]);
  lab = (await server.api("POST", "/providers", {
    providerId: "lab", name: "Lab server", baseUrl: upstream.url, models: [{ modelId: "alpha-1" }, { modelId: "old-9" }],
  })).body;
  browser = await launchBrowser();
  page = await newPage(browser.context, problems);
  await signIn(page, server.base + "/");
});

after(async () => {
  await browser?.close();
  await upstream?.stop();
  await server?.stop();
  cleanShots();
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

test("a provider without surfaces says it serves all OpenAI ones; its status dot is unknown", async () => {
  const row = page.getByRole("row", { name: /lab/ });
  await row.waitFor();
  assert.match(await row.locator("td[data-label=Surfaces]").innerText(), /^all OpenAI$/);
  const dot = row.getByRole("img", { name: "unknown" });
  assert.equal(await dot.count(), 1);
});

test("Test shows the probe's answer, and the dot then tells online with the check's time", async () => {
  await page.getByRole("link", { name: "lab" }).click();
  await page.getByRole("button", { name: "Test" }).click();
  const result = page.locator("#probe-result");
  await result.getByText(/Reachable: HTTP 200 in \d+ ms, 3 models listed\./).waitFor();

  await page.getByRole("link", { name: "Providers", exact: true }).click();
  await page.reload();
  const row = page.getByRole("row", { name: /lab/ });
  const dot = row.getByRole("img", { name: "online" });
  await dot.waitFor();
  // Keyboard: the dot takes focus and its description says when it was last checked.
  await dot.focus();
  const tip = row.getByRole("tooltip");
  await tip.getByText(/^online, last checked /).waitFor();
  assert.equal(await tip.isVisible(), true, "shown on focus");
  const described = await dot.getAttribute("aria-describedby");
  assert.equal(await tip.getAttribute("id"), described);
  await shot(page, "providers-status.png");
});

test("Discover models shows the difference and adds only the checked ones", async () => {
  await page.getByRole("link", { name: "lab" }).click();
  await page.getByRole("button", { name: "Discover models" }).click();
  const found = page.getByRole("group", { name: "Discovered models" });
  await found.waitFor();
  assert.match(await found.innerText(), /2 new models, 1 already declared, 1 declared but not listed/);
  assert.match(await found.innerText(), /Not listed by the provider: old-9/);
  await found.getByLabel("gamma-3").uncheck();
  await shot(page, "discover.png");
  await found.getByRole("button", { name: "Add selected models" }).click();
  await page.getByText("Added models to lab.").waitFor();
  const { body } = await server.api("GET", `/providers/${lab.id}`);
  assert.deepEqual(body.models.map((m) => m.modelId).sort(), ["alpha-1", "beta-2", "old-9"]);
  await page.locator("#models input[value='beta-2'], #models input").nth(2).waitFor();
  assert.deepEqual(await page.locator("#models input").evaluateAll((els) => els.map((e) => e.value).sort()),
    ["alpha-1", "beta-2", "old-9"]);
});

test("a probe that fails says why in words", async () => {
  const dead = (await server.api("POST", "/providers", { providerId: "dead", name: "Dead", baseUrl: "http://127.0.0.1:9/v1" })).body;
  await page.goto(`${server.base}/#/providers/${dead.id}`);
  await page.getByRole("button", { name: "Test" }).click();
  await page.locator("#probe-result").getByText(/^Not reachable \(no answer\): could not be reached/).waitFor();
  await page.getByRole("button", { name: "Discover models" }).click();
  await page.locator("#probe-result").getByText(/^The provider's model list could not be read/).waitFor();
});

test("allowPrivateNetwork has three states: inherit, allow and refuse", async () => {
  await page.goto(`${server.base}/#/providers/${lab.id}`);
  await page.getByText("Advanced").click();
  const select = page.getByLabel("Private network");
  assert.equal(await select.inputValue(), "");
  const save = async () => {
    const done = page.waitForResponse((r) => r.request().method() === "PATCH");
    await page.getByRole("button", { name: "Save changes" }).click();
    await done;
    await page.getByText("Saved lab.").waitFor();
    return (await server.api("GET", `/providers/${lab.id}`)).body.allowPrivateNetwork;
  };
  await select.selectOption({ label: "refuse" });
  assert.equal(await save(), false);
  assert.equal(await page.getByLabel("Private network").inputValue(), "false");
  await page.getByLabel("Private network").selectOption({ label: "allow" });
  assert.equal(await save(), true);
  await page.getByLabel("Private network").selectOption({ label: "inherit (the gateway's setting)" });
  assert.equal(await save(), undefined);
});

test("a settings checkbox sits beside its label", async () => {
  const box = await page.getByLabel("Call without a key").boundingBox();
  const label = await page.locator("label[for=f-keyless]").boundingBox();
  assert.ok(Math.abs(box.y + box.height / 2 - (label.y + label.height / 2)) < 6, "on the same line");
  assert.ok(label.x > box.x, "label to the right");
});

test("a provider id does not wrap mid-word in a narrow table", async () => {
  await server.api("POST", "/providers", {
    providerId: "workstation-gpu-01-primary", name: "The workstation under the desk, with its big graphics card",
    baseUrl: "http://workstation-under-the-desk.home.arpa:8080/v1", supportedApiSurfaces: [{ format: "openai", surface: "chat-completions" }, { format: "openai", surface: "embeddings" }],
  });
  await page.setViewportSize({ width: 720, height: 844 });
  await page.goto(`${server.base}/#/`);
  await page.reload();
  const link = page.getByRole("link", { name: "workstation-gpu-01-primary" });
  await link.waitFor();
  assert.equal(await link.evaluate((el) => el.getClientRects().length), 1, "on one line");
  await page.setViewportSize({ width: 1200, height: 800 });
});
