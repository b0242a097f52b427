// The official JS SDKs against providers of the other format, through modelgate's translation:
// @anthropic-ai/sdk (both its generations) to a provider that serves OpenAI chat completions
// only, and openai to one that serves Anthropic messages only, streamed and not. Run by
// tests/e2e/translate.rs with the same variables as translate_check.py (MG_BASE, MG_TOKEN,
// MG_OPENAI_ONLY, optional MG_ANTHROPIC_ONLY, MG_EXACT_REPLY, MG_TOOLS and MG_TOOL_ANSWER: with
// the last two, each SDK calls a tool, streamed and not, chosen by the model and named, and
// sends the result back; with MG_TOOLS alone, at a real server, the Anthropic SDKs offer the
// tools once). The last line printed is a JSON summary the test reads.

import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import Anthropic0 from "anthropic-sdk-0";
import OpenAI from "openai";

const {
  MG_BASE: BASE, MG_TOKEN: TOKEN, MG_OPENAI_ONLY: OPENAI_ONLY, MG_ANTHROPIC_ONLY: ANTHROPIC_ONLY,
  MG_EXACT_REPLY: EXACT, MG_TOOLS, MG_TOOL_ANSWER: TOOL_ANSWER,
} = process.env;
const TOOLS = JSON.parse(MG_TOOLS ?? "[]");
const TOOL_ASK = [{ role: "user", content: "What do the tools say?" }];
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

// The mock's count: a token a word of every string value (keys not counted).
function valueWords(v) {
  if (typeof v === "string") return v.split(/\s+/).filter(Boolean).length;
  if (Array.isArray(v)) return v.reduce((n, x) => n + valueWords(x), 0);
  if (v && typeof v === "object") return valueWords(Object.values(v));
  return 0;
}
const TOOL_PROMPT = valueWords(SYSTEM) + valueWords(TOOL_ASK[0].content);
// What the mock counts for a call it makes: its words before it, its name, its arguments.
const callTokens = (text, name, args) => valueWords(text) + 1 + valueWords(args);
// The mock's count of a result turn: the first turn, the call and the result with its id.
const resultPrompt = (text, id, name, args, result) =>
  TOOL_PROMPT + valueWords([text, id, name, args, id, result]);
const toolAnswer = (id, result) => TOOL_ANSWER.replace("{id}", id).replace("{result}", result);

// [label, stream, the tool the mock must call, named or not], for every combination.
function* toolCases() {
  for (const stream of [false, true]) {
    for (const choice of ["auto", "named"]) {
      yield [`${stream ? " stream" : ""} (${choice})`, stream, TOOLS[choice === "auto" ? 0 : 1],
        choice === "named"];
    }
  }
}

// Node's deep equality of plain values, as a boolean for a check.
function same(a, b) {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

const anthropicToolDefs = () =>
  TOOLS.map((t) => ({ name: t.name, description: t.description, input_schema: t.schema }));

// At a real server whose model may not call tools (llama.cpp's SmolLM2 has no tool template):
// the translated tools are taken, and the reply is a message either way.
async function anthropicToolsOffered(label, an) {
  const reply = await an.messages.create({
    model: OPENAI_ONLY, max_tokens: 16, system: SYSTEM, messages: TOOL_ASK,
    tools: anthropicToolDefs(), tool_choice: { type: "auto" },
  });
  const calls = reply.content.filter((b) => b.type === "tool_use");
  check(`${label} tools offered to an openai-only provider`,
    ["end_turn", "max_tokens", "tool_use"].includes(reply.stop_reason)
      && calls.every((c) => c.input && typeof c.input === "object") && reply.usage.input_tokens > 0,
    reply);
}

async function anthropicTools(label, an) {
  const tools = anthropicToolDefs();
  const send = (stream, ask) => {
    const body = { model: OPENAI_ONLY, max_tokens: 64, system: SYSTEM, tools, ...ask };
    // The SDK's own accumulation of `input_json_delta` into the call's `input`.
    return stream ? an.messages.stream(body).finalMessage() : an.messages.create(body);
  };
  for (const [suffix, stream, tool, named] of toolCases()) {
    const choice = named ? { type: "tool", name: tool.name } : { type: "auto" };
    const reply = await send(stream, { messages: TOOL_ASK, tool_choice: choice });
    const calls = reply.content.filter((b) => b.type === "tool_use");
    const text = reply.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    const call = calls.length === 1 ? calls[0] : null;
    check(`${label} tool call${suffix} to an openai-only provider`,
      call && call.name === tool.name && same(call.input, tool.arguments)
        && reply.stop_reason === "tool_use" && reply.model === OPENAI_ONLY
        && reply.usage.input_tokens === TOOL_PROMPT
        && reply.usage.output_tokens === callTokens(text, call.name, call.input), reply);
    // The assistant's turn as the SDK gave it, and the result for the call's id.
    const turn = [...TOOL_ASK, { role: "assistant", content: reply.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: tool.result }] }];
    const final = await send(stream, { messages: turn });
    const answer = final.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    check(`${label} tool result${suffix} to an openai-only provider`,
      answer === toolAnswer(call.id, tool.result) && final.stop_reason === "end_turn"
        && final.usage.input_tokens === resultPrompt(text, call.id, call.name, call.input, tool.result)
        && final.usage.output_tokens === valueWords(answer), final);
  }
}

async function openaiTools(oa) {
  const tools = TOOLS.map((t) => ({
    type: "function", function: { name: t.name, description: t.description, parameters: t.schema },
  }));
  const system = { role: "system", content: SYSTEM };
  const send = (stream, ask) => {
    const body = { model: ANTHROPIC_ONLY, max_tokens: 64, tools, ...ask };
    // The SDK's own accumulation of the streamed argument deltas.
    return stream
      ? oa.chat.completions.stream({ ...body, stream_options: { include_usage: true } }).finalChatCompletion()
      : oa.chat.completions.create(body);
  };
  for (const [suffix, stream, tool, named] of toolCases()) {
    const choice = named ? { type: "function", function: { name: tool.name } } : "auto";
    const reply = await send(stream, { messages: [system, ...TOOL_ASK], tool_choice: choice });
    const { message, finish_reason: finish } = reply.choices[0];
    const calls = message.tool_calls ?? [];
    const call = calls.length === 1 ? calls[0] : null;
    const args = call ? JSON.parse(call.function.arguments) : null;
    const text = message.content ?? "";
    check(`openai tool call${suffix} to an anthropic-only provider`,
      call && call.function.name === tool.name && same(args, tool.arguments)
        && finish === "tool_calls" && reply.model === ANTHROPIC_ONLY
        && reply.usage.prompt_tokens === TOOL_PROMPT
        && reply.usage.completion_tokens === callTokens(text, call.function.name, args), reply);
    // The SDK's message as it came, as OpenAI's guide sends it back, and the result.
    const turn = [system, ...TOOL_ASK, message,
      { role: "tool", tool_call_id: call.id, content: tool.result }];
    const final = await send(stream, { messages: turn });
    const answer = final.choices[0].message.content;
    check(`openai tool result${suffix} to an anthropic-only provider`,
      answer === toolAnswer(call.id, tool.result) && final.choices[0].finish_reason === "stop"
        && final.usage.prompt_tokens === resultPrompt(text, call.id, call.function.name, args, tool.result)
        && final.usage.completion_tokens === valueWords(answer), final);
  }
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
  if (TOOLS.length && EXACT) await anthropicTools(label, an);
  else if (TOOLS.length) await anthropicToolsOffered(label, an);
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
  if (TOOLS.length) await openaiTools(oa);
}

console.log(JSON.stringify({ sdk: "js", checks: done.sort() }));
