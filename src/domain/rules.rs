//! The numbers and patterns behind every field rule, in one place: the parsers check them and
//! the JSON Schemas of the OpenAPI document (`schema`) are built from them, so the two cannot
//! drift apart. A leaf: it imports nothing of the domain.

/// Names, model ids, parameter names, descriptions.
pub const MAX_TEXT_CHARS: usize = 255;
pub const MAX_METADATA_CHARS: usize = 4096;
pub const MAX_BASE_URL_CHARS: usize = 2048;
pub const MAX_SURFACES: usize = 32;
pub const MAX_PARAMS_PER_SURFACE: usize = 256;
pub const MAX_MODELS: usize = 1000;
pub const MAX_KEY_VALUE_CHARS: usize = 8192;
/// Entries of one `allow` list of an access key configuration's `access`.
pub const MAX_SCOPE_ENTRIES: usize = 1000;
/// Rules of one access key configuration's `router`, steps of one rule, keys of one step.
pub const MAX_ROUTER_RULES: usize = 256;
pub const MAX_ROUTER_STEPS: usize = 16;
pub const MAX_STEP_KEYS: usize = 16;
/// A model alias's `fallbacks`: as many as a call's own `models` may list.
pub const MAX_ALIAS_FALLBACKS: usize = 16;
/// A step key's `weight` under `keySelectionStrategy: weighted` (modelgate's).
pub const STEP_KEY_WEIGHT: Bounds = Bounds { min: 1, max: 1000 };

/// The inclusive bounds of a whole-number field, its one source: the request types' rules
/// name them (`range(min = "CONCURRENCY.min", max = "CONCURRENCY.max")`) and the schemas'
/// `minimum` and `maximum` are written from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

/// How long an access key's old token keeps working after a rotation (`graceSeconds`).
pub const ROTATE_GRACE_SECS: Bounds = Bounds { min: 0, max: 86400 };

/// An access key's model calls per minute (`requestsPerMinute`).
pub const REQUESTS_PER_MINUTE: Bounds = Bounds {
    min: 1,
    max: 1_000_000,
};

/// An access key's input and output tokens per minute (`tokensPerMinute`).
pub const TOKENS_PER_MINUTE: Bounds = Bounds {
    min: 1,
    max: 1_000_000_000,
};

/// A provider's own settings (`network`, `proxy`, `concurrency`, `bufferSize`).
pub const REQUEST_TIMEOUT_SECS: Bounds = Bounds { min: 1, max: 3600 };
pub const STREAM_IDLE_TIMEOUT_SECS: Bounds = Bounds { min: 1, max: 3600 };
pub const RETRIES: Bounds = Bounds { min: 0, max: 10 };
pub const RETRY_BACKOFF_MS: Bounds = Bounds {
    min: 1,
    max: 300_000,
};
pub const MAX_EXTRA_HEADERS: usize = 32;
pub const MAX_HEADER_NAME_CHARS: usize = 128;
pub const MAX_HEADER_VALUE_CHARS: usize = 4096;
pub const MAX_CA_PEM_CHARS: usize = 256 * 1024;
/// `concurrency` and `bufferSize` alike.
pub const CONCURRENCY: Bounds = Bounds {
    min: 1,
    max: 10_000,
};
pub const MAX_PROXY_PASSWORD_CHARS: usize = 1024;

/// `/gateway-config`: `perRequestTimeout` and `totalTimeout`, in seconds, as Go durations.
pub const GATEWAY_TIMEOUT_SECS: Bounds = Bounds {
    min: 1,
    max: 86_400,
};
/// `/gateway-config`: `maxInputTokens` and `maxOutputTokens`.
pub const TOKEN_CAP: Bounds = Bounds {
    min: 1,
    max: 100_000_000,
};
/// What Go's `time.ParseDuration` reads: an optional sign, then numbers each with its unit,
/// or `0` alone. `µ` is U+00B5 and `μ` U+03BC; Go takes both.
pub const GO_DURATION_PATTERN: &str =
    "^[-+]?(?:0|(?:(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:ns|us|\u{b5}s|\u{3bc}s|ms|s|m|h))+)$";
/// Header names an operator may not add: credentials belong in provider keys, and the rest
/// are the connection's own (hop-by-hop) or framing; the client names the encodings it decodes.
pub const FORBIDDEN_HEADERS: [&str; 14] = [
    "authorization",
    "accept-encoding",
    "x-api-key",
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// An HTTP field name (RFC 9110 `token`).
pub const HEADER_NAME_PATTERN: &str = "^[-!#$%&'*+.^_`|~0-9A-Za-z]+$";
/// A field value modelgate sends: visible ASCII, inner spaces and tabs, nothing at either end.
pub const HEADER_VALUE_PATTERN: &str = "^(?:[!-~](?:[\\t -~]*[!-~])?)?$";

/// A path that replaces a surface's: absolute, of URL path characters (`%` only as an escape),
/// without `.` or `..` segments, which a URL parser would fold away.
pub fn request_path_pattern() -> String {
    format!("^(?!.*/\\.{{1,2}}(?:/|$)){}", &request_path_shape()[1..])
}

/// [`request_path_pattern`] without its lookahead: the parser checks dot segments in code.
pub fn request_path_shape() -> String {
    "^(?:/(?:[-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+$".to_owned()
}

/// Unicode `White_Space` (what `char::is_whitespace` and `str::trim` use) minus the characters
/// that are also controls (`\t`-`\r`, U+0085), which [`CONTROL`] holds.
const SPACE_NOT_CONTROL: &str = r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Unicode general category Cc (what `char::is_control` uses): C0, DEL and C1, ESC included.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// Characters that show nothing (Unicode's default-ignorable code points of the Basic
/// Multilingual Plane): text made of these and white space is blank.
const INVISIBLE: &str = r"\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0";

/// The one spelling of an id: a 128-bit ULID in upper-case Crockford base 32 (its first
/// character is at most `7`, or the value would not fit in 128 bits).
pub const ULID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
pub const PROVIDER_SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*$";

/// Whether `c` shows nothing: white space, or one of [`INVISIBLE`].
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
            | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
}

/// A name: no control character anywhere, and at least one character that shows.
pub fn name_pattern() -> String {
    format!("^[^{CONTROL}]*[^{CONTROL}{SPACE_NOT_CONTROL}{INVISIBLE}][^{CONTROL}]*$")
}

/// Free text of one line's kind (descriptions): no control character.
pub fn no_control_pattern() -> String {
    format!("^[^{CONTROL}]*$")
}

/// Free-form text (metadata): anything but NUL.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

/// No white space and no control character anywhere.
pub fn model_id_pattern() -> String {
    format!("^[^{CONTROL}{SPACE_NOT_CONTROL}]+$")
}

/// One line of text with no control character and no white space at either end.
pub fn trimmed_text_pattern() -> String {
    let edge = format!("[^{CONTROL}{SPACE_NOT_CONTROL}]");
    format!("^(?:{edge}|{edge}[^{CONTROL}]*{edge})$")
}

/// A key value: no control character, no white space at either end; a value that starts with
/// `env.` names an environment variable, and one that starts with another spelling of it
/// (`ENV.`, `Env.`) is refused as a likely mistake.
pub fn key_value_pattern() -> String {
    let edge = format!("[^{CONTROL}{SPACE_NOT_CONTROL}]");
    let inner = format!("[^{CONTROL}]");
    format!(
        "^(?![Ee][Nn][Vv]\\.)(?:{edge}|{edge}{inner}*{edge})$|^env\\.[A-Za-z_][A-Za-z0-9_]{{0,{}}}$",
        MAX_TEXT_CHARS - 1
    )
}

/// The longest host name, and the longest label of one (RFC 1035).
pub const MAX_HOST_CHARS: usize = 253;
pub const MAX_LABEL_CHARS: usize = 63;

/// The base URLs the registry stores: `http(s)://host[:port][/path][?query]` where host is a
/// DNS name (labels of 1-63 letters, digits, hyphens and underscores, no hyphen at either end,
/// the last starting with a letter or `_`, at most 253 characters in all; `xn--` labels are
/// international names in their ASCII form), a dotted IPv4 address or a bracketed IPv6
/// address. `_` is no hostname character by RFC 952, but Docker and Compose name services
/// so (`my_ollama`), their DNS answers for them, and URL parsers keep it as it is. Narrower
/// than what `url` parses, so that every URL that matches means the same thing to every
/// client that reads it back. The schema's pattern: the whole-name limit is a lookahead.
pub fn base_url_pattern() -> String {
    url_pattern("https?", &name_guard(), &path_and_query())
}

/// A proxy's URL: one of `schemes` (a regex alternation), a host and an optional port, and
/// nothing after but an optional `/`.
pub fn proxy_url_pattern(schemes: &str) -> String {
    url_pattern(&format!("(?:{schemes})"), &name_guard(), "/?")
}

/// [`proxy_url_pattern`] of every proxy scheme, without the lookahead (see [`base_url_shape`]).
pub fn proxy_url_shape() -> String {
    url_pattern("(?:https?|socks5h?)", "", "/?")
}

fn name_guard() -> String {
    format!("(?=[A-Za-z0-9._-]{{1,{MAX_HOST_CHARS}}}(?![A-Za-z0-9._-]))")
}

/// [`base_url_pattern`] without its lookahead, for the `regex` crate, which has none: the
/// parser checks the whole-name limit in code ([`check_host`]).
pub fn base_url_shape() -> String {
    url_pattern("https?", "", &path_and_query())
}

/// `-` first, where a class takes it literally.
const URL_CHARS: &str = "-A-Za-z0-9._~!$&'()*+,;=:@%";

fn path_and_query() -> String {
    format!("(?:/[{URL_CHARS}/]*)?(?:\\?[{URL_CHARS}/?]*)?")
}

fn url_pattern(scheme: &str, name_guard: &str, tail: &str) -> String {
    let label = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
    let last_label = "[A-Za-z_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
    let name = format!("{name_guard}(?:{label}\\.)*{last_label}");
    let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let ipv4 = format!("(?:{octet}\\.){{3}}{octet}");
    let h16 = "[0-9A-Fa-f]{1,4}";
    let ls32 = format!("(?:{h16}:{h16}|{ipv4})");
    let ipv6 = [
        format!("(?:{h16}:){{6}}{ls32}"),
        format!("::(?:{h16}:){{5}}{ls32}"),
        format!("(?:{h16})?::(?:{h16}:){{4}}{ls32}"),
        format!("(?:(?:{h16}:){{0,1}}{h16})?::(?:{h16}:){{3}}{ls32}"),
        format!("(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}"),
        format!("(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}"),
        format!("(?:(?:{h16}:){{0,4}}{h16})?::{ls32}"),
        format!("(?:(?:{h16}:){{0,5}}{h16})?::{h16}"),
        format!("(?:(?:{h16}:){{0,6}}{h16})?::"),
    ]
    .join("|");
    let port = "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0))?";
    format!("^{scheme}://(?:{name}|{ipv4}|\\[(?:{ipv6})\\]){port}{tail}$")
}

/// The DNS rules a pattern cannot say, with the words to fix them: the whole name's length,
/// and ASCII only (an international name in its `xn--` form).
pub fn check_host(url: &str) -> Result<(), String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.starts_with('[') {
        return Ok(());
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                authority
            }
        });
    if !host.is_ascii() {
        return Err(
            "must name an international host in its ASCII form (`xn--…` punycode labels, as \
             `idn2` or a browser's address bar gives it)"
                .into(),
        );
    }
    if host.chars().count() > MAX_HOST_CHARS {
        return Err(format!(
            "must have a host name of at most {MAX_HOST_CHARS} characters (got {})",
            host.chars().count()
        ));
    }
    for label in host.split('.') {
        if label.len() > MAX_LABEL_CHARS {
            return Err(format!(
                "must have host labels of at most {MAX_LABEL_CHARS} characters (got {})",
                label.len()
            ));
        }
    }
    Ok(())
}
