// The provider form's "Advanced" section: modelgate's own provider settings (network, proxy,
// queue, keyless, path overrides, private network). Each control maps to one API field; an
// empty control means "not set", which a PATCH sends as null.

import { h, field, input } from "./dom.js";

const NUMBERS = [
  ["network.requestTimeoutSeconds", "Request timeout (seconds)", "Per attempt, 1-3600. Empty: the gateway's."],
  ["network.streamIdleTimeoutSeconds", "Stream idle timeout (seconds)", "Longest quiet in a stream, 1-3600. Default 60."],
  ["network.maxRetries", "Retries of the same key", "After a 5xx, 408, timeout or connection error, 0-10. Default 0."],
  ["network.retryBackoffInitialMs", "First retry wait (ms)", "Doubles per retry, jittered. Default 500."],
  ["network.retryBackoffMaxMs", "Longest retry wait (ms)", "Default 5000."],
  ["concurrency", "Concurrency", "Most calls in flight at once, 1-10000."],
  ["bufferSize", "Buffer size", "Calls in flight plus waiting; beyond it callers get 429 at once."],
];

/** A number as typed: digits become a number, anything else goes as typed for the server to name. */
function number(text) {
  const t = text.trim();
  if (t === "") return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** Lines of "key<sep>value" as an object ("Name: value" headers, "surface = /path" overrides). */
function pairs(text, sep) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf(sep);
    if (at < 0) out[line.trim()] = "";
    else out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

const nonEmpty = (o) => (o && Object.keys(o).length ? o : null);

/** The section for `original` (null when creating): its element and how to read it. */
export function advanced(original) {
  const net = original?.network ?? {};
  const controls = {};
  const fields = NUMBERS.map(([path, label, hint]) => {
    const [first, second] = path.split(".");
    const value = second ? net[second] : original?.[first];
    controls[path] = input(path, value ?? "", { inputmode: "numeric", autocomplete: "off" });
    return field(`f-${path.replace(".", "-")}`, label, controls[path], hint);
  });
  const headers = h("textarea", { rows: 3, spellcheck: "false" });
  headers.dataset.path = "network.extraHeaders";
  headers.value = Object.entries(net.extraHeaders ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  const ca = h("textarea", { rows: 4, spellcheck: "false", placeholder: "-----BEGIN CERTIFICATE-----" });
  ca.dataset.path = "network.caCertPem";
  ca.value = net.caCertPem ?? "";
  const check = (path, on) => {
    const el = h("input", { type: "checkbox" });
    el.dataset.path = path;
    el.checked = Boolean(on);
    return el;
  };
  const insecure = check("network.insecureSkipVerify", net.insecureSkipVerify);
  const keyless = check("keyless", original?.keyless);
  // Three states: unset follows the gateway's outbound.allow_private_networks.
  const privateNet = h("select", {},
    h("option", { value: "" }, "inherit (the gateway's setting)"),
    h("option", { value: "true" }, "allow"),
    h("option", { value: "false" }, "refuse"));
  privateNet.dataset.path = "allowPrivateNetwork";
  privateNet.value = original?.allowPrivateNetwork === undefined || original?.allowPrivateNetwork === null
    ? "" : String(original.allowPrivateNetwork);
  const proxy = original?.proxy;
  const proxyType = h("select", {},
    ["", "none", "http", "socks5", "environment"].map((t) => h("option", { value: t }, t || "(not set)")));
  proxyType.dataset.path = "proxy.type";
  proxyType.value = proxy?.type ?? "";
  const proxyUrl = input("proxy.url", proxy?.url, { type: "url", spellcheck: "false", placeholder: "http://proxy.lan:3128" });
  const proxyUser = input("proxy.username", proxy?.username, { autocomplete: "off" });
  const proxyPass = h("input", { type: "password", autocomplete: "new-password",
    placeholder: proxy?.password ? "stored; type to replace" : "" });
  proxyPass.dataset.path = "proxy.password";
  const overrides = h("textarea", { rows: 2, spellcheck: "false", placeholder: "chat-completions = /api/chat" });
  overrides.dataset.path = "requestPathOverrides";
  overrides.value = Object.entries(original?.requestPathOverrides ?? {}).map(([k, v]) => `${k} = ${v}`).join("\n");

  const set = Boolean(original && ["network", "proxy", "concurrency", "bufferSize", "keyless",
    "requestPathOverrides", "allowPrivateNetwork"].some((k) => k in original));
  const element = h("details", { class: "advanced", id: "advanced", open: set },
    h("summary", {}, "Advanced"),
    h("p", { class: "hint" }, "How modelgate calls this provider. Empty fields are not set."),
    h("h3", {}, "Timeouts and retries"), ...fields.slice(0, 5),
    h("h3", {}, "Requests"),
    field("f-extra-headers", "Extra headers", headers, "One \"Name: value\" per line; authorization belongs in provider keys; a credential's value (api-key, *-token, *-key, *-secret) is sealed and shown as ********, which keeps it."),
    field("f-overrides", "Path overrides", overrides, "One \"surface = /path\" per line, for servers that mount an API elsewhere."),
    field("f-keyless", "Call without a key", keyless, "Even when the provider has keys (local servers)."),
    h("h3", {}, "Queue"), ...fields.slice(5),
    h("h3", {}, "TLS and network"),
    field("f-ca", "Trusted CA certificates (PEM)", ca, "Besides the public roots, for a server with its own CA."),
    field("f-insecure", "Skip certificate checks", insecure, "For testing only: anyone on the path could read the traffic."),
    field("f-private", "Private network", privateNet, "Loopback and private addresses: allow overrides outbound.allow_private_networks = false, refuse blocks them even when the gateway allows them."),
    h("h3", {}, "Proxy"),
    field("f-proxy-type", "Proxy type", proxyType, "environment follows HTTPS_PROXY and NO_PROXY; none never uses one."),
    field("f-proxy-url", "Proxy URL", proxyUrl),
    field("f-proxy-user", "Proxy user", proxyUser),
    field("f-proxy-pass", "Proxy password", proxyPass, "Write-only; left empty, the stored one stays."));

  /** The settings as the API's JSON: null for each one not set. */
  const value = () => {
    const network = {};
    for (const [path] of NUMBERS.slice(0, 5)) {
      const v = number(controls[path].value);
      if (v !== null) network[path.split(".")[1]] = v;
    }
    const extra = nonEmpty(pairs(headers.value, ":"));
    if (extra) network.extraHeaders = extra;
    if (ca.value.trim()) network.caCertPem = ca.value;
    if (insecure.checked) network.insecureSkipVerify = true;
    let proxyValue = null;
    if (proxyType.value) {
      proxyValue = { type: proxyType.value };
      if (proxyUrl.value.trim()) proxyValue.url = proxyUrl.value.trim();
      if (proxyUser.value) proxyValue.username = proxyUser.value;
      if (proxyPass.value) proxyValue.password = proxyPass.value;
      else if (proxy?.password) proxyValue.password = proxy.password; // the redaction keeps it
    }
    return {
      network: nonEmpty(network),
      proxy: proxyValue,
      concurrency: number(controls.concurrency.value),
      bufferSize: number(controls.bufferSize.value),
      keyless: keyless.checked ? true : null,
      requestPathOverrides: nonEmpty(pairs(overrides.value, "=")),
      allowPrivateNetwork: privateNet.value === "" ? null : privateNet.value === "true",
    };
  };
  return { element, value };
}

/** A stored provider's settings in the shape `value()` gives, to send only what changed. */
export function storedAdvanced(p) {
  const orNull = (v) => (v === undefined ? null : v);
  return {
    network: orNull(p.network),
    proxy: orNull(p.proxy),
    concurrency: orNull(p.concurrency),
    bufferSize: orNull(p.bufferSize),
    keyless: p.keyless ? true : null,
    requestPathOverrides: orNull(p.requestPathOverrides),
    allowPrivateNetwork: p.allowPrivateNetwork ?? null,
  };
}
