// The page's layout rules, read from static/: modules small, imported by relative path, and
// nothing fetched from elsewhere or from the server's root (which would break a sub-path).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const STATIC = resolve(import.meta.dirname, "../../static");
const files = readdirSync(STATIC);
const modules = files.filter((f) => f.endsWith(".js"));

test("every module is at most 400 lines and imports only relative siblings that exist", () => {
  assert.ok(modules.length >= 10, modules.join(", "));
  for (const f of modules) {
    const text = readFileSync(join(STATIC, f), "utf8");
    assert.ok(text.split("\n").length <= 400, `${f} is over 400 lines`);
    for (const [, spec] of text.matchAll(/^import [^;]*? from "([^"]+)";/gm)) {
      assert.match(spec, /^\.\/[a-z-]+\.js$/, `${f} imports ${spec}`);
      assert.ok(files.includes(spec.slice(2)), `${f} imports ${spec}, which is missing`);
    }
  }
});

test("no URL points at the server's root or elsewhere", () => {
  for (const f of [...modules, "index.html", "style.css"]) {
    const text = readFileSync(join(STATIC, f), "utf8");
    assert.doesNotMatch(text, /https?:\/\/(?!localhost:11434|api\.example\.com|proxy\.lan|www\.w3\.org\/2000\/svg)/, `${f} names another site`);
    assert.doesNotMatch(text, /(fetch\(|api\("[A-Z]+", )["`]\//, `${f} calls an absolute path`);
    assert.doesNotMatch(text, /(href|src)="\/(?!\/)/, `${f} links an absolute path`);
  }
});
