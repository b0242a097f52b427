// The admin page driven as a person would, in real headless Chromium: clicks and typing, and
// checks of what the page shows as well as of what the API then holds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TOKEN, launchBrowser, newPage, startServer } from "./harness.mjs";

// The README's screenshots are rewritten only when asked for (UPDATE_SCREENSHOTS=1): a test run
// leaves the checkout as it found it. Otherwise they are still taken, into a scratch dir.
const UPDATE_SHOTS = process.env.UPDATE_SCREENSHOTS === "1";
const SHOTS = UPDATE_SHOTS
  ? resolve(import.meta.dirname, "../../docs/screenshots")
  : mkdtempSync(join(tmpdir(), "modelgate-shots-"));
mkdirSync(SHOTS, { recursive: true });

let server;
let browser;
let page;
const problems = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  page = await newPage(browser.context, problems);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (!UPDATE_SHOTS) rmSync(SHOTS, { recursive: true, force: true });
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

/** Every form control has an accessible label. */
async function assertLabelled() {
  const unlabelled = await page.$$eval("input, select, textarea", (els) =>
    els.filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
}

test("a wrong token is refused with a clear message, the right one signs in", async () => {
  await page.goto(server.base + "/");
  await page.getByLabel("Admin token").fill("not-the-right-token-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("That token was not accepted").waitFor();
  assert.equal(await page.getByRole("button", { name: "Sign out" }).isVisible(), false);
  await assertLabelled();

  // Keyboard alone: the field has focus, typing and Enter sign in.
  await page.getByLabel("Admin token").fill("");
  await page.keyboard.type(TOKEN);
  await page.keyboard.press("Enter");
  await page.getByText("No providers yet").waitFor();
  assert.equal(new URL(page.url()).search, "", "the token never goes in the URL");
  assert.equal(page.url().includes(TOKEN), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("modelgate.token")), TOKEN);
});

test("a provider with two models is created from the form", async () => {
  await page.getByRole("link", { name: "Add your first provider" }).click();
  await page.getByLabel("Provider ID").fill("local-ollama");
  await page.getByLabel("Name").fill("Ollama on the NAS");
  await page.getByLabel("Base URL").fill("http://192.168.1.20:11434/v1");
  await page.getByLabel("Paste model IDs, one per line").fill("llama3.1:8b\nqwen2.5:7b\n");
  await page.getByRole("button", { name: "Add pasted models" }).click();
  await page.getByRole("button", { name: "Add surface" }).click();
  await page.getByLabel("Surface").selectOption("chat-completions");
  await page.getByLabel("Supported parameters").fill("tools, temperature");
  await page.keyboard.press("Enter");
  await assertLabelled();
  await page.getByRole("button", { name: "Create provider" }).click();
  await page.getByRole("heading", { name: "Provider local-ollama" }).waitFor();

  const list = await server.api("GET", "/providers");
  const [p] = list.body.aiGatewayProviders;
  assert.equal(p.providerId, "local-ollama");
  assert.deepEqual(p.models.map((m) => m.modelId), ["llama3.1:8b", "qwen2.5:7b"]);
  assert.deepEqual(p.supportedApiSurfaces, [{ format: "openai", surface: "chat-completions",
    supportedParams: [{ name: "tools" }, { name: "temperature" }] }]);

  await page.getByRole("link", { name: "modelgate" }).click();
  const row = page.getByRole("row", { name: /local-ollama/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Ollama on the NAS[\s\S]*192\.168\.1\.20[\s\S]*2[\s\S]*openai\/chat-completions/);
  await page.screenshot({ path: join(SHOTS, "list.png") });
});

test("an invalid base URL shows the API's error next to the field", async () => {
  await page.getByRole("link", { name: "New provider" }).click();
  await page.getByLabel("Provider ID").fill("broken");
  await page.getByLabel("Name").fill("Broken");
  await page.getByLabel("Base URL").fill("ftp://files.example/v1");
  await page.getByRole("button", { name: "Create provider" }).click();
  const error = page.locator("#f-base-url-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.innerText(), /http or https/);
  assert.equal(await page.getByLabel("Base URL").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement.id), "f-base-url");
  await page.screenshot({ path: join(SHOTS, "create-field-error.png") });
  const list = await server.api("GET", "/providers");
  assert.equal(list.body.aiGatewayProviders.length, 1, "nothing was created");
});

test("name and models are edited and sent as a PATCH of just those fields", async () => {
  await page.getByRole("link", { name: "modelgate" }).click();
  await page.getByRole("link", { name: "local-ollama" }).click();
  await page.getByLabel("Name").fill("Ollama (NAS)");
  await page.getByRole("button", { name: "Remove model 2" }).click();
  await page.getByRole("button", { name: "Add model" }).click();
  await page.keyboard.type("mistral:7b");
  const sent = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save changes" }).click();
  const request = await sent;
  assert.deepEqual(Object.keys(JSON.parse(request.postData())).sort(), ["models", "name"]);
  assert.ok(request.headers()["if-match"], "PATCH carries If-Match");
  await page.getByText("Saved local-ollama.").waitFor();

  const { body } = await server.api("GET", "/providers");
  const p = body.aiGatewayProviders[0];
  assert.equal(p.name, "Ollama (NAS)");
  assert.deepEqual(p.models.map((m) => m.modelId), ["llama3.1:8b", "mistral:7b"]);
  assert.equal(await page.getByLabel("Name").inputValue(), "Ollama (NAS)");
  await page.screenshot({ path: join(SHOTS, "edit-light.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: join(SHOTS, "edit-dark.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
});

test("a model's address is copied with one click", async () => {
  await page.getByRole("button", { name: "Copy local-ollama:llama3.1:8b" }).click();
  await page.getByText("Copied local-ollama:llama3.1:8b").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "local-ollama:llama3.1:8b");
});

test("the Advanced section sets the provider's own settings, errors shown at their fields", async () => {
  await page.getByText("Advanced").click();
  await page.getByLabel("Retries of the same key").fill("3");
  await page.getByLabel("Concurrency").fill("2");
  await page.getByLabel("Buffer size").fill("1");
  await page.getByLabel("Extra headers").fill("X-Tenant: homelab");
  await page.getByLabel("Proxy type").selectOption("http");
  await page.getByLabel("Proxy URL").fill("http://proxy.lan:3128");
  await page.getByLabel("Proxy user").fill("gw");
  await page.getByLabel("Proxy password").fill("tunnel-secret");
  await assertLabelled();
  await page.getByRole("button", { name: "Save changes" }).click();
  const error = page.locator("#f-bufferSize-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.innerText(), /at least `concurrency` \(2\)/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "f-bufferSize");

  await page.getByLabel("Buffer size").fill("4");
  const sent = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save changes" }).click();
  const patch = JSON.parse((await sent).postData());
  assert.deepEqual(Object.keys(patch).sort(), ["bufferSize", "concurrency", "network", "proxy"]);
  await page.getByText("Saved local-ollama.").waitFor();
  const { body } = await server.api("GET", "/providers");
  const p = body.aiGatewayProviders[0];
  assert.deepEqual(p.network, { maxRetries: 3, extraHeaders: { "x-tenant": "homelab" } });
  assert.deepEqual(p.proxy, { type: "http", url: "http://proxy.lan:3128", username: "gw", password: "********" });
  assert.deepEqual([p.concurrency, p.bufferSize], [2, 4]);

  // Opened again: the section is open, the password is kept unless retyped.
  assert.equal(await page.locator("#advanced").getAttribute("open"), "");
  assert.equal(await page.getByLabel("Proxy password").inputValue(), "");
  assert.match(await page.getByLabel("Proxy password").getAttribute("placeholder"), /stored/);
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByText("Nothing changed.").waitFor();
  await page.screenshot({ path: join(SHOTS, "advanced.png"), fullPage: true });
});

test("a change made elsewhere meanwhile gives a reload message instead of overwriting", async () => {
  const { body } = await server.api("GET", "/providers");
  const id = body.aiGatewayProviders[0].id;
  await server.api("PATCH", `/providers/${id}`, { name: "Renamed elsewhere" });
  await page.getByLabel("Name").fill("My stale edit");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByText("changed elsewhere since you opened it").waitFor();
  const now = await server.api("GET", `/providers/${id}`);
  assert.equal(now.body.name, "Renamed elsewhere", "the other change was not overwritten");
  await page.getByRole("button", { name: "Reload" }).click();
  await page.waitForFunction(() => document.getElementById("f-name")?.value === "Renamed elsewhere");
});

test("a provider is deleted after a confirmation that names it", async () => {
  await page.getByRole("button", { name: "Delete provider" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /local-ollama/);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await server.api("GET", "/providers")).body.aiGatewayProviders.length, 1);

  await page.getByRole("button", { name: "Delete provider" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("No providers yet").waitFor();
  assert.equal((await server.api("GET", "/providers")).body.aiGatewayProviders.length, 0);
});

test("more than 100 providers are paged in with Load more, and the filter narrows them", async () => {
  for (let i = 0; i < 105; i++) {
    const res = await server.api("POST", "/providers", {
      providerId: `bulk-${String(i).padStart(3, "0")}`, name: `Bulk ${i}`, baseUrl: "http://10.0.0.1:8000/v1",
      models: i === 7 ? [{ modelId: "needle-model" }] : [],
    });
    assert.equal(res.status, 201);
  }
  await page.reload();
  const rows = page.locator("#providers tbody tr");
  await page.getByText("100 providers loaded; more on the server").waitFor();
  assert.equal(await rows.count(), 100);
  assert.match(await rows.first().innerText(), /bulk-104/, "newest first");
  await page.getByRole("button", { name: "Load more" }).click();
  await page.getByText("105 providers loaded.").waitFor();
  assert.equal(await rows.count(), 105);
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);

  await page.getByLabel("Filter loaded providers").fill("needle");
  await page.getByText("1 of 105 loaded providers match").waitFor();
  assert.match(await rows.first().innerText(), /bulk-007/);
  await page.getByLabel("Filter loaded providers").fill("");
  await page.screenshot({ path: join(SHOTS, "list-paged.png") });
});

test("the list fits a phone-sized screen and signing out forgets the token", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.locator("#providers tbody tr").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(SHOTS, "list-phone.png") });
  await page.setViewportSize({ width: 1200, height: 800 });

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Admin token").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("modelgate.token")), null);
});
