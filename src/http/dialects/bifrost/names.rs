//! Bifrost's provider names and request types in modelgate's terms: the API format a named
//! provider speaks and its default base URL, and which surface each `allowed_requests` flag
//! (and `request_path_overrides` key) stands for.

use crate::domain::settings::MODELS_PATH;

/// A provider Bifrost knows by name that modelgate can call: the format it speaks and, where
/// its public API has one fixed address, that address.
pub struct Known {
    pub format: &'static str,
    pub base_url: Option<&'static str>,
}

/// Bifrost's names of providers that speak OpenAI's or Anthropic's API. The others (bedrock,
/// vertex, azure, cohere, elevenlabs, …) speak APIs of their own, which modelgate does not.
pub fn known(name: &str) -> Option<Known> {
    let (format, base_url) = match name {
        "openai" => ("openai", Some("https://api.openai.com/v1")),
        "anthropic" => ("anthropic", Some("https://api.anthropic.com/v1")),
        "groq" => ("openai", Some("https://api.groq.com/openai/v1")),
        "mistral" => ("openai", Some("https://api.mistral.ai/v1")),
        "cerebras" => ("openai", Some("https://api.cerebras.ai/v1")),
        "perplexity" => ("openai", Some("https://api.perplexity.ai")),
        "fireworks" => ("openai", Some("https://api.fireworks.ai/inference/v1")),
        "openrouter" => ("openai", Some("https://openrouter.ai/api/v1")),
        "xai" => ("openai", Some("https://api.x.ai/v1")),
        "gemini" => (
            "openai",
            Some("https://generativelanguage.googleapis.com/v1beta/openai"),
        ),
        "ollama" => ("openai", Some("http://localhost:11434/v1")),
        "vllm" | "sgl" | "nebius" | "parasail" | "huggingface" => ("openai", None),
        _ => return None,
    };
    Some(Known { format, base_url })
}

/// Bifrost's names of providers whose API modelgate does not speak.
pub const FOREIGN: &[&str] = &[
    "azure",
    "bedrock",
    "cohere",
    "vertex",
    "replicate",
    "elevenlabs",
    "runway",
];

/// Every `allowed_requests` flag, in the order Bifrost documents them.
pub const REQUEST_TYPES: &[&str] = &[
    "list_models",
    "text_completion",
    "text_completion_stream",
    "chat_completion",
    "chat_completion_stream",
    "responses",
    "responses_stream",
    "count_tokens",
    "embedding",
    "speech",
    "speech_stream",
    "transcription",
    "transcription_stream",
    "image_generation",
    "image_generation_stream",
    "batch_create",
    "batch_list",
    "batch_retrieve",
    "batch_cancel",
    "batch_results",
    "file_upload",
    "file_list",
    "file_retrieve",
    "file_delete",
    "file_content",
];

/// The surface a plain request type is served on, for a provider of `format`; `None` for a
/// request type modelgate has no surface for.
pub fn surface_of(request: &str, format: &str) -> Option<&'static str> {
    Some(match (request, format) {
        ("chat_completion", "anthropic") => "messages",
        ("count_tokens", "anthropic") => "count-tokens",
        ("chat_completion", "openai") => "chat-completions",
        ("text_completion", "openai") => "completions",
        ("responses", "openai") => "responses",
        ("embedding", "openai") => "embeddings",
        _ => return None,
    })
}

/// The request type of a surface, for a provider of `format` (the inverse of [`surface_of`]).
pub fn request_of(surface: &str) -> Option<&'static str> {
    Some(match surface {
        "messages" | "chat-completions" => "chat_completion",
        "count-tokens" => "count_tokens",
        "completions" => "text_completion",
        "responses" => "responses",
        "embeddings" => "embedding",
        _ => return None,
    })
}

/// The `requestPathOverrides` key of a `request_path_overrides` key, for `format`.
pub fn override_key(request: &str, format: &str) -> Option<&'static str> {
    match request {
        "list_models" => Some(MODELS_PATH),
        _ => surface_of(request, format),
    }
}

/// The `request_path_overrides` key of a stored `requestPathOverrides` key.
pub fn override_request(key: &str) -> Option<&'static str> {
    match key {
        MODELS_PATH => Some("list_models"),
        _ => request_of(key),
    }
}
