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

/// Unicode `White_Space` (what `char::is_whitespace` and `str::trim` use) minus the characters
/// that are also controls (`\t`-`\r`, U+0085), which [`CONTROL`] holds.
const SPACE_NOT_CONTROL: &str = r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Unicode general category Cc (what `char::is_control` uses).
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

pub const PROVIDER_SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*$";
pub const ULID_PATTERN: &str = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$";

/// Contains one character that is not white space.
pub fn not_blank_pattern() -> String {
    format!(
        "[^{CONTROL_SPACE}{SPACE_NOT_CONTROL}]",
        CONTROL_SPACE = r"\t-\r\u0085"
    )
}

/// No white space and no control character anywhere.
pub fn model_id_pattern() -> String {
    format!("^[^{CONTROL}{SPACE_NOT_CONTROL}]+$")
}

/// A key value: no control character, no white space at either end; and a value that starts
/// with `env.` names an environment variable.
pub fn key_value_pattern() -> String {
    let edge = format!("[^{CONTROL}{SPACE_NOT_CONTROL}]");
    let inner = format!("[^{CONTROL}]");
    format!(
        "^(?!env\\.)(?:{edge}|{edge}{inner}*{edge})$|^env\\.[A-Za-z_][A-Za-z0-9_]{{0,{}}}$",
        MAX_TEXT_CHARS - 1
    )
}

/// The base URLs the registry stores: `http(s)://host[:port][/path][?query]` where host is a
/// DNS-style name whose last label starts with a letter, a dotted IPv4 address or a bracketed
/// IPv6 address. Narrower than what `url` parses, so that every URL that matches also means
/// the same thing to every client that reads it back.
pub fn base_url_pattern() -> String {
    let label = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*";
    let last_label = "[A-Za-z](?:[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)?";
    let name = format!("(?:{label}\\.)*{last_label}");
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
    // `-` first, where a class takes it literally.
    let chars = "-A-Za-z0-9._~!$&'()*+,;=:@%";
    format!(
        "^https?://(?:{name}|{ipv4}|\\[(?:{ipv6})\\]){port}(?:/[{chars}/]*)?(?:\\?[{chars}/?]*)?$"
    )
}
