//! What one attempt of a model call cost, as kept for `/usage`: an event per attempt (retries
//! and attempts that got no answer included), with the token counts the upstream reported —
//! never invented — and their cost. Money is counted in integer nano-dollars, so sums over a
//! year of events are exact; it is shown as ngrok's five-place decimal string.

mod aggregate;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

pub use aggregate::{DayTotals, Group, day_of, day_start_ms};

/// Nano-dollars per unit of the fifth decimal place of a dollar.
const NANOS_PER_SHOWN_UNIT: u64 = 10_000;

/// Token counts of one attempt, as the upstream reported them. `known` is false when it
/// reported none: the counts are then 0, not guessed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Input not read from a cache (OpenAI's `prompt_tokens` minus its cached part;
    /// Anthropic's `input_tokens`).
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Part of `output` spent on reasoning, as the upstream reports it.
    pub reasoning: u64,
    pub known: bool,
}

/// Which credential went upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySource {
    /// A provider key of the registry: its id and redacted form.
    User { key_id: Ulid, redacted: String },
    /// A keyless provider, or no key got as far as a request.
    None,
}

/// One attempt, as `/usage` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// Made when the attempt ended, so ids sort by `eventTime`.
    pub id: Ulid,
    pub request_id: String,
    /// The access key's id, or the management credential's (`admin`, an API key's id).
    pub access_key_id: String,
    /// The provider's `providerId`, and its name.
    pub provider: String,
    pub provider_name: String,
    /// The upstream model id.
    pub model: String,
    /// 1-based, over the whole call.
    pub attempt_number: u32,
    pub is_final_attempt: bool,
    /// 0 when nothing answered.
    pub status_code: u16,
    pub timed_out: bool,
    pub is_error: bool,
    pub is_streaming: bool,
    /// The provider's own value (`stop`, `end_turn`, …), `client_disconnected` when the caller
    /// left, empty when none.
    pub stop_reason: String,
    pub tokens: Tokens,
    /// `None`: no price is known for the model.
    pub cost_nanos: Option<u64>,
    pub key: KeySource,
    pub latency_ms: u64,
    /// To the answer's head; `None` when nothing answered.
    pub ttfb_ms: Option<u64>,
    /// Bifrost's `store_raw_request_response`: the attempt's bodies, kept apart from the
    /// event's own record (so events written before it still read) and only when set.
    #[serde(skip)]
    pub raw: Option<Box<RawExchange>>,
}

/// The bodies of one attempt, each at most [`RAW_MOST_BYTES`]: the request as sent upstream
/// and the upstream's answer, both in the provider's format and scrubbed of the attempt's
/// credentials (which travel in headers, never kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawExchange {
    pub request: Option<String>,
    pub response: Option<String>,
}

/// The most of each body [`RawExchange`] keeps.
pub const RAW_MOST_BYTES: usize = 64 << 10;

impl RawExchange {
    /// `bytes` as kept: their text, cut at [`RAW_MOST_BYTES`] (on a character's edge) and then
    /// marked with how long the whole was; `total` is that whole's length, which may exceed
    /// what was read.
    pub fn bounded(bytes: &[u8], total: usize) -> String {
        let mut cut = bytes.len().min(RAW_MOST_BYTES);
        let text = loop {
            match std::str::from_utf8(&bytes[..cut]) {
                Ok(text) => break text.to_owned(),
                // Only the cut can split a character: step back to its start.
                Err(e) if e.error_len().is_none() => cut = e.valid_up_to(),
                Err(_) => break String::from_utf8_lossy(&bytes[..cut]).into_owned(),
            }
        };
        match total > cut {
            true => format!("{text}…[truncated: {total} bytes in all]"),
            false => text,
        }
    }
}

impl UsageEvent {
    /// When the attempt ended, in ms since the epoch.
    pub fn at_ms(&self) -> u64 {
        self.id.timestamp_ms()
    }

    pub fn access_key(&self) -> &str {
        &self.access_key_id
    }
}

/// `nanos` as ngrok writes money: dollars with five decimal places, rounded half up.
pub fn show_cost(nanos: u64) -> String {
    let units = nanos / NANOS_PER_SHOWN_UNIT + u64::from(nanos % NANOS_PER_SHOWN_UNIT >= 5_000);
    format!("{}.{:05}", units / 100_000, units % 100_000)
}

/// What `tokens` cost at `price`, in nano-dollars: each part at its own rate.
pub fn cost_of(tokens: &Tokens, price: &Price) -> u64 {
    // USD per million tokens = nano-dollars per thousandth of a token: n × rate × 1000.
    let part = |n: u64, rate: u64| n.saturating_mul(rate) / 1_000_000;
    part(tokens.input, price.input)
        .saturating_add(part(tokens.output, price.output))
        .saturating_add(part(tokens.cache_read, price.cache_read))
        .saturating_add(part(tokens.cache_write, price.cache_write))
}

/// A model's price: nano-dollars per million tokens of each kind, so that a price such as
/// $0.15 per million is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Price {
    /// From USD per million tokens; `None` when a rate is negative, not finite, or above a
    /// million dollars.
    pub fn from_usd(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Option<Price> {
        let nanos = |usd: f64| {
            (usd.is_finite() && (0.0..=1e6).contains(&usd)).then(|| (usd * 1e9).round() as u64)
        };
        Some(Price {
            input: nanos(input)?,
            output: nanos(output)?,
            cache_read: nanos(cache_read)?,
            cache_write: nanos(cache_write)?,
        })
    }
}

/// Every model's price, by `providerId:modelId` or by bare model id (the qualified one wins).
#[derive(Debug, Clone, Default)]
pub struct Prices(std::collections::HashMap<String, Price>);

impl Prices {
    pub fn new(prices: impl IntoIterator<Item = (String, Price)>) -> Prices {
        Prices(prices.into_iter().collect())
    }

    /// The price of `model` at `provider`, when one is set.
    pub fn of(&self, provider: &str, model: &str) -> Option<Price> {
        if self.0.is_empty() {
            return None;
        }
        self.0
            .get(&format!("{provider}:{model}"))
            .or_else(|| self.0.get(model))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_body_is_kept_whole_up_to_its_bound_then_cut_on_a_character_and_marked() {
        assert_eq!(RawExchange::bounded(b"{\"a\":1}", 7), "{\"a\":1}");
        let mut long = vec![b'x'; RAW_MOST_BYTES - 1];
        long.extend_from_slice("é and more".as_bytes());
        let kept = RawExchange::bounded(&long, long.len() + 100);
        assert!(kept.starts_with(&"x".repeat(RAW_MOST_BYTES - 1)));
        assert!(!kept.contains('é'), "a split character is left out whole");
        let total = long.len() + 100;
        assert!(kept.ends_with(&format!("…[truncated: {total} bytes in all]")));
    }

    #[test]
    fn cost_is_shown_with_five_places_rounded_half_up() {
        assert_eq!(show_cost(0), "0.00000");
        assert_eq!(show_cost(4_999), "0.00000");
        assert_eq!(show_cost(5_000), "0.00001");
        assert_eq!(show_cost(1_234_567_890), "1.23457");
        assert_eq!(show_cost(12_000_000_000), "12.00000");
    }

    #[test]
    fn each_kind_of_token_is_priced_at_its_own_rate() {
        // $0.15 input, $0.60 output, $0.075 cache read, $1 cache write per million.
        let price = Price::from_usd(0.15, 0.60, 0.075, 1.0).unwrap();
        let tokens = Tokens {
            input: 1_000,
            output: 500,
            cache_read: 2_000,
            cache_write: 100,
            reasoning: 200,
            known: true,
        };
        // 150 000 + 300 000 + 150 000 + 100 000 nano-dollars.
        assert_eq!(cost_of(&tokens, &price), 700_000);
        assert_eq!(show_cost(cost_of(&tokens, &price)), "0.00070");
    }

    #[test]
    fn a_qualified_price_wins_over_the_bare_one() {
        let p = |n| Price::from_usd(n, 0.0, 0.0, 0.0).unwrap();
        let prices = Prices::new([
            ("gpt-4o".to_owned(), p(1.0)),
            ("box:gpt-4o".to_owned(), p(2.0)),
        ]);
        assert_eq!(prices.of("box", "gpt-4o"), Some(p(2.0)));
        assert_eq!(prices.of("other", "gpt-4o"), Some(p(1.0)));
        assert_eq!(prices.of("box", "gpt-4o-mini"), None);
    }

    #[test]
    fn a_price_out_of_range_is_refused() {
        assert!(Price::from_usd(-1.0, 0.0, 0.0, 0.0).is_none());
        assert!(Price::from_usd(f64::NAN, 0.0, 0.0, 0.0).is_none());
        assert!(Price::from_usd(0.0, 2e6, 0.0, 0.0).is_none());
    }
}
