//! An access key's spending limit (`budget`) and the UTC periods it is counted over. Money is
//! kept in integer nano-dollars, as usage events count it, so spend and limit compare exactly;
//! the API shows and takes dollars as a JSON number.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::usage::{day_of, day_start_ms};
use super::validation::rule;

/// The largest `amountUsd`: a billion dollars, far below what nano-dollars in a `u64` hold.
pub const MAX_BUDGET_USD: f64 = 1e9;
const NANOS_PER_USD: f64 = 1e9;
const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;

/// The UTC period a budget is counted over; it starts afresh at the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// A UTC day, from midnight.
    Day,
    /// A UTC calendar month, from the first day's midnight.
    Month,
}

impl BudgetPeriod {
    /// The first UTC day (counted from the epoch, as usage aggregates count days) of the
    /// period that `ms` falls in.
    pub fn first_day(self, ms: u64) -> u32 {
        let day = day_of(ms);
        match self {
            BudgetPeriod::Day => day,
            BudgetPeriod::Month => day - (day_of_month(day) - 1),
        }
    }

    /// When the period after the one `ms` falls in starts, in ms since the epoch.
    pub fn next_start_ms(self, ms: u64) -> u64 {
        let start = day_start_ms(self.first_day(ms));
        match self {
            BudgetPeriod::Day => start + DAY_MS,
            // Every month is shorter than 32 days and longer than 27.
            BudgetPeriod::Month => day_start_ms(self.first_day(start + 32 * DAY_MS)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }
}

/// The day of the month (1-31) of the UTC day `day` since the epoch: the civil calendar from
/// days (H. Hinnant's algorithm), so that no date library is needed for one number.
fn day_of_month(day: u32) -> u32 {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    (doy - (153 * mp + 2) / 5 + 1) as u32
}

/// The fixed minute `ms` falls in, as ms since the epoch of its start, and the ms to its end.
pub fn minute_of(ms: u64) -> (u64, u64) {
    let start = ms - ms % MINUTE_MS;
    (start, start + MINUTE_MS - ms)
}

/// A budget as it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub amount_nanos: u64,
    pub period: BudgetPeriod,
}

/// `budget` as the API takes it: `{amountUsd, period}`, both required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(as = AccessKeyBudgetInput, example = json!({"amountUsd": 25, "period": "month"}))]
pub struct BudgetInput {
    /// US dollars the key may spend in each period (0 to 1000000000), counted to the
    /// nano-dollar: once its usage events' `totalCost` in the period reaches it, calls are
    /// refused with 402 until the next period.
    #[validate(
        required(message = "is required"),
        custom(function = "check_amount_usd")
    )]
    #[schema(required = true, value_type = f64, minimum = 0, maximum = 1000000000)]
    pub amount_usd: Option<f64>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = BudgetPeriod)]
    pub period: Option<BudgetPeriod>,
}

fn check_amount_usd(usd: f64) -> Result<(), ValidationError> {
    rule(
        "amountUsd",
        match usd.is_finite() && (0.0..=MAX_BUDGET_USD).contains(&usd) {
            true => Ok(()),
            false => Err("must be a number of US dollars from 0 to 1000000000".into()),
        },
    )
}

impl Budget {
    /// A budget of an input its rules passed (`None` when they could not have): the amount
    /// rounded to the nano-dollar.
    pub fn of(input: BudgetInput) -> Option<Budget> {
        Some(Budget {
            amount_nanos: (input.amount_usd?.clamp(0.0, MAX_BUDGET_USD) * NANOS_PER_USD).round()
                as u64,
            period: input.period?,
        })
    }
}

/// `budget` as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AccessKeyBudget)]
pub struct BudgetView {
    /// US dollars the key may spend in each period.
    pub amount_usd: f64,
    pub period: BudgetPeriod,
}

impl From<Budget> for BudgetView {
    fn from(budget: Budget) -> BudgetView {
        BudgetView {
            amount_usd: budget.amount_nanos as f64 / NANOS_PER_USD,
            period: budget.period,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ms since the epoch of a UTC midnight, by its date.
    fn midnight(y: i32, m: u8, d: u8) -> u64 {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        (date.to_julian_day()
            - time::Date::from_calendar_date(1970, time::Month::January, 1)
                .unwrap()
                .to_julian_day()) as u64
            * DAY_MS
    }

    #[test]
    fn a_month_starts_on_its_first_utc_day_and_a_day_at_midnight() {
        for (y, m, d) in [
            (2024, 2, 29),
            (2024, 3, 1),
            (2025, 12, 31),
            (2000, 1, 1),
            (2100, 2, 28),
        ] {
            let at = midnight(y, m, d) + DAY_MS - 1;
            assert_eq!(
                u64::from(BudgetPeriod::Month.first_day(at)) * DAY_MS,
                midnight(y, m, 1),
                "{y}-{m}-{d}"
            );
            assert_eq!(
                u64::from(BudgetPeriod::Day.first_day(at)) * DAY_MS,
                midnight(y, m, d)
            );
            assert_eq!(BudgetPeriod::Day.next_start_ms(at), at + 1);
            let next = match m {
                12 => midnight(y + 1, 1, 1),
                _ => midnight(y, m + 1, 1),
            };
            assert_eq!(BudgetPeriod::Month.next_start_ms(at), next, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn dollars_are_kept_to_the_nano_dollar_and_shown_back() {
        let input = BudgetInput {
            amount_usd: Some(0.1),
            period: Some(BudgetPeriod::Day),
        };
        let kept = Budget::of(input).unwrap();
        assert_eq!(kept.amount_nanos, 100_000_000);
        assert_eq!(BudgetView::from(kept).amount_usd, 0.1);
        assert_eq!(Budget::of(BudgetInput::default()), None);
        for bad in [-0.01, 1e9 + 1.0, f64::NAN, f64::INFINITY] {
            assert!(check_amount_usd(bad).is_err(), "{bad}");
        }
        assert!(check_amount_usd(0.0).is_ok() && check_amount_usd(1e9).is_ok());
    }

    #[test]
    fn a_minute_window_is_a_fixed_minute() {
        assert_eq!(minute_of(60_000), (60_000, 60_000));
        assert_eq!(minute_of(119_999), (60_000, 1));
    }
}
