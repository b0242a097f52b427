// Starts a modelgate server (the real binary, fresh data dir, free port) and Debian's Chromium.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const TOKEN = "browser-test-token-0123456789";
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = process.env.MODELGATE_BIN || join(ROOT, "target/debug/modelgate");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** A running server: `base` URL, `api()` to call it with the token, `stop()`. */
export async function startServer(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), "modelgate-browser-"));
  const child = spawn(BIN, ["--bind", "127.0.0.1:0", "--data-dir", join(dir, "data")], {
    cwd: dir,
    // No background health checks: nothing may leave loopback.
    env: { PATH: process.env.PATH, MODELGATE_ADMIN_TOKEN: TOKEN, RUST_LOG: "info", MODELGATE_HEALTH_ENABLED: "false", ...extraEnv },
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
    const expected = /^Failed to load resource: the server responded with a status of (400|401|404|409|412|502)/;
    if (msg.type() === "error" && !expected.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  return page;
}

/**
 * A stand-in upstream on loopback: an OpenAI-style `GET /v1/models` listing `models` and a
 * `POST /v1/chat/completions` answering 11 input and 7 output tokens (a 500 for the model
 * `broken-1`); it refuses (401) any key containing "bad". `seen` counts the calls.
 */
export async function startUpstream(models = ["alpha-1", "beta-2", "gamma-3"]) {
  const { createServer } = await import("node:http");
  const state = { seen: 0 };
  const server = createServer((req, res) => {
    state.seen++;
    const auth = req.headers.authorization || "";
    if (auth.includes("bad")) {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "invalid api key" } }));
      return;
    }
    if (req.method === "POST" && req.url.endsWith("/chat/completions")) {
      let raw = "";
      req.on("data", (c) => { raw += c; });
      req.on("end", () => {
        const { model } = JSON.parse(raw);
        if (model === "broken-1") {
          res.writeHead(500, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ error: { message: "upstream broke" } }));
          return;
        }
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({
          id: "cmpl-1", object: "chat.completion", created: 1, model,
          choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
        }));
      });
      return;
    }
    if (req.url.endsWith("/models")) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: models.map((id) => ({ id, object: "model" })) }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    state,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** Signs in with the admin token from the sign-in form at `url`. */
export async function signIn(page, url) {
  await page.goto(url);
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Every form control on the page has an accessible label. */
export async function unlabelled(page) {
  return page.$$eval("input, select, textarea", (els) =>
    els.filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML));
}

/** How far the page is wider than the window (0 or less: it fits). */
export async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/**
 * A reverse proxy on loopback serving `target()` under the sub-path `prefix` (as a self-hoster's
 * nginx would), stripping the prefix; anything outside it is a 404. `paths` records what came in.
 */
export async function startSubPathProxy(prefix, target) {
  const { createServer, request } = await import("node:http");
  const paths = [];
  const server = createServer((req, res) => {
    paths.push(req.url);
    if (req.url === prefix) {
      res.writeHead(301, { Location: `${prefix}/` });
      res.end();
      return;
    }
    if (!req.url.startsWith(`${prefix}/`)) {
      res.writeHead(404);
      res.end("outside the sub-path");
      return;
    }
    const to = new URL(req.url.slice(prefix.length), target());
    const upstream = request(to, { method: req.method, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${server.address().port}${prefix}`,
    paths,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// Screenshots go to docs/screenshots/ only when asked (UPDATE_SCREENSHOTS=1), else to a
// scratch dir that cleanShots() removes: a test run leaves the checkout as it found it.
const UPDATE_SHOTS = process.env.UPDATE_SCREENSHOTS === "1";
let scratch;

/** Takes a screenshot named `name` (a .png file name). */
export async function shot(page, name, options = {}) {
  const dir = UPDATE_SHOTS ? join(ROOT, "docs/screenshots") : (scratch ??= mkdtempSync(join(tmpdir(), "modelgate-shots-")));
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), ...options });
}

export function cleanShots() {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}
