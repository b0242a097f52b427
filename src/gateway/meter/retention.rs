//! Old usage goes: events and daily sums older than `usage.retention_days`, and, while the
//! usage store takes more than `usage.max_mib`, its oldest day each pass. sled gives space
//! back lazily (a segment is reused once its records are gone), so a size over the bound
//! takes one day per pass rather than pruning until the file shrinks, which could empty it.

use std::sync::Weak;
use std::time::Duration;

use crate::config::UsageSettings;
use crate::domain::now_ms;
use crate::domain::usage::{day_of, day_start_ms};
use crate::store::StoreError;
use crate::store::usage::UsageStore;

/// How often retention runs; the first pass is one period after start.
pub const PASS_EVERY: Duration = Duration::from_secs(600);
const DAY_MS: u64 = 86_400_000;

/// What one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub expired: u64,
    pub for_size: u64,
}

/// One pass at `now_ms`.
pub async fn pass(
    store: &dyn UsageStore,
    settings: &UsageSettings,
    now_ms: u64,
) -> Result<Pruned, StoreError> {
    let keep_from = now_ms.saturating_sub(u64::from(settings.retention_days) * DAY_MS);
    let expired = store.prune_before(keep_from).await?;
    let mut for_size = 0;
    if settings.max_mib > 0
        && store.size_on_disk()? > settings.max_mib * 1024 * 1024
        && let Some(oldest) = store.oldest_ms()?
    {
        // The oldest day goes whole; today's never does.
        let cut = day_start_ms(day_of(oldest) + 1).min(day_start_ms(day_of(now_ms)));
        for_size = store.prune_before(cut).await?;
    }
    Ok(Pruned { expired, for_size })
}

/// Runs [`pass`] every [`PASS_EVERY`] until the store is gone.
pub async fn run(store: Weak<dyn UsageStore>, settings: UsageSettings) {
    loop {
        tokio::time::sleep(PASS_EVERY).await;
        let Some(store) = store.upgrade() else { return };
        match pass(store.as_ref(), &settings, now_ms()).await {
            Ok(Pruned { expired, for_size }) if expired + for_size > 0 => log::info!(
                "usage retention: {expired} events past {} days removed, {for_size} for \
                 usage.max_mib",
                settings.retention_days
            ),
            Ok(_) => {}
            Err(e) => log::warn!("usage retention failed: {e}"),
        }
    }
}
