// The gateway view (settings and model aliases) and the page served under a sub-path.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cleanShots, shot, launchBrowser, newPage, overflow, signIn, startServer, startSubPathProxy, unlabelled } from "./harness.mjs";

let server;
let proxy;
let browser;
let page;
const problems = [];

before(async () => {
  let base;
  proxy = await startSubPathProxy("/gw", () => base);
  server = await startServer({ MODELGATE_PUBLIC_URL: proxy.base });
  base = server.base;
  browser = await launchBrowser();
  page = await newPage(browser.context, problems);
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  await server?.stop();
  cleanShots();
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

test("under a reverse proxy's sub-path the page loads, signs in and pages through providers", async () => {
  for (let i = 0; i < 101; i++) {
    await server.api("POST", "/providers", { providerId: `p-${String(i).padStart(3, "0")}`, name: `P ${i}`, baseUrl: "http://10.0.0.1/v1" });
  }
  await signIn(page, `${proxy.base}/`);
  await page.getByText("100 providers loaded; more on the server").waitFor();
  // The oldest provider is on the second page: the filter fetches it before it answers.
  await page.getByLabel("Filter loaded providers").fill("p-000");
  await page.getByText("1 of 101 loaded providers match “p-000”.").waitFor();
  assert.equal(await page.locator("#providers tbody tr").count(), 1);
  assert.equal(await page.getByRole("button", { name: "Load more" }).isVisible(), false);
  const outside = proxy.paths.filter((p) => !p.startsWith("/gw/"));
  assert.deepEqual(outside, [], "every request stayed under the sub-path");
  assert.ok(proxy.paths.some((p) => p.startsWith("/gw/assets/app.js")));
  assert.ok(proxy.paths.some((p) => p.startsWith("/gw/providers?") && p.includes("beforeId")), "the next page too");
});

test("the gateway settings are saved as a PATCH of what changed, errors at their field", async () => {
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Gateway" }).click();
  await page.getByRole("heading", { name: "Gateway", exact: true }).waitFor();
  assert.equal(await page.getByLabel("Total timeout").inputValue(), "10m0s");
  assert.deepEqual(await unlabelled(page), []);
  await page.getByLabel("Per-attempt timeout").fill("soon");
  await page.getByRole("button", { name: "Save gateway settings" }).click();
  const error = page.locator("#g-perRequestTimeout-error");
  await error.waitFor({ state: "visible" });
  assert.doesNotMatch(await page.locator("#gateway-banner").innerText(), /breaks rules|field\(s\)/);
  await page.getByLabel("Per-attempt timeout").fill("2m");
  assert.equal(await error.isVisible(), false, "the error goes once the field is edited");
  await page.getByLabel("Most output tokens").fill("4096");
  const sent = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save gateway settings" }).click();
  const request = await sent;
  assert.deepEqual(JSON.parse(request.postData()), { perRequestTimeout: "2m", maxOutputTokens: 4096 });
  assert.ok(request.headers()["if-match"]);
  await page.getByText("Saved the gateway settings.").waitFor();
  const { body } = await server.api("GET", "/gateway-config");
  assert.deepEqual([body.perRequestTimeout, body.maxOutputTokens], ["2m0s", 4096]);
  assert.equal(await page.getByLabel("Per-attempt timeout").inputValue(), "2m0s");
  // The toast goes away by itself.
  await page.locator("#status").waitFor({ state: "hidden" });
});

test("a model alias is created, edited and deleted", async () => {
  await page.getByRole("button", { name: "New alias" }).click();
  await page.getByLabel("Alias", { exact: true }).fill("default-chat");
  await page.getByLabel("Target").fill("p-001:big");
  await page.getByLabel("Fallbacks").fill("p-002:small, p-003:tiny");
  await page.getByRole("button", { name: "Create alias" }).click();
  const row = page.getByRole("row", { name: /default-chat/ });
  await row.waitFor();
  assert.match(await row.innerText(), /p-001:big[\s\S]*p-002:small, p-003:tiny/);
  await shot(page, "gateway.png", { fullPage: true });
  await page.getByRole("button", { name: "Edit alias default-chat" }).click();
  await page.getByLabel("Fallbacks").fill("");
  await page.getByRole("button", { name: "Save alias" }).click();
  await page.getByText("Saved alias default-chat.").waitFor();
  let { body } = await server.api("GET", "/model-aliases");
  assert.deepEqual(body.modelAliases[0].fallbacks ?? [], []);
  await page.getByRole("button", { name: "Delete alias default-chat" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("No aliases yet.").waitFor();
  ({ body } = await server.api("GET", "/model-aliases"));
  assert.equal(body.modelAliases.length, 0);
});

test("prices are listed, added, edited and deleted, errors at their field", async () => {
  await page.getByRole("navigation", { name: "Gateway" }).getByRole("link", { name: "Prices" }).click();
  await page.getByRole("heading", { name: "Prices", exact: true }).waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Gateway" }).getAttribute("aria-current"), "page");
  await page.getByText("No prices yet").waitFor();
  await page.getByRole("button", { name: "New price" }).click();
  await page.getByLabel("Model", { exact: true }).fill("p-001:big");
  await page.getByLabel("Input (USD per million tokens)").fill("2.5");
  await page.getByLabel("Output (USD per million tokens)").fill("lots");
  await page.getByLabel("Cache read (USD per million tokens)").fill("0.25");
  assert.deepEqual(await unlabelled(page), []);
  await page.getByRole("button", { name: "Create price" }).click();
  const error = page.locator("#pr-output-error");
  await error.waitFor({ state: "visible" });
  assert.doesNotMatch(await page.locator("#main").innerText(), /breaks rules|field\(s\)/);
  await page.getByLabel("Output (USD per million tokens)").fill("10");
  assert.equal(await error.isVisible(), false, "the error goes once the field is edited");
  const sent = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/prices"));
  await page.getByRole("button", { name: "Create price" }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { model: "p-001:big", input: 2.5, output: 10, cacheRead: 0.25 });
  const row = page.getByRole("row", { name: /p-001:big/ });
  await row.waitFor();
  assert.match(await row.innerText(), /\$2\.5[\s\S]*\$10[\s\S]*\$0\.25[\s\S]*\$0/);
  let { body } = await server.api("GET", "/prices");
  assert.deepEqual(body.prices.map((p) => [p.model, p.input, p.output, p.cacheRead, p.cacheWrite]), [["p-001:big", 2.5, 10, 0.25, 0]]);
  await shot(page, "prices.png");

  // An edit sends only what changed, with If-Match; an emptied rate is free.
  await page.getByRole("button", { name: "Edit price of p-001:big" }).click();
  assert.equal(await page.getByLabel("Input (USD per million tokens)").inputValue(), "2.5");
  await page.getByLabel("Cache write (USD per million tokens)").fill("1.25");
  await page.getByLabel("Cache read (USD per million tokens)").fill("");
  const patched = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByRole("button", { name: "Save price" }).click();
  const request = await patched;
  assert.deepEqual(JSON.parse(request.postData()), { cacheRead: null, cacheWrite: 1.25 });
  assert.ok(request.headers()["if-match"]);
  await page.getByText("Saved the price of p-001:big.").waitFor();
  ({ body } = await server.api("GET", "/prices"));
  assert.deepEqual([body.prices[0].cacheRead, body.prices[0].cacheWrite], [0, 1.25]);

  await page.getByRole("button", { name: "Delete price of p-001:big" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("No prices yet").waitFor();
  ({ body } = await server.api("GET", "/prices"));
  assert.equal(body.prices.length, 0);
});

test("the prices view fits a phone in dark mode", async () => {
  const made = await server.api("POST", "/prices", { model: "a-rather-long-provider-name:an-even-longer-model-name-2025", input: 3, output: 15 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.getByRole("row", { name: /an-even-longer-model-name/ }).waitFor();
  assert.ok(await overflow(page) <= 0, "wider than the screen");
  await shot(page, "prices-phone-dark.png");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.getByRole("navigation", { name: "Gateway" }).getByRole("link", { name: "Settings and aliases" }).click();
  await page.getByLabel("Total timeout").waitFor();
});

test("the gateway view fits a phone in dark mode", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.getByLabel("Total timeout").waitFor();
  assert.ok(await overflow(page) <= 0, "wider than the screen");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 800 });
});
