//! AgentStack's provider `type`s in modelgate's terms: the API format each is called in, the
//! capabilities AgentStack gives it, and the surfaces those capabilities are served on.

/// Every `type` of AgentStack's `ModelProviderType`.
pub const TYPES: &[&str] = &[
    "anthropic",
    "bedrock",
    "cerebras",
    "chutes",
    "cohere",
    "deepseek",
    "gemini",
    "github",
    "groq",
    "watsonx",
    "jan",
    "mistral",
    "moonshot",
    "nvidia",
    "ollama",
    "openai",
    "openrouter",
    "perplexity",
    "together",
    "voyage",
    "rits",
    "other",
];

/// Anthropic's own API for `anthropic`; every other type AgentStack reads through an
/// OpenAI-compatible endpoint (`other` is "any OpenAI-compatible API").
pub fn format_of(kind: &str) -> &'static str {
    match kind {
        "anthropic" => "anthropic",
        _ => "openai",
    }
}

/// The capabilities AgentStack gives a type (`llm`, `embedding`).
pub fn capabilities(kind: &str) -> &'static [&'static str] {
    match kind {
        "cohere" | "gemini" | "watsonx" | "mistral" | "ollama" | "openai" | "rits" | "other" => {
            &["llm", "embedding"]
        }
        "voyage" => &["embedding"],
        "bedrock" => &[],
        _ => &["llm"],
    }
}

/// The surfaces a type's capabilities are served on, as `supportedApiSurfaces` entries
/// (`format`, `surface`); a format alone stands for all of its surfaces.
pub fn surfaces(kind: &str) -> Vec<(&'static str, Option<&'static str>)> {
    let format = format_of(kind);
    if format == "anthropic" {
        return vec![(format, None)];
    }
    let caps = capabilities(kind);
    let mut out = Vec::new();
    if caps.contains(&"llm") {
        out.extend([
            (format, Some("chat-completions")),
            (format, Some("completions")),
            (format, Some("responses")),
        ]);
    }
    if caps.contains(&"embedding") {
        out.push((format, Some("embeddings")));
    }
    out
}

/// The type a provider written elsewhere is shown as: its own when AgentStack wrote it, else
/// `anthropic` for an Anthropic-format one and `other` (OpenAI-compatible) for the rest.
pub fn shown(stored: Option<&str>, format: &str) -> &'static str {
    if let Some(kind) = stored.and_then(|k| TYPES.iter().find(|t| **t == k)) {
        return kind;
    }
    match format {
        "anthropic" => "anthropic",
        _ => "other",
    }
}

/// A 128-bit id as a UUID's text (8-4-4-4-12 lower-case hex).
pub fn uuid(id: ulid::Ulid) -> String {
    let hex = hex::encode(id.to_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A UUID's text (hyphenated or not, any case) as the 128-bit id it writes.
pub fn from_uuid(text: &str) -> Option<ulid::Ulid> {
    let plain: String = match text.len() {
        36 => {
            let dashes = [8, 13, 18, 23];
            if !dashes.iter().all(|&i| text.as_bytes()[i] == b'-') {
                return None;
            }
            text.chars().filter(|c| *c != '-').collect()
        }
        32 => text.to_owned(),
        _ => return None,
    };
    let bytes: [u8; 16] = hex::decode(plain).ok()?.try_into().ok()?;
    Some(ulid::Ulid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_round_trips_and_malformed_ones_name_nothing() {
        let id = ulid::Ulid::new();
        let text = uuid(id);
        assert_eq!(text.len(), 36);
        assert_eq!(from_uuid(&text), Some(id));
        assert_eq!(from_uuid(&text.to_uppercase()), Some(id));
        assert_eq!(from_uuid(&text.replace('-', "")), Some(id));
        assert_eq!(from_uuid("not-a-uuid"), None);
        assert_eq!(from_uuid(&text.replace('-', "x")), None);
        assert_eq!(from_uuid(&id.to_string()), None);
    }
}
