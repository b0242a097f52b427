"""The official Python SDKs (openai, anthropic) against modelgate, given only its base URL.

Run by tests/e2e/main.rs with MG_BASE (modelgate's origin), MG_TOKEN (a modelgate token) and
MG_MODEL (a model modelgate routes to an upstream serving chat completions, embeddings and
Anthropic messages); MG_LIMITED_MODEL, when set, is a model whose upstream answers 429. Each
check raises on failure; the last line printed is a JSON summary the test reads.
"""

import json
import os

import anthropic
import openai

BASE, TOKEN, MODEL = os.environ["MG_BASE"], os.environ["MG_TOKEN"], os.environ["MG_MODEL"]
LIMITED = os.environ.get("MG_LIMITED_MODEL")
ASK = [{"role": "user", "content": "Count from one to five."}]
done = {}


def check(name, ok, detail):
    if not ok:
        raise AssertionError(f"{name}: {detail!r}")
    done[name] = True


def raises(name, error_type, status, call):
    try:
        call()
    except error_type as err:
        check(name, err.status_code == status, (type(err).__name__, err.status_code, str(err)))
        return err
    raise AssertionError(f"{name}: no {error_type.__name__} was raised")


# OpenAI: the base URL ends in /v1, as that SDK expects.
oa = openai.OpenAI(base_url=f"{BASE}/v1", api_key=TOKEN, max_retries=0)
reply = oa.chat.completions.create(model=MODEL, messages=ASK, max_tokens=16, temperature=0)
check(
    "openai chat",
    reply.choices[0].message.content and reply.usage.prompt_tokens > 0
    and reply.usage.completion_tokens > 0,
    reply,
)

text, usage = "", None
for chunk in oa.chat.completions.create(
    model=MODEL, messages=ASK, max_tokens=16, temperature=0, stream=True,
    stream_options={"include_usage": True},
):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage
check("openai chat stream", text and usage and usage.completion_tokens > 0, (text, usage))

vectors = oa.embeddings.create(model=MODEL, input=["hello world", "goodbye"])
check(
    "openai embeddings",
    len(vectors.data) == 2 and len(vectors.data[0].embedding) > 0
    and all(isinstance(x, float) for x in vectors.data[0].embedding)
    and vectors.usage.prompt_tokens > 0,
    vectors.usage,
)

ids = [m.id for m in oa.models.list()]
check("openai models.list", MODEL in ids, ids)
# Every listed id comes back from retrieve, one with a `/` in it too (the SDK sends it as %2F).
found = [oa.models.retrieve(i) for i in ids]
check("openai models.retrieve", [m.id for m in found] == ids
      and found[ids.index(MODEL)].owned_by == MODEL.split(":")[0], found)
raises("openai models.retrieve unknown", openai.NotFoundError, 404,
       lambda: oa.models.retrieve("nobody:none"))

raises("openai unknown model", openai.NotFoundError, 404,
       lambda: oa.chat.completions.create(model="nobody:none", messages=ASK))
stranger = openai.OpenAI(base_url=f"{BASE}/v1", api_key="not-a-modelgate-token", max_retries=0)
raises("openai bad token", openai.AuthenticationError, 401,
       lambda: stranger.chat.completions.create(model=MODEL, messages=ASK))
if LIMITED:
    err = raises("openai upstream 429", openai.RateLimitError, 429,
                 lambda: oa.chat.completions.create(model=LIMITED, messages=ASK))
    check("openai upstream 429 retry-after", err.response.headers.get("retry-after") == "7",
          dict(err.response.headers))

# Anthropic: the base URL is the origin; the SDK adds /v1/messages.
an = anthropic.Anthropic(base_url=BASE, api_key=TOKEN, max_retries=0)
message = an.messages.create(model=MODEL, max_tokens=16, messages=ASK,
                             extra_body={"temperature": 0})
check(
    "anthropic messages",
    message.content[0].text and message.usage.input_tokens > 0
    and message.usage.output_tokens > 0,
    message,
)

with an.messages.stream(model=MODEL, max_tokens=16, messages=ASK,
                        extra_body={"temperature": 0}) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
check(
    "anthropic messages stream",
    text and final.usage.output_tokens > 0 and final.stop_reason is not None,
    (text, final),
)

ids = [m.id for m in an.models.list()]
check("anthropic models.list", MODEL in ids, ids)
# One a page: the SDK follows has_more and last_id (as after_id) to the end.
paged = [m.id for m in an.models.list(limit=1)]
check("anthropic models.list pages", paged == ids, (paged, ids))
found = [an.models.retrieve(i) for i in ids]
check("anthropic models.retrieve", [m.id for m in found] == ids
      and all(m.type == "model" for m in found), found)
raises("anthropic models.retrieve unknown", anthropic.NotFoundError, 404,
       lambda: an.models.retrieve("nobody:none"))

raises("anthropic unknown model", anthropic.NotFoundError, 404,
       lambda: an.messages.create(model="nobody:none", max_tokens=16, messages=ASK))
stranger = anthropic.Anthropic(base_url=BASE, api_key="not-a-modelgate-token", max_retries=0)
raises("anthropic bad token", anthropic.AuthenticationError, 401,
       lambda: stranger.messages.create(model=MODEL, max_tokens=16, messages=ASK))
if LIMITED:
    raises("anthropic upstream 429", anthropic.RateLimitError, 429,
           lambda: an.messages.create(model=LIMITED, max_tokens=16, messages=ASK))

print(json.dumps({"sdk": "python", "openai": openai.__version__,
                  "anthropic": anthropic.__version__, "checks": sorted(done)}))
