//! The wire formats and API surfaces modelgate speaks on the data plane, and which of them a
//! provider serves.

use super::ApiSurface;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    OpenAi,
    Anthropic,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "openai" => Some(Format::OpenAi),
            "anthropic" => Some(Format::Anthropic),
            _ => None,
        }
    }
}

/// An endpoint family of a format; the request path picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    ChatCompletions,
    Completions,
    Responses,
    Embeddings,
    Messages,
    CountTokens,
}

impl Surface {
    pub const ALL: [Surface; 6] = [
        Surface::ChatCompletions,
        Surface::Completions,
        Surface::Responses,
        Surface::Embeddings,
        Surface::Messages,
        Surface::CountTokens,
    ];

    /// The name `supportedApiSurfaces` uses (the catalog's).
    pub fn name(self) -> &'static str {
        match self {
            Surface::ChatCompletions => "chat-completions",
            Surface::Completions => "completions",
            Surface::Responses => "responses",
            Surface::Embeddings => "embeddings",
            Surface::Messages => "messages",
            Surface::CountTokens => "count-tokens",
        }
    }

    pub fn format(self) -> Format {
        match self {
            Surface::Messages | Surface::CountTokens => Format::Anthropic,
            _ => Format::OpenAi,
        }
    }

    /// The field that caps a call's output tokens, set when `/gateway-config` has
    /// `maxOutputTokens` and the call sends no cap of its own; `None` for surfaces that
    /// generate no text.
    pub fn output_cap_field(self) -> Option<&'static str> {
        match self {
            Surface::ChatCompletions | Surface::Completions | Surface::Messages => {
                Some("max_tokens")
            }
            Surface::Responses => Some("max_output_tokens"),
            Surface::Embeddings | Surface::CountTokens => None,
        }
    }

    /// The path below a provider's versioned base URL (`…/v1`).
    pub fn path(self) -> &'static str {
        match self {
            Surface::ChatCompletions => "/chat/completions",
            Surface::Completions => "/completions",
            Surface::Responses => "/responses",
            Surface::Embeddings => "/embeddings",
            Surface::Messages => "/messages",
            Surface::CountTokens => "/messages/count_tokens",
        }
    }

    /// Whether a provider that declares `declared` serves this surface. One that declares
    /// none serves every surface of its format, and its format is then OpenAI's (`format`
    /// says otherwise only for catalog providers, which declare nothing).
    pub fn served_by(self, declared: &[ApiSurface], format: Format) -> bool {
        if declared.is_empty() {
            return self.format() == format;
        }
        declared.iter().any(|s| {
            s.format == self.format().name()
                && s.surface.as_deref().is_none_or(|name| name == self.name())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::api_format;

    fn declared(pairs: &[(&str, Option<&str>)]) -> Vec<ApiSurface> {
        pairs
            .iter()
            .map(|(f, s)| ApiSurface {
                format: (*f).to_owned(),
                surface: s.map(str::to_owned),
                supported_params: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn every_surface_is_one_the_catalog_names_for_its_format() {
        for s in Surface::ALL {
            let format = api_format(s.format().name()).unwrap();
            assert!(format.surfaces.contains(&s.name()), "{s:?}");
        }
    }

    #[test]
    fn a_provider_serves_what_it_declares_or_its_whole_format() {
        let none = declared(&[]);
        assert!(Surface::Embeddings.served_by(&none, Format::OpenAi));
        assert!(!Surface::Messages.served_by(&none, Format::OpenAi));
        assert!(Surface::Messages.served_by(&none, Format::Anthropic));
        let both = declared(&[("openai", Some("chat-completions")), ("anthropic", None)]);
        assert!(Surface::ChatCompletions.served_by(&both, Format::OpenAi));
        assert!(!Surface::Embeddings.served_by(&both, Format::OpenAi));
        assert!(Surface::CountTokens.served_by(&both, Format::OpenAi));
    }
}
