// The official JS SDKs (openai, @anthropic-ai/sdk in both its generations) against modelgate,
// given only its base URL. Run by tests/e2e/main.rs with the same variables as sdk_check.py
// (MG_BASE, MG_TOKEN, MG_MODEL, optional MG_LIMITED_MODEL). The Anthropic clients record the
// headers they send, so the check can tell that one generation authenticated with
// `Authorization: Bearer` and the other with `x-api-key` — and that modelgate took both.
// Each check throws on failure; the last line printed is a JSON summary the test reads.

import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import Anthropic0 from "anthropic-sdk-0";
import OpenAI from "openai";

const { MG_BASE: BASE, MG_TOKEN: TOKEN, MG_MODEL: MODEL, MG_LIMITED_MODEL: LIMITED } = process.env;
const ASK = [{ role: "user", content: "Count from one to five." }];
const done = [];

function check(name, ok, detail) {
  assert.ok(ok, `${name}: ${JSON.stringify(detail)}`);
  done.push(name);
}

async function raises(name, ErrorType, status, call) {
  try {
    await call();
  } catch (err) {
    check(name, err instanceof ErrorType && err.status === status, [err.constructor.name, err.status, String(err)]);
    return err;
  }
  throw new Error(`${name}: no ${ErrorType.name} was thrown`);
}

// OpenAI: the base URL ends in /v1, as that SDK expects.
const oa = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: TOKEN, maxRetries: 0 });
const reply = await oa.chat.completions.create({ model: MODEL, messages: ASK, max_tokens: 16, temperature: 0 });
check("openai chat", reply.choices[0].message.content && reply.usage.completion_tokens > 0, reply);

let text = "";
let usage = null;
const chunks = await oa.chat.completions.create({
  model: MODEL, messages: ASK, max_tokens: 16, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of chunks) {
  text += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage ?? usage;
}
check("openai chat stream", text && usage?.completion_tokens > 0, { text, usage });

const vectors = await oa.embeddings.create({ model: MODEL, input: ["hello world", "goodbye"] });
check("openai embeddings",
  vectors.data.length === 2 && vectors.data[0].embedding.length > 0 && vectors.usage.prompt_tokens > 0,
  vectors.usage);

const ids = [];
for await (const model of oa.models.list()) ids.push(model.id);
check("openai models.list", ids.includes(MODEL), ids);
// Every listed id comes back from retrieve, one with a `/` in it too (the SDK sends it as %2F).
const found = [];
for (const id of ids) found.push(await oa.models.retrieve(id));
check("openai models.retrieve",
  found.every((m, i) => m.id === ids[i]) && found[ids.indexOf(MODEL)].owned_by === MODEL.split(":")[0],
  found);
await raises("openai models.retrieve unknown", OpenAI.NotFoundError, 404,
  () => oa.models.retrieve("nobody:none"));

await raises("openai unknown model", OpenAI.NotFoundError, 404,
  () => oa.chat.completions.create({ model: "nobody:none", messages: ASK }));
const stranger = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: "not-a-modelgate-token", maxRetries: 0 });
await raises("openai bad token", OpenAI.AuthenticationError, 401,
  () => stranger.chat.completions.create({ model: MODEL, messages: ASK }));
if (LIMITED) {
  const err = await raises("openai upstream 429", OpenAI.RateLimitError, 429,
    () => oa.chat.completions.create({ model: LIMITED, messages: ASK }));
  check("openai upstream 429 retry-after", err.headers.get("retry-after") === "7", [...err.headers]);
}

// Anthropic: the base URL is the origin; the SDK adds /v1/messages.
async function anthropicChecks(label, Sdk, expectHeader) {
  const sent = [];
  const recording = (url, init) => {
    sent.push(new Headers(init?.headers));
    return fetch(url, init);
  };
  const an = new Sdk({ baseURL: BASE, apiKey: TOKEN, maxRetries: 0, fetch: recording });
  const message = await an.messages.create({ model: MODEL, max_tokens: 16, temperature: 0, messages: ASK });
  check(`${label} messages`,
    message.content[0].text && message.usage.input_tokens > 0 && message.usage.output_tokens > 0, message);
  const auth = sent[0];
  check(`${label} sends ${expectHeader}`,
    expectHeader === "x-api-key"
      ? auth.get("x-api-key") === TOKEN && !auth.has("authorization")
      : auth.get("authorization") === `Bearer ${TOKEN}` && !auth.has("x-api-key"),
    [...auth.keys()]);

  const stream = an.messages.stream({ model: MODEL, max_tokens: 16, temperature: 0, messages: ASK });
  let streamed = "";
  stream.on("text", (delta) => { streamed += delta; });
  const final = await stream.finalMessage();
  check(`${label} messages stream`, streamed && final.usage.output_tokens > 0 && final.stop_reason, { streamed, final });

  const listed = [];
  for await (const model of an.models.list()) listed.push(model.id);
  check(`${label} models.list`, listed.includes(MODEL), listed);
  // One a page: the SDK follows has_more and last_id (as after_id) to the end.
  const paged = [];
  for await (const model of an.models.list({ limit: 1 })) paged.push(model.id);
  check(`${label} models.list pages`, JSON.stringify(paged) === JSON.stringify(listed), { paged, listed });
  const models = [];
  for (const id of listed) models.push(await an.models.retrieve(id));
  check(`${label} models.retrieve`,
    models.every((m, i) => m.id === listed[i] && m.type === "model"), models);
  await raises(`${label} models.retrieve unknown`, Sdk.NotFoundError, 404,
    () => an.models.retrieve("nobody:none"));

  await raises(`${label} unknown model`, Sdk.NotFoundError, 404,
    () => an.messages.create({ model: "nobody:none", max_tokens: 16, messages: ASK }));
  const outsider = new Sdk({ baseURL: BASE, apiKey: "not-a-modelgate-token", maxRetries: 0 });
  await raises(`${label} bad token`, Sdk.AuthenticationError, 401,
    () => outsider.messages.create({ model: MODEL, max_tokens: 16, messages: ASK }));
  if (LIMITED) {
    await raises(`${label} upstream 429`, Sdk.RateLimitError, 429,
      () => an.messages.create({ model: LIMITED, max_tokens: 16, messages: ASK }));
  }
}

await anthropicChecks("anthropic", Anthropic, "authorization");
await anthropicChecks("anthropic 0.x", Anthropic0, "x-api-key");

const version = async (name) => (await import(`${name}/version.js`)).VERSION;
console.log(JSON.stringify({
  sdk: "js",
  openai: await version("openai"),
  anthropic: await version("@anthropic-ai/sdk"),
  anthropic0: await version("anthropic-sdk-0"),
  checks: done.sort(),
}));
