// The main flows with the keyboard alone (Tab, Shift+Tab, Enter, Space, Escape): sign in,
// create a provider, add a provider key, open and close a dialog, create an access key and
// copy its token. Every control reached shows where the focus is.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { TOKEN, launchBrowser, newPage, startServer, startUpstream } from "./harness.mjs";

let server;
let upstream;
let browser;
let page;
const problems = [];

before(async () => {
  server = await startServer();
  upstream = await startUpstream();
  browser = await launchBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  page = await newPage(browser.context, problems);
});

after(async () => {
  await browser?.close();
  await upstream?.stop();
  await server?.stop();
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation shows up here too)");
});

/** What a person hears of the focused element: its label, else its text ("" on the page itself). */
const focused = () => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "";
  return (el.getAttribute("aria-label") || el.labels?.[0]?.textContent || el.textContent || "").trim();
});

/** Whether the focused element draws a focus ring a person can see. */
const ringShown = () => page.evaluate(() => {
  const style = getComputedStyle(document.activeElement);
  return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
});

/** Presses Tab (Shift+Tab with `back`) until `name` has the focus; fails if it never comes. */
async function tabTo(name, { back = false, max = 80 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    if ((await focused()) === name) {
      assert.ok(await ringShown(), `${name} has the focus but shows no focus ring`);
      return;
    }
  }
  assert.fail(`“${name}” is never reached with ${back ? "Shift+Tab" : "Tab"}`);
}

const sections = (name) => page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name });

test("sign in with the keyboard", async () => {
  await page.goto(server.base + "/");
  await page.getByLabel("Admin token").waitFor();
  assert.equal(await focused(), "Admin token", "the token field takes the focus");
  await page.keyboard.type(TOKEN);
  await page.keyboard.press("Enter");
  await page.getByText("No providers yet").waitFor();
});

test("a provider is created with the keyboard", async () => {
  await tabTo("Add your first provider");
  await page.keyboard.press("Enter");
  await page.getByLabel("Provider ID").waitFor();
  assert.equal(await focused(), "Provider ID", "the form takes the focus");
  await page.keyboard.type("kb");
  await tabTo("Name");
  await page.keyboard.type("Keyboard lab");
  await tabTo("Base URL");
  await page.keyboard.type(upstream.url);
  await tabTo("Create provider");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Provider kb" }).waitFor();
  const { body } = await server.api("GET", "/providers");
  assert.deepEqual(body.aiGatewayProviders.map((p) => [p.providerId, p.name, p.baseUrl]), [["kb", "Keyboard lab", upstream.url]]);
});

test("a provider key is added with the keyboard, and focus goes back to Add key", async () => {
  await tabTo("Provider keys", { back: true });
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Provider keys" }).waitFor();
  await tabTo("Add key");
  await page.keyboard.press("Enter");
  await page.getByLabel("Key name").waitFor();
  assert.equal(await focused(), "Key name");
  await page.keyboard.type("kb key");
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Secret value");
  await page.keyboard.type("sk-kb-0123456789");
  await page.keyboard.press("Enter");
  await page.getByRole("row", { name: /kb key/ }).waitFor();
  assert.equal(await focused(), "Add key", "the keyboard goes on from where it was");
  const { body } = await server.api("GET", "/provider-keys?provider=kb");
  assert.deepEqual(body.aiGatewayProviderKeys.map((k) => k.name), ["kb key"]);
});

test("a dialog holds the focus, Escape closes it and gives the focus back, Space confirms", async () => {
  await tabTo("Delete kb key");
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  assert.equal(await focused(), "Cancel", "the safe choice has the focus");
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Delete");
  assert.ok(await ringShown(), "the dialog's buttons show the focus");
  // However far one tabs, nothing behind the dialog takes the focus.
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press(i % 2 ? "Shift+Tab" : "Tab");
    const outside = await page.evaluate(() => {
      const el = document.activeElement;
      return Boolean(el && el !== document.body && !document.getElementById("confirm").contains(el));
    });
    assert.equal(outside, false, "the focus left the dialog");
  }
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await focused(), "Delete kb key", "the focus is back on what opened the dialog");
  assert.equal((await server.api("GET", "/provider-keys?provider=kb")).body.aiGatewayProviderKeys.length, 1, "Escape deletes nothing");

  await page.keyboard.press("Enter");
  await dialog.waitFor();
  assert.equal(await focused(), "Cancel");
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Delete");
  await page.keyboard.press("Space");
  await page.getByText("kb has no keys yet").waitFor();
  assert.equal((await server.api("GET", "/provider-keys?provider=kb")).body.aiGatewayProviderKeys.length, 0);
  assert.equal(await focused(), "Add key", "with its row gone, the focus goes to the view's main action");
});

test("an access key is created with the keyboard and its token copied with Space", async () => {
  await tabTo("Access keys", { back: true });
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Access keys", exact: true }).waitFor();
  await tabTo("New access key");
  await page.keyboard.press("Enter");
  await page.getByLabel("Key name").waitFor();
  assert.equal(await focused(), "Key name");
  await page.keyboard.type("kb app");
  await page.keyboard.press("Enter");
  await page.getByRole("region", { name: "New access key" }).waitFor();
  assert.equal(await focused(), "Copy access key", "the copy button takes the focus");
  assert.ok(await ringShown());
  const token = await page.locator("#new-token").innerText();
  assert.match(token, /^mga_/);
  await page.keyboard.press("Space");
  await page.getByText("Copied the access key.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  assert.equal(await sections("Access keys").getAttribute("aria-current"), "page");

  await tabTo("Revoke kb app");
  await page.keyboard.press("Enter");
  await page.getByRole("dialog").waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Revoke");
  await page.keyboard.press("Enter");
  await page.getByText("No access keys yet").waitFor();
  assert.equal((await server.api("GET", "/access-keys")).body.aiGatewayAccessKeys.length, 0);
  assert.equal(await focused(), "New access key", "with its row gone, the focus goes to the view's main action");
});
