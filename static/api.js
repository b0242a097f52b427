// The API client: the session's token, relative URLs (so the page works under a reverse
// proxy's sub-path), and errors as ApiError with the server's field details.

const TOKEN_KEY = "modelgate.token";
let token = sessionStorage.getItem(TOKEN_KEY);
let unauthorized = () => {};

export const hasToken = () => Boolean(token);
export function setToken(value) {
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}
/** What to do when the server stops accepting the token. */
export function onUnauthorized(fn) { unauthorized = fn; }

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.msg) || `The server answered HTTP ${status}.`);
    this.status = status;
    this.code = body && body.errorCode;
    this.details = (body && body.details) || {};
  }
}

/**
 * A URI from the API as a URL relative to the page. The server prefixes `public_url` when set
 * and answers a bare path when not; either way what follows the page's own directory is kept,
 * so a proxy's sub-path stays in front of it.
 */
export function relative(uri) {
  const url = new URL(uri, location.href);
  const base = location.pathname.replace(/[^/]*$/, "");
  const path = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : url.pathname.replace(/^\/+/, "");
  return path + url.search;
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Calls the API with the session's token. `path` is relative ("providers"). A 401 ends the session. */
export async function api(method, path, { body, etag, auth = token } = {}) {
  const headers = { Authorization: `Bearer ${auth}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-Match"] = etag;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { msg: "The server could not be reached. Is modelgate running?" });
  }
  const data = res.status === 204 || res.status === 304 ? null : await res.json().catch(() => null);
  if (res.status === 401 && auth === token && token) unauthorized("Your token was not accepted any more. Sign in again.");
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, etag: res.headers.get("ETag") };
}

/** Every item of a paged list (up to `max`), following nextPageUri. */
export async function all(path, key, max = 1000) {
  const items = [];
  let next = path;
  while (next && items.length < max) {
    const { data } = await api("GET", next);
    items.push(...data[key]);
    next = data.nextPageUri ? relative(data.nextPageUri) : null;
  }
  return items;
}
