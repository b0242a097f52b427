//! An access key's `budget` and `tokensPerMinute`, checked before a call's first attempt
//! against what `gateway::meter::spend` counted in memory. Both are known only from calls
//! that ended, so a call that crosses either is not cut: the limit stops the calls after it.

use std::time::Duration;

use crate::auth::Identity;
use crate::domain::budget::minute_of;
use crate::domain::usage::show_cost;
use crate::gateway::error::{Code, GatewayError};
use crate::gateway::meter::spend::Spend;
use crate::http::rfc3339;

/// Refuses a call of a key that spent its budget for the period (402) or used its tokens for
/// the minute (429, with the wait until the next minute).
pub(super) fn within_quota(
    spend: &Spend,
    identity: &Identity,
    now_ms: u64,
) -> Result<(), GatewayError> {
    let key = identity.id.as_str();
    if let Some(budget) = identity.budget {
        let spent = spend.spent(key, budget.period, now_ms);
        if spent >= budget.amount_nanos {
            return Err(GatewayError::new(
                Code::InsufficientQuota,
                format!(
                    "this access key's budget of {} USD per UTC {} is spent ({} USD so far); \
                     its calls pass again from {}",
                    show_cost(budget.amount_nanos),
                    budget.period.name(),
                    show_cost(spent),
                    rfc3339(budget.period.next_start_ms(now_ms)),
                ),
            ));
        }
    }
    if let Some(limit) = identity.tokens_per_minute {
        let used = spend.minute_tokens(key, now_ms);
        if used >= u64::from(limit) {
            let mut error = GatewayError::new(
                Code::TokensPerMinuteExceeded,
                format!(
                    "this access key may use {limit} tokens per minute and its calls of this \
                     minute used {used}; retry later"
                ),
            );
            error.retry_after = Some(Duration::from_millis(minute_of(now_ms).1));
            return Err(error);
        }
    }
    Ok(())
}
