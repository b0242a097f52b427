// The keys views driven as a person would: navigation, provider keys, access keys and their
// configurations, management API keys, and a provider deleted with its keys.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { TOKEN, cleanShots, shot, launchBrowser, newPage, overflow, signIn, startServer, startUpstream, unlabelled } from "./harness.mjs";

let server;
let upstream;
let browser;
let page;
let provider;
const problems = [];

before(async () => {
  server = await startServer();
  upstream = await startUpstream();
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  page = await newPage(browser.context, problems);
  provider = (await server.api("POST", "/providers", {
    providerId: "lab", name: "Lab server", baseUrl: upstream.url, models: [{ modelId: "alpha-1" }],
  })).body;
  await signIn(page, server.base + "/");
});

after(async () => {
  await browser?.close();
  await upstream?.stop();
  await server?.stop();
  cleanShots();
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

test("the navigation names every section and marks the current one", async () => {
  const nav = page.getByRole("navigation", { name: "Sections" });
  const names = await nav.getByRole("link").allInnerTexts();
  assert.deepEqual(names, ["Providers", "Provider keys", "Access keys", "Usage", "Gateway"]);
  await nav.getByRole("link", { name: "Provider keys" }).click();
  await page.getByRole("heading", { name: "Provider keys" }).waitFor();
  assert.equal(await nav.getByRole("link", { name: "Provider keys" }).getAttribute("aria-current"), "page");
  assert.equal(await nav.getByRole("link", { name: "Providers" }).getAttribute("aria-current"), null);
});

test("the sections are reached with the keyboard alone, and Escape closes a form", async () => {
  await page.goto(`${server.base}/#/`);
  await page.locator("body").focus();
  const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim());
  for (let i = 0; i < 12 && (await focused()) !== "Access keys"; i++) await page.keyboard.press("Tab");
  assert.equal(await focused(), "Access keys");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Access keys", exact: true }).waitFor();
  for (let i = 0; i < 20 && (await focused()) !== "New access key"; i++) await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByLabel("Key name").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "a-name", "the form takes focus");
  await page.keyboard.press("Escape");
  await page.getByLabel("Key name").waitFor({ state: "detached" });
  assert.equal(await focused(), "New access key", "focus goes back to the button");
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Provider keys" }).click();
  await page.getByRole("heading", { name: "Provider keys" }).waitFor();
});

test("a provider key is added, its secret never shown, and a missing name is named at its field", async () => {
  await page.getByRole("button", { name: "Add key" }).click();
  await page.getByLabel("Secret value").fill("sk-good-0123456789");
  await page.getByRole("button", { name: "Add key", exact: true }).last().click();
  const error = page.locator("#k-name-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.innerText(), /required/);
  assert.doesNotMatch(await page.locator("#main").innerText(), /breaks rules|field\(s\)/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "k-name");
  await page.keyboard.type("main account");
  assert.equal(await error.isVisible(), false, "the error goes once the field is edited");
  assert.deepEqual(await unlabelled(page), []);
  await page.keyboard.press("Enter");
  const row = page.getByRole("row", { name: /main account/ });
  await row.waitFor();
  const { body } = await server.api("GET", "/provider-keys?provider=lab");
  assert.deepEqual(body.aiGatewayProviderKeys.map((k) => k.name), ["main account"]);
  const redacted = body.aiGatewayProviderKeys[0].keyRedacted;
  assert.equal(await row.locator("td").nth(1).innerText(), redacted);
  assert.match(await row.innerText(), /never[\s\S]*not tested/);
  assert.equal((await page.locator("#main").innerText()).includes("sk-good-0123456789"), false);
  await shot(page, "provider-keys.png");
});

test("a provider key is renamed, rotated, tested and deleted", async () => {
  await page.getByRole("button", { name: "Rename main account" }).click();
  await page.getByLabel("New name").fill("spare account");
  await page.keyboard.press("Enter");
  await page.getByRole("row", { name: /spare account/ }).waitFor();

  await page.getByRole("button", { name: "Test spare account" }).click();
  await page.getByRole("row", { name: /spare account/ }).getByText("accepted").waitFor();

  await page.getByRole("button", { name: "Rotate spare account" }).click();
  await page.getByLabel("New secret value").fill("sk-bad-9876543210");
  await page.getByRole("button", { name: "Rotate", exact: true }).click();
  await page.getByText("Rotated spare account.").waitFor();
  const row = page.getByRole("row", { name: /spare account/ });
  const [rotated] = (await server.api("GET", "/provider-keys?provider=lab")).body.aiGatewayProviderKeys;
  assert.match(rotated.keyRedacted, /10$/, "the new secret is stored");
  await row.locator("td").nth(1).getByText(rotated.keyRedacted, { exact: true }).waitFor();
  await page.getByRole("button", { name: "Test spare account" }).click();
  await row.getByText("refused").waitFor();

  await page.getByRole("button", { name: "Delete spare account" }).click();
  const dialog = page.getByRole("dialog");
  assert.match(await dialog.innerText(), /spare account/);
  await dialog.getByRole("button", { name: "Delete" }).click();
  await page.getByText("lab has no keys yet").waitFor();
  assert.equal((await server.api("GET", "/provider-keys?provider=lab")).body.aiGatewayProviderKeys.length, 0);
});

test("a key the upstream refused shows that calls rest it, in words, until when", async () => {
  const good = (await server.api("POST", "/provider-keys", { providerId: "lab", name: "good one", value: "sk-good-1111" })).body;
  const bad = (await server.api("POST", "/provider-keys", { providerId: "lab", name: "bad one", value: "sk-bad-2222" })).body;
  // The newest key goes first: refused (401), it rests and the older one answers.
  const call = await fetch(`${server.base}/v1/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: "lab:alpha-1", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(call.status, 200, await call.text());
  const { body: stored } = await server.api("GET", `/provider-keys/${bad.id}`);
  assert.equal(stored.state.status, "refused", JSON.stringify(stored));
  await page.goto(`${server.base}/#/provider-keys/lab`);
  await page.reload();
  const badRow = page.getByRole("row", { name: /bad one/ });
  const badge = badRow.locator("[data-rest]");
  await badge.waitFor();
  const until = new Date(stored.state.until).toLocaleTimeString();
  assert.equal(await badge.locator("[aria-hidden]").innerText(), `refused until ${until}`);
  assert.equal(await badge.locator("[aria-hidden]").isVisible(), true);
  const spoken = await badge.evaluate((el) => el.querySelector(".sr-only").textContent);
  assert.match(spoken, /^Refused: tried last until .*, because the upstream refused this key \(401\)\.$/);
  assert.equal(await page.getByRole("row", { name: /good one/ }).locator("[data-rest]").count(), 0);
  assert.match(await page.getByRole("row", { name: /good one/ }).innerText(), /not tested/);
  for (const scheme of ["dark", "light"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const [fg, bg] = await badge.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
    assert.notEqual(fg, bg, `the badge is readable in ${scheme} mode`);
  }
  await shot(page, "provider-key-refused.png");
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await overflow(page) <= 0, "a key with its badge fits a phone");
  assert.equal(await badge.locator("[aria-hidden]").isVisible(), true);
  await page.setViewportSize({ width: 1200, height: 800 });
  for (const k of [good, bad]) await server.api("DELETE", `/provider-keys/${k.id}`);
});

test("a configuration scopes to picked providers and models and routes to a picked key", async () => {
  const key = (await server.api("POST", "/provider-keys", { providerId: "lab", name: "router key", value: "sk-route-1234" })).body;
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Access keys" }).click();
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByRole("link", { name: "New configuration" }).click();
  await page.getByLabel("Configuration name").fill("lab only");
  await page.getByLabel("Any provider").uncheck();
  await page.getByLabel("lab (Lab server)").check();
  await page.getByLabel("Any model").uncheck();
  await page.getByLabel("lab:alpha-1").check();
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.getByLabel("router key (sk…34)").check();
  assert.deepEqual(await unlabelled(page), []);
  await page.getByRole("button", { name: "Create configuration" }).click();
  await page.getByRole("heading", { name: "Configuration lab only" }).waitFor();
  const { body } = await server.api("GET", "/access-key-configurations");
  const [c] = body.aiGatewayAccessKeyConfigurations;
  assert.deepEqual(c.access, { providers: { allow: ["lab"] }, models: { allow: ["lab:alpha-1"] } });
  assert.deepEqual(c.router.rules.map((r) => [r.provider, r.steps[0].keys.map((k) => k.id)]), [["lab", [key.id]]]);
  await shot(page, "configuration.png", { fullPage: true });
  // Opened again, the picks are shown as stored.
  assert.equal(await page.getByLabel("lab:alpha-1").isChecked(), true);
  assert.equal(await page.getByLabel("router key (sk…34)").isChecked(), true);
});

let token;
test("an access key is created under a configuration, its token shown once with a copy button", async () => {
  await page.getByRole("link", { name: "Access keys", exact: true }).first().click();
  await page.getByRole("button", { name: "New access key" }).click();
  await page.getByLabel("Key name").fill("home assistant");
  await page.getByLabel("Configuration").selectOption({ label: "lab only" });
  await page.getByLabel("Requests per minute").fill("lots");
  await page.getByRole("button", { name: "Create access key" }).click();
  await page.locator("#a-rate-error").waitFor({ state: "visible" });
  await page.getByLabel("Requests per minute").fill("60");
  await page.getByRole("button", { name: "Create access key" }).click();
  const once = page.getByRole("region", { name: "New access key" });
  await once.waitFor();
  assert.match(await once.innerText(), /will not be shown again/);
  token = await page.locator("#new-token").innerText();
  assert.match(token, /^mga_/);
  await shot(page, "access-key-created.png");
  await page.getByRole("button", { name: "Copy access key" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  const row = page.getByRole("row", { name: /home assistant/ });
  assert.match(await row.innerText(), /lab only[\s\S]*active/);
  const { body } = await server.api("GET", "/access-keys");
  assert.equal(body.aiGatewayAccessKeys[0].requestsPerMinute, 60);

  await page.reload();
  await page.getByRole("row", { name: /home assistant/ }).waitFor();
  assert.equal((await page.locator("#main").innerText()).includes(token), false, "shown once only");
});

test("an access key is disabled, rotated and revoked", async () => {
  // An edit sends only what changed.
  await page.getByRole("button", { name: "Edit home assistant" }).click();
  await page.getByLabel("Requests per minute").fill("120");
  const sent = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save access key" }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { requestsPerMinute: 120 });
  await page.getByText("Saved home assistant.").waitFor();
  // The description is edited, shown under the name, and cleared again.
  await page.getByRole("button", { name: "Edit home assistant" }).click();
  await page.getByLabel("Description").fill("the kitchen tablet");
  const described = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save access key" }).click();
  assert.deepEqual(JSON.parse((await described).postData()), { description: "the kitchen tablet" });
  await page.getByRole("row", { name: /home assistant/ }).getByText("the kitchen tablet").waitFor();
  assert.equal((await server.api("GET", "/access-keys")).body.aiGatewayAccessKeys[0].description, "the kitchen tablet");
  await page.getByRole("button", { name: "Edit home assistant" }).click();
  assert.equal(await page.getByLabel("Description").inputValue(), "the kitchen tablet");
  await page.getByLabel("Description").fill("");
  const cleared = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save access key" }).click();
  assert.deepEqual(JSON.parse((await cleared).postData()), { description: null });
  await page.getByText("Saved home assistant.").waitFor();
  assert.equal((await server.api("GET", "/access-keys")).body.aiGatewayAccessKeys[0].description, undefined);
  await page.getByRole("button", { name: "Disable home assistant" }).click();
  await page.getByRole("row", { name: /home assistant/ }).getByText("disabled").waitFor();
  assert.equal((await server.api("GET", "/access-keys")).body.aiGatewayAccessKeys[0].disabled, true);
  await page.getByRole("button", { name: "Enable home assistant" }).click();
  await page.getByRole("row", { name: /home assistant/ }).getByText("active").waitFor();

  await page.getByRole("button", { name: "Rotate home assistant" }).click();
  await page.getByLabel("Old token keeps working for (seconds)").fill("30");
  await page.getByRole("button", { name: "Rotate", exact: true }).click();
  await page.getByRole("region", { name: "New access key" }).waitFor();
  const rotated = await page.locator("#new-token").innerText();
  assert.match(rotated, /^mga_/);
  assert.notEqual(rotated, token);

  await page.getByRole("button", { name: "Revoke home assistant" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await page.getByText("No access keys yet").waitFor();
  assert.equal((await server.api("GET", "/access-keys")).body.aiGatewayAccessKeys.length, 0);
});

test("a management API key is created with its token shown once and revoked", async () => {
  await page.getByRole("link", { name: "Management API keys" }).click();
  await page.getByRole("row", { name: /admin/ }).getByText("set in the config file").waitFor();
  await page.getByRole("button", { name: "New API key" }).click();
  await page.getByLabel("Key name").fill("backup script");
  await page.keyboard.press("Enter");
  await page.getByRole("region", { name: "New API key" }).waitFor();
  const mgk = await page.locator("#new-token").innerText();
  assert.match(mgk, /^mgk_/);
  const res = await fetch(server.base + "/providers", { headers: { Authorization: `Bearer ${mgk}` } });
  assert.equal(res.status, 200, "the shown token works");
  await page.getByRole("button", { name: "Revoke backup script" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await page.getByText("Revoked backup script.").waitFor();
  assert.equal((await fetch(server.base + "/providers", { headers: { Authorization: `Bearer ${mgk}` } })).status, 401);
});

test("the keys views and the provider form fit a phone in dark mode", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  for (const hash of ["#/provider-keys", "#/access-keys", "#/access-keys/configurations", "#/access-keys/configurations/new",
    "#/access-keys/api-keys", "#/new", `#/providers/${provider.id}`]) {
    await page.goto(`${server.base}/${hash}`);
    await page.locator("h1").waitFor();
    assert.ok(await overflow(page) <= 0, `${hash} is wider than the screen`);
    if (hash === "#/provider-keys") await shot(page, "provider-keys-phone-dark.png");
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 800 });
});

test("a provider with keys is deleted with them only by the explicit choice", async () => {
  await page.goto(`${server.base}/#/providers/${provider.id}`);
  await page.getByRole("button", { name: "Delete provider" }).click();
  const dialog = page.getByRole("dialog");
  assert.match(await dialog.innerText(), /It has 1 key/);
  assert.equal(await dialog.getByRole("button", { name: "Delete", exact: true }).count(), 0);
  await dialog.getByRole("button", { name: "Delete provider and its keys" }).click();
  await page.getByText("Deleted lab and its keys.").waitFor();
  assert.equal((await server.api("GET", "/providers")).body.aiGatewayProviders.length, 0);
  assert.equal((await server.api("GET", "/provider-keys")).body.aiGatewayProviderKeys.length, 0);
});
