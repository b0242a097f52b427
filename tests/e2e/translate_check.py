"""The official Python SDKs against providers of the other format, through modelgate's
translation: the Anthropic SDK to a provider that serves OpenAI chat completions only, and the
OpenAI SDK to one that serves Anthropic messages only, streamed and not.

Run by tests/e2e/translate.rs with MG_BASE, MG_TOKEN, MG_OPENAI_ONLY (a model whose provider
serves chat completions only) and, optionally, MG_ANTHROPIC_ONLY (a model whose provider serves
messages only). With MG_EXACT_REPLY set, the upstream is the mock: its reply and its counts (one
token a word) are known, and the usage the SDK reads must be exactly the upstream's. The last
line printed is a JSON summary the test reads.
"""

import json
import os

import anthropic
import openai

BASE, TOKEN = os.environ["MG_BASE"], os.environ["MG_TOKEN"]
OPENAI_ONLY = os.environ["MG_OPENAI_ONLY"]
ANTHROPIC_ONLY = os.environ.get("MG_ANTHROPIC_ONLY")
EXACT = os.environ.get("MG_EXACT_REPLY")
SYSTEM, ASK = "Be brief.", [{"role": "user", "content": "Count from one to five."}]
# The mock counts one token a word of the system prompt and the messages.
PROMPT_WORDS = len(SYSTEM.split()) + len(ASK[0]["content"].split())
done = {}


def check(name, ok, detail):
    if not ok:
        raise AssertionError(f"{name}: {detail!r}")
    done[name] = True


def exact(text, prompt, completion):
    """Whether a reply is the mock's, with the mock's own counts (always, for a real server)."""
    if not EXACT:
        return bool(text) and prompt > 0 and completion > 0
    return text == EXACT and prompt == PROMPT_WORDS and completion == len(EXACT.split())


ac = anthropic.Anthropic(base_url=BASE, api_key=TOKEN, max_retries=0)
reply = ac.messages.create(
    model=OPENAI_ONLY, max_tokens=16, system=SYSTEM, messages=ASK
)
text = "".join(b.text for b in reply.content if b.type == "text")
check(
    "anthropic messages to an openai-only provider",
    reply.model == OPENAI_ONLY and reply.stop_reason in ("end_turn", "max_tokens")
    and exact(text, reply.usage.input_tokens, reply.usage.output_tokens),
    reply,
)

with ac.messages.stream(
    model=OPENAI_ONLY, max_tokens=16, system=SYSTEM, messages=ASK
) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
check(
    "anthropic messages stream to an openai-only provider",
    exact(text, final.usage.input_tokens, final.usage.output_tokens)
    and final.stop_reason in ("end_turn", "max_tokens"),
    (text, final),
)

if ANTHROPIC_ONLY:
    oa = openai.OpenAI(base_url=f"{BASE}/v1", api_key=TOKEN, max_retries=0)
    messages = [{"role": "system", "content": SYSTEM}, *ASK]
    reply = oa.chat.completions.create(model=ANTHROPIC_ONLY, messages=messages, max_tokens=16)
    check(
        "openai chat to an anthropic-only provider",
        reply.model == ANTHROPIC_ONLY and reply.choices[0].finish_reason == "stop"
        and exact(reply.choices[0].message.content, reply.usage.prompt_tokens,
                  reply.usage.completion_tokens),
        reply,
    )
    text, usage, finish = "", None, None
    for chunk in oa.chat.completions.create(
        model=ANTHROPIC_ONLY, messages=messages, max_tokens=16, stream=True,
        stream_options={"include_usage": True},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    check(
        "openai chat stream to an anthropic-only provider",
        usage and finish == "stop" and exact(text, usage.prompt_tokens, usage.completion_tokens),
        (text, usage, finish),
    )

print(json.dumps({"checks": sorted(done)}))
