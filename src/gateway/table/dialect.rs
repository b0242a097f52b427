//! What a provider's dialect extension (`domain::extension`, Bifrost's settings) means for its
//! calls, made ready when the table takes it: whether answers carry the raw upstream request
//! and response (`send_back_raw_*`), whether usage events keep them
//! (`store_raw_request_response`), and which surfaces refuse streamed calls
//! (`allowed_requests`' `*_stream: false` beside an allowed plain kind). A provider with none
//! of these has no `Dialect` at all, so its calls check one `None`.

use std::sync::Arc;

use crate::domain::Provider;
use crate::domain::extension::Extension;
use crate::domain::surface::Surface;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dialect {
    /// `send_back_raw_request`: the body sent upstream rides back under `extra_fields`.
    pub raw_request: bool,
    /// `send_back_raw_response`: the upstream's own answer rides back under `extra_fields`.
    pub raw_response: bool,
    /// `store_raw_request_response`: both are kept on the attempt's usage event.
    pub store_raw: bool,
    /// Surfaces whose streamed calls this provider refuses.
    pub no_stream: Vec<Surface>,
}

impl Dialect {
    /// The extension's meaning for calls; `None` when it changes nothing about them.
    pub fn of(extension: &Extension) -> Option<Arc<Dialect>> {
        let dialect = Dialect {
            raw_request: extension.send_back_raw_request,
            raw_response: extension.send_back_raw_response,
            store_raw: extension.store_raw_request_response,
            no_stream: Surface::ALL
                .into_iter()
                .filter(|s| extension.no_stream.contains(s.name()))
                .collect(),
        };
        (dialect != Dialect::default()).then(|| Arc::new(dialect))
    }

    /// Whether a call on `surface` (the provider's side of it), streamed or not, is refused.
    pub fn refuses(&self, surface: Surface, streamed: bool) -> bool {
        streamed && self.no_stream.contains(&surface)
    }

    /// Whether an answer carries anything back of its attempt.
    pub fn sends_back(&self) -> bool {
        self.raw_request || self.raw_response
    }
}

impl super::Snapshot {
    /// A write of `provider` and its extension: its dialect is taken when it is newer than
    /// the one held, even if a later write of the record was published first.
    pub(super) fn extended(&mut self, provider: &Provider, extension: &Extension) {
        let id = provider.id;
        let newer = !self.gone.contains(&id)
            && self
                .dialects
                .get(&id)
                .is_none_or(|(held, _)| provider.version >= *held);
        if newer {
            self.dialects
                .insert(id, (provider.version, Dialect::of(extension)));
        }
        if self.current(id, provider.version) {
            let state = self.state_of(id);
            self.upsert_provider(provider, state);
        } else if newer
            && let Some(slug) = self.created.get(&id).cloned()
            && let Some(route) = self.routes.get(&slug).cloned()
        {
            let dialect = self.dialects.get(&id).and_then(|(_, d)| d.clone());
            self.routes.insert(slug, Arc::new(route.redialed(dialect)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_without_call_settings_has_no_dialect() {
        let mut ext = Extension {
            description: Some("about it".into()),
            ..Extension::default()
        };
        assert_eq!(Dialect::of(&ext), None);
        ext.no_stream
            .insert(Surface::ChatCompletions.name().to_owned());
        ext.no_stream.insert("not_a_surface".to_owned());
        let d = Dialect::of(&ext).expect("a refused stream is a call setting");
        assert_eq!(d.no_stream, vec![Surface::ChatCompletions]);
        assert!(d.refuses(Surface::ChatCompletions, true));
        assert!(!d.refuses(Surface::ChatCompletions, false));
        assert!(!d.refuses(Surface::Messages, true));
        assert!(!d.sends_back());
        ext.send_back_raw_response = true;
        assert!(Dialect::of(&ext).unwrap().sends_back());
    }
}
