"""The official Python SDKs against providers of the other format, through modelgate's
translation: the Anthropic SDK to a provider that serves OpenAI chat completions only, and the
OpenAI SDK to one that serves Anthropic messages only, streamed and not.

Run by tests/e2e/translate.rs with MG_BASE, MG_TOKEN, MG_OPENAI_ONLY (a model whose provider
serves chat completions only) and, optionally, MG_ANTHROPIC_ONLY (a model whose provider serves
messages only). With MG_EXACT_REPLY set, the upstream is the mock: its reply and its counts (one
token a word) are known, and the usage the SDK reads must be exactly the upstream's. With
MG_TOOLS (the tools to offer, each with the arguments the mock will call it with and the result
to send back) and MG_TOOL_ANSWER (the mock's answer to a result, `{id}` and `{result}` in it),
each SDK also calls a tool, streamed and not, chosen by the model and named, and sends the
result back; with MG_TOOLS alone (a real server), the Anthropic SDK offers the tools once. The last line printed is a JSON summary the test reads.
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
TOOLS = json.loads(os.environ.get("MG_TOOLS", "[]"))
TOOL_ANSWER = os.environ.get("MG_TOOL_ANSWER")
TOOL_ASK = [{"role": "user", "content": "What do the tools say?"}]
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


def value_words(v):
    """The mock's count: a token a word of every string value (keys not counted)."""
    if isinstance(v, str):
        return len(v.split())
    if isinstance(v, dict):
        return sum(value_words(x) for x in v.values())
    if isinstance(v, list):
        return sum(value_words(x) for x in v)
    return 0


TOOL_PROMPT = value_words(SYSTEM) + value_words(TOOL_ASK[0]["content"])


def call_tokens(text, name, arguments):
    """What the mock counts for a call it makes: its words before it, its name, its arguments."""
    return value_words(text) + 1 + value_words(arguments)


def result_prompt(text, call_id, name, arguments, result):
    """The mock's count of a result turn: the first turn, the call (its words, id, name and
    arguments) and the result with the call's id."""
    return (TOOL_PROMPT + value_words(text) + value_words(call_id) + value_words(name)
            + value_words(arguments) + value_words(call_id) + value_words(result))


def tool_cases():
    """(label, stream, the tool the mock must call, named or not), for every combination."""
    for stream in (False, True):
        for choice in ("auto", "named"):
            tool = TOOLS[0] if choice == "auto" else TOOLS[1]
            yield (" stream" if stream else "") + f" ({choice})", stream, tool, choice == "named"


def anthropic_tool_defs():
    return [{"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
            for t in TOOLS]


def anthropic_tools_offered(ac):
    """At a real server whose model may not call tools (llama.cpp's SmolLM2 has no tool
    template): the translated tools are taken, and the reply is a message either way."""
    reply = ac.messages.create(model=OPENAI_ONLY, max_tokens=16, system=SYSTEM,
                               messages=TOOL_ASK, tools=anthropic_tool_defs(),
                               tool_choice={"type": "auto"})
    calls = [b for b in reply.content if b.type == "tool_use"]
    check(
        "anthropic tools offered to an openai-only provider",
        reply.stop_reason in ("end_turn", "max_tokens", "tool_use")
        and all(isinstance(c.input, dict) for c in calls) and reply.usage.input_tokens > 0,
        reply,
    )


def anthropic_tools(ac):
    tools = anthropic_tool_defs()

    def send(stream, **ask):
        ask = dict(model=OPENAI_ONLY, max_tokens=64, system=SYSTEM, tools=tools, **ask)
        if not stream:
            return ac.messages.create(**ask)
        # The SDK's own accumulation of `input_json_delta` into the call's `input`.
        with ac.messages.stream(**ask) as events:
            return events.get_final_message()

    for label, stream, tool, named in tool_cases():
        choice = {"type": "tool", "name": tool["name"]} if named else {"type": "auto"}
        reply = send(stream, messages=TOOL_ASK, tool_choice=choice)
        calls = [b for b in reply.content if b.type == "tool_use"]
        text = "".join(b.text for b in reply.content if b.type == "text")
        call = calls[0] if len(calls) == 1 else None
        check(
            f"anthropic tool call{label} to an openai-only provider",
            call and call.name == tool["name"] and call.input == tool["arguments"]
            and reply.stop_reason == "tool_use" and reply.model == OPENAI_ONLY
            and reply.usage.input_tokens == TOOL_PROMPT
            and reply.usage.output_tokens == call_tokens(text, call.name, call.input),
            reply,
        )
        # The assistant's turn as the SDK gave it, and the result for the call's id.
        turn = [*TOOL_ASK, {"role": "assistant", "content": reply.content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                              "content": tool["result"]}]}]
        final = send(stream, messages=turn)
        answer = "".join(b.text for b in final.content if b.type == "text")
        check(
            f"anthropic tool result{label} to an openai-only provider",
            answer == TOOL_ANSWER.format(id=call.id, result=tool["result"])
            and final.stop_reason == "end_turn"
            and final.usage.input_tokens == result_prompt(text, call.id, call.name, call.input,
                                                          tool["result"])
            and final.usage.output_tokens == value_words(answer),
            final,
        )


def openai_tools(oa):
    tools = [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                               "parameters": t["schema"]}} for t in TOOLS]
    system = {"role": "system", "content": SYSTEM}

    def send(stream, **ask):
        ask = dict(model=ANTHROPIC_ONLY, max_tokens=64, tools=tools, **ask)
        if not stream:
            return oa.chat.completions.create(**ask)
        # The SDK's own accumulation of the streamed argument deltas.
        with oa.chat.completions.stream(**ask, stream_options={"include_usage": True}) as events:
            return events.get_final_completion()

    for label, stream, tool, named in tool_cases():
        choice = {"type": "function", "function": {"name": tool["name"]}} if named else "auto"
        reply = send(stream, messages=[system, *TOOL_ASK], tool_choice=choice)
        message, finish = reply.choices[0].message, reply.choices[0].finish_reason
        calls = message.tool_calls or []
        call = calls[0] if len(calls) == 1 else None
        arguments = json.loads(call.function.arguments) if call else None
        text = message.content or ""
        check(
            f"openai tool call{label} to an anthropic-only provider",
            call and call.function.name == tool["name"] and arguments == tool["arguments"]
            and finish == "tool_calls" and reply.model == ANTHROPIC_ONLY
            and reply.usage.prompt_tokens == TOOL_PROMPT
            and reply.usage.completion_tokens == call_tokens(text, call.function.name, arguments),
            reply,
        )
        # The SDK's message as it came, as OpenAI's guide sends it back, and the result.
        turn = [system, *TOOL_ASK, message,
                {"role": "tool", "tool_call_id": call.id, "content": tool["result"]}]
        final = send(stream, messages=turn)
        answer = final.choices[0].message.content
        check(
            f"openai tool result{label} to an anthropic-only provider",
            answer == TOOL_ANSWER.format(id=call.id, result=tool["result"])
            and final.choices[0].finish_reason == "stop"
            and final.usage.prompt_tokens == result_prompt(text, call.id, call.function.name,
                                                           arguments, tool["result"])
            and final.usage.completion_tokens == value_words(answer),
            final,
        )


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
if TOOLS and EXACT:
    anthropic_tools(ac)
elif TOOLS:
    anthropic_tools_offered(ac)

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
    if TOOLS:
        openai_tools(oa)

print(json.dumps({"checks": sorted(done)}))
