//! Model discovery's read: the probe of a provider (registered or catalog), with the model
//! ids its list held. The check is kept in the provider's state as any probe's is, so a
//! background check that discovers is also the provider's probe.

use std::sync::Arc;

use super::super::Gateway;
use super::super::state::Check;
use super::Ids;

/// What a discovery's probe found: its check, and when it passed, the ids listed.
#[derive(Debug)]
pub struct Discovered {
    pub check: Check,
    /// The model ids the list held, in its order, each once; empty when the probe failed.
    pub ids: Vec<String>,
    /// The list held more than [`super::MAX_IDS`] ids, and only those are in `ids`.
    pub cut: bool,
}

impl Gateway {
    /// Probes the provider `slug` (a registered `providerId` or a catalog id) with its
    /// newest usable key, keeps the check in its state, and answers what its list held;
    /// `None` when the routing table has no such provider.
    pub async fn discover(&self, slug: &str) -> Option<Discovered> {
        let snapshot = self.snapshot();
        let route = Arc::clone(snapshot.route(slug)?);
        let keys = snapshot.keys(slug);
        let (probed, Ids { ids, cut, .. }) =
            self.probe_listing(&route, self.newest(&route, &keys)).await;
        // Kept as any probe's check is: state, breaker, history.
        self.keep(&route, &probed.check).await;
        Some(Discovered {
            check: probed.check,
            ids,
            cut,
        })
    }
}
