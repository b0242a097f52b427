// Starts a modelgate server (the real binary, fresh data dir, free port) and Debian's Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const TOKEN = "browser-test-token-0123456789";
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = process.env.MODELGATE_BIN || join(ROOT, "target/debug/modelgate");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** A running server: `base` URL, `api()` to call it with the token, `stop()`. */
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "modelgate-browser-"));
  const child = spawn(BIN, ["--bind", "127.0.0.1:0", "--data-dir", join(dir, "data")], {
    cwd: dir,
    // No background health checks: nothing may leave loopback.
    env: { PATH: process.env.PATH, MODELGATE_ADMIN_TOKEN: TOKEN, RUST_LOG: "info", MODELGATE_HEALTH_ENABLED: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const base = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 20000);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.match(/\(port (\d+)\)/);
      if (m) {
        clearTimeout(timer);
        resolvePort(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}:\n${log}`)));
  });
  async function api(method, path, body, headers = {}) {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get("etag"), body: text ? JSON.parse(text) : null };
  }
  return {
    base,
    api,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium as the issue prescribes, with a fresh profile each launch. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "modelgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic",
    ],
    viewport: { width: 1200, height: 800 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that fails the test on any console error or uncaught exception (CSP included). */
export async function newPage(context, problems) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    // API answers such as 401 or 412 are expected by the tests; the browser logs each.
    const expected = /^Failed to load resource: the server responded with a status of (400|401|404|409|412)/;
    if (msg.type() === "error" && !expected.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  return page;
}
