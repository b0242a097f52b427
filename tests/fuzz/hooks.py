"""Schemathesis hooks for tests/fuzz/run: what JSON Schema cannot say about a provider's
settings, so that a body the schema admits and the server refuses is still a failure.

An access key's `expiresAt` must be a time in the future: a positive case that sends one is
given 2099-01-01T00:00:00Z. Its `accessKeyConfigurationId` must name a configuration that
exists, and an access key configuration's `access.providers.allow` entries and its
`providerId:*` model entries a provider that exists: a positive case is given `null` for the
one and has the others taken out (negative cases are left alone). The stateful phase fills
`accessKeyConfigurationId` from links after that, with any id an answer held (an access key's
own, say), so just before a positive case is sent an id no configuration created in this run
has is replaced by `null` too. Its `router.rules` name providers and their keys, so a positive
case sends none.

`/gateway-config`'s timeouts are Go durations from 1s to 24h with `perRequestTimeout` <=
`totalTimeout` (checked against the stored value of the one not sent): a positive case that
sends one is given 1s (per request) and 24h (total), which fit any stored value.

Three rules span fields or look inside a value, and no schema keyword can express them:
`concurrency` <= `bufferSize` (a PATCH is checked against the stored record too),
`retryBackoffInitialMs` <= `retryBackoffMaxMs` (with their defaults 500 and 5000), and a
`caCertPem` that holds X.509 certificates. Positive cases are kept within them (filtered, or
given a real certificate); negative cases are left alone, as they must be refused anyway.

A model alias's rules span records: its name is unique ignoring case, is no other alias's
target or fallback, and its target and fallbacks are no alias. Just before a positive case is
sent, its `alias` is given a prefix of its own (`a<n>-`) and its `target` and `fallbacks` the
prefix `t-`, so no generated alias ever meets another's name or points at one.

A price's `model` is unique ignoring case: a positive price write has it given a prefix of its
own (`p<n>-`), so no generated price meets another's model.

A provider's test (`POST /providers/{id}/test`, `?validate=true`) calls its base URL (or its
proxy): a positive provider write has its `baseUrl` and its proxy's `url` pointed at
127.0.0.1:9, so no generated address is ever called (tests/fuzz/run's server refuses loopback
too, so most probes end at the outbound guard).
"""

import itertools

import schemathesis
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

# Where every generated provider is, and its proxy: loopback, where nothing listens.
NOWHERE = "127.0.0.1:9"

# A CA certificate made for these tests (its key was never kept).
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUEmjsg0e4yillPUFeaEJ0R00it6IwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUbW9kZWxnYXRlIGZ1enppbmcgQ0EwIBcNMjYxMTI5MTAxMDA1
WhgPMjEyNjExMDUxMDEwMDVaMB8xHTAbBgNVBAMMFG1vZGVsZ2F0ZSBmdXp6aW5n
IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfo+YB94FhQJ2sloRxRpZpx2O
FcSsjDal1rz3mQbpczDv0iQ7VGFfRLi5LJ15HO1s62D7EpHcF8iYs8HcVUMdjKNT
MFEwHQYDVR0OBBYEFC9pF3kSbtKZNz/820GxdPJAlfQTMB8GA1UdIwQYMBaAFC9p
F3kSbtKZNz/820GxdPJAlfQTMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SQAwRgIhAN4zFOQLJoxQzf1BlXTNDOD9zwizHAf27sIHuTC2i7nGAiEA4cvLoDdE
72MEaTnm8NrvTseaHlpWFA3AUjs+/VOdLf8=
-----END CERTIFICATE-----
"""

schemathesis.openapi.format("pem-certificates", st.just(CA_PEM))

PROVIDER_WRITES = {("POST", "/providers"), ("PATCH", "/providers/{id}")}
GATEWAY_CONFIG_WRITE = ("PATCH", "/gateway-config")
ACCESS_KEY_WRITES = {("POST", "/access-keys"), ("PATCH", "/access-keys/{id}")}
CONFIGURATION_WRITES = {
    ("POST", "/access-key-configurations"),
    ("PATCH", "/access-key-configurations/{id}"),
}
ALIAS_WRITES = {("POST", "/model-aliases"), ("PATCH", "/model-aliases/{id}")}
# Each positive alias write's own prefix for its name (see the module's docstring).
ALIAS_NUMBERS = itertools.count()
PRICE_WRITES = {("POST", "/prices"), ("PATCH", "/prices/{id}")}
PRICE_NUMBERS = itertools.count()
# The longest model string.
MODEL_CHARS = 255
# An access key's `expiresAt` must be in the future when written, which no schema can say.
FUTURE = "2099-01-01T00:00:00Z"


def _positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


def _is_write(ctx):
    op = ctx.operation
    return op is not None and (op.method.upper(), op.path) in PROVIDER_WRITES


def _int(value):
    """A whole number as the server reads one: JSON Schema's integers include `2.0`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return float(value).is_integer()


def _queue_ok(body, patch):
    c, b = body.get("concurrency"), body.get("bufferSize")
    if patch:
        # The stored record is unknown here: a PATCH sends both or neither.
        if "concurrency" not in body and "bufferSize" not in body:
            return True
        if c is None and b is None:
            return "concurrency" in body and "bufferSize" in body
        return _int(c) and _int(b) and c <= b
    if _int(b) and not _int(c):
        return False
    return not (_int(b) and _int(c) and b < c)


def _backoff_ok(body):
    network = body.get("network")
    if not isinstance(network, dict):
        return True
    initial = network.get("retryBackoffInitialMs")
    most = network.get("retryBackoffMaxMs")
    initial = initial if _int(initial) else 500
    most = most if _int(most) else 5000
    return initial <= most


def _password_ok(body):
    proxy = body.get("proxy")
    # `********` keeps a stored password, which a generated record may not have.
    return not (isinstance(proxy, dict) and proxy.get("password") == "********")


@schemathesis.hook
def filter_case(ctx, case):
    if not _is_write(ctx) or not _positive(case) or not isinstance(case.body, dict):
        return True
    patch = ctx.operation.method.upper() == "PATCH"
    return _queue_ok(case.body, patch) and _backoff_ok(case.body) and _password_ok(case.body)


def _is_gateway_config_write(ctx):
    op = ctx.operation
    return op is not None and (op.method.upper(), op.path) == GATEWAY_CONFIG_WRITE


def _known_providers_only(access):
    """Entries that must name a registered provider, which a generated one does not."""
    providers = access.get("providers")
    if isinstance(providers, dict) and isinstance(providers.get("allow"), list):
        providers["allow"] = []
    models = access.get("models")
    if isinstance(models, dict) and isinstance(models.get("allow"), list):
        models["allow"] = [
            m for m in models["allow"] if not (isinstance(m, str) and m.endswith(":*"))
        ]


@schemathesis.hook
def map_case(ctx, case):
    op = ctx.operation
    if (
        op is not None
        and (op.method.upper(), op.path) in ACCESS_KEY_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("expiresAt"), str)
    ):
        case.body["expiresAt"] = FUTURE
    if (
        op is not None
        and (op.method.upper(), op.path) in ACCESS_KEY_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("accessKeyConfigurationId"), str)
    ):
        case.body["accessKeyConfigurationId"] = None
    if (
        op is not None
        and (op.method.upper(), op.path) in CONFIGURATION_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("access"), dict)
    ):
        _known_providers_only(case.body["access"])
    if (
        op is not None
        and (op.method.upper(), op.path) in CONFIGURATION_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("router"), dict)
    ):
        # A rule names a provider and keys of it that exist, or none: no rules.
        case.body["router"]["rules"] = []
    if _is_gateway_config_write(ctx) and _positive(case) and isinstance(case.body, dict):
        for field, value in (("perRequestTimeout", "1s"), ("totalTimeout", "24h")):
            if field in case.body:
                case.body[field] = value
    if _is_write(ctx) and _positive(case) and isinstance(case.body, dict):
        network = case.body.get("network")
        if isinstance(network, dict) and isinstance(network.get("caCertPem"), str):
            network["caCertPem"] = CA_PEM
        _nowhere(case.body)
    return case


def _nowhere(body):
    """The provider's base URL and proxy, kept on loopback (see the module's docstring)."""
    if isinstance(body.get("baseUrl"), str):
        scheme = body["baseUrl"].split(":", 1)[0].lower()
        body["baseUrl"] = f"{scheme}://{NOWHERE}/v1"
    proxy = body.get("proxy")
    if isinstance(proxy, dict) and isinstance(proxy.get("url"), str):
        scheme = proxy["url"].split(":", 1)[0].lower()
        proxy["url"] = f"{scheme}://{NOWHERE}"


# Configurations created in this run and not deleted since: the ids a linked
# `accessKeyConfigurationId` may keep.
CONFIGURATIONS = set()


@schemathesis.hook
def after_call(ctx, case, response):
    op = ctx.operation
    if op is None:
        return
    key = (op.method.upper(), op.path)
    if key == ("POST", "/access-key-configurations") and response.status_code == 201:
        try:
            CONFIGURATIONS.add(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            pass
    elif key == ("DELETE", "/access-key-configurations/{id}") and response.status_code < 300:
        CONFIGURATIONS.discard((case.path_parameters or {}).get("id"))


def _aliases_apart(body):
    """An alias's name made its own, its target and fallbacks kept apart from every name."""
    if isinstance(body.get("alias"), str):
        body["alias"] = f"a{next(ALIAS_NUMBERS)}-{body['alias']}"[:MODEL_CHARS]
    if isinstance(body.get("target"), str):
        body["target"] = f"t-{body['target']}"[:MODEL_CHARS]
    if isinstance(body.get("fallbacks"), list):
        body["fallbacks"] = [
            f"t-{f}"[:MODEL_CHARS] if isinstance(f, str) else f for f in body["fallbacks"]
        ]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    op = ctx.operation
    if (
        op is not None
        and (op.method.upper(), op.path) in ALIAS_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
    ):
        _aliases_apart(case.body)
    # The examples phase sends bodies map_case never saw: the same future `expiresAt` here.
    if (
        op is not None
        and (op.method.upper(), op.path) in ACCESS_KEY_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("expiresAt"), str)
    ):
        case.body["expiresAt"] = FUTURE
    if (
        op is not None
        and (op.method.upper(), op.path) in PRICE_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("model"), str)
    ):
        case.body["model"] = f"p{next(PRICE_NUMBERS)}-{case.body['model']}"[:MODEL_CHARS]
    if (
        op is not None
        and (op.method.upper(), op.path) in ACCESS_KEY_WRITES
        and _positive(case)
        and isinstance(case.body, dict)
        and isinstance(case.body.get("accessKeyConfigurationId"), str)
        and case.body["accessKeyConfigurationId"] not in CONFIGURATIONS
    ):
        case.body["accessKeyConfigurationId"] = None
