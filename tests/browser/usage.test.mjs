// The usage view over real calls through the gateway to a loopback stand-in upstream.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cleanShots, shot, launchBrowser, newPage, overflow, signIn, startServer, startUpstream, unlabelled } from "./harness.mjs";

let server;
let upstream;
let browser;
let page;
let keyA;
let keyB;
const problems = [];

async function call(token, model) {
  const res = await fetch(server.base + "/v1/chat/completions", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });
  await res.text();
  return res.status;
}

before(async () => {
  server = await startServer();
  upstream = await startUpstream();
  await server.api("POST", "/providers", {
    providerId: "lab", name: "Lab server", baseUrl: upstream.url,
    models: [{ modelId: "alpha-1" }, { modelId: "broken-1" }],
  });
  assert.equal((await server.api("POST", "/prices", { model: "lab:alpha-1", input: 1000, output: 2000 })).status, 201);
  keyA = (await server.api("POST", "/access-keys", { name: "kitchen tablet" })).body;
  keyB = (await server.api("POST", "/access-keys", { name: "ci runner" })).body;
  for (let i = 0; i < 3; i++) assert.equal(await call(keyA.token, "lab:alpha-1"), 200);
  assert.equal(await call(keyB.token, "lab:alpha-1"), 200);
  assert.notEqual(await call(keyB.token, "lab:broken-1"), 200);
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

test("the usage view shows the period's totals as numbers and a chart per day", async () => {
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Usage" }).click();
  await page.getByRole("heading", { name: "Usage", exact: true }).waitFor();
  const totals = page.getByLabel("Totals for the period");
  const text = await totals.innerText();
  assert.match(text, /Requests\s+5\b/);
  assert.match(text, /Errors\s+1\b/);
  assert.match(text, /Input tokens\s+44\b/);
  assert.match(text, /Output tokens\s+28\b/);
  assert.match(text, /Cost \(USD\)\s+\$0\.1000/);
  const chart = page.getByRole("img", { name: /Requests per day, by provider: 5 over 7 days/ });
  await chart.waitFor();
  assert.equal(await chart.locator("rect").count(), 1, "one bar today, one provider");
  assert.match(await chart.locator("rect title").textContent(), /lab: 5$/);
  assert.deepEqual(await unlabelled(page), []);
  await shot(page, "usage.png", { fullPage: true });
});

test("the chart is grouped by access key and switched to tokens and cost", async () => {
  await page.getByLabel("Group by").selectOption("accessKey");
  const chart = page.getByRole("img", { name: /Requests per day, by access key: 5/ });
  await chart.waitFor();
  const titles = await chart.locator("rect title").allTextContents();
  assert.deepEqual(titles.map((t) => t.replace(/^\S+ · /, "")).sort(), ["ci runner: 2", "kitchen tablet: 3"]);
  assert.match(await page.locator(".legend").innerText(), /ci runner[\s\S]*kitchen tablet/);
  await page.getByLabel("Show").selectOption("tokens");
  await page.getByRole("img", { name: /Tokens per day, by access key: 72 over/ }).waitFor();
  await page.getByLabel("Show").selectOption("cost");
  await page.getByRole("img", { name: /Cost \(USD\) per day, by access key: \$0\.1000/ }).waitFor();
});

test("the recent calls are filtered by access key by asking the server", async () => {
  const rows = page.locator("#usage-events tbody tr");
  await page.getByText("5 events shown.").waitFor();
  const asked = page.waitForRequest((r) => r.url().includes(`accessKeyId=${keyB.id}`));
  await page.getByLabel("Access key", { exact: true }).selectOption({ label: "ci runner" });
  await asked;
  await page.getByText("2 events shown.").waitFor();
  assert.equal(await rows.count(), 2);
  const all = (await rows.allInnerTexts()).join("\n");
  assert.doesNotMatch(all, /kitchen tablet/);
  assert.match(all, /ci runner[\s\S]*lab:broken-1[\s\S]*500/);
});

test("the usage view fits a phone in dark mode", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.getByLabel("Totals for the period").waitFor();
  assert.ok(await overflow(page) <= 0, "wider than the screen");
  await shot(page, "usage-phone-dark.png", { fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 800 });
});
