// The official JS SDKs against providers of the other format, through modelgate's translation:
// @anthropic-ai/sdk (both its generations) to a provider that serves OpenAI chat completions
// only, and openai to one that serves Anthropic messages only, streamed and not. Run by
// tests/e2e/translate.rs with the same variables as translate_check.py (MG_BASE, MG_TOKEN,
// MG_OPENAI_ONLY, optional MG_ANTHROPIC_ONLY and MG_EXACT_REPLY). The last line printed is a
// JSON summary the test reads.

import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import Anthropic0 from "anthropic-sdk-0";
import OpenAI from "openai";

const {
  MG_BASE: BASE, MG_TOKEN: TOKEN, MG_OPENAI_ONLY: OPENAI_ONLY, MG_ANTHROPIC_ONLY: ANTHROPIC_ONLY,
  MG_EXACT_REPLY: EXACT,
} = process.env;
const SYSTEM = "Be brief.";
const ASK = [{ role: "user", content: "Count from one to five." }];
// The mock counts one token a word of the system prompt and the messages.
const PROMPT_WORDS = SYSTEM.split(" ").length + ASK[0].content.split(" ").length;
const done = [];

function check(name, ok, detail) {
  assert.ok(ok, `${name}: ${JSON.stringify(detail)}`);
  done.push(name);
}

// The mock's reply with the mock's own counts; from a real server, any reply with counts.
function exact(text, prompt, completion) {
  if (!EXACT) return Boolean(text) && prompt > 0 && completion > 0;
  return text === EXACT && prompt === PROMPT_WORDS && completion === EXACT.split(" ").length;
}

async function anthropicChecks(label, Sdk) {
  const an = new Sdk({ baseURL: BASE, apiKey: TOKEN, maxRetries: 0 });
  const ask = { model: OPENAI_ONLY, max_tokens: 16, system: SYSTEM, messages: ASK };
  const message = await an.messages.create(ask);
  const text = message.content.filter((b) => b.type === "text").map((b) => b.text).join("");
  check(`${label} messages to an openai-only provider`,
    message.model === OPENAI_ONLY && ["end_turn", "max_tokens"].includes(message.stop_reason)
      && exact(text, message.usage.input_tokens, message.usage.output_tokens), message);
  const stream = an.messages.stream(ask);
  let streamed = "";
  stream.on("text", (delta) => { streamed += delta; });
  const final = await stream.finalMessage();
  check(`${label} messages stream to an openai-only provider`,
    exact(streamed, final.usage.input_tokens, final.usage.output_tokens), { streamed, final });
}

await anthropicChecks("anthropic", Anthropic);
await anthropicChecks("anthropic 0.x", Anthropic0);

if (ANTHROPIC_ONLY) {
  const oa = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: TOKEN, maxRetries: 0 });
  const messages = [{ role: "system", content: SYSTEM }, ...ASK];
  const reply = await oa.chat.completions.create({ model: ANTHROPIC_ONLY, messages, max_tokens: 16 });
  check("openai chat to an anthropic-only provider",
    reply.model === ANTHROPIC_ONLY && reply.choices[0].finish_reason === "stop"
      && exact(reply.choices[0].message.content, reply.usage.prompt_tokens, reply.usage.completion_tokens),
    reply);
  let text = "";
  let usage = null;
  let finish = null;
  const chunks = await oa.chat.completions.create({
    model: ANTHROPIC_ONLY, messages, max_tokens: 16, stream: true, stream_options: { include_usage: true },
  });
  for await (const chunk of chunks) {
    text += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  check("openai chat stream to an anthropic-only provider",
    usage && finish === "stop" && exact(text, usage.prompt_tokens, usage.completion_tokens),
    { text, usage, finish });
}

console.log(JSON.stringify({ sdk: "js", checks: done.sort() }));
