//! Go's duration strings, as ngrok's API speaks them: read the way `time.ParseDuration` reads
//! them (`1h2m3.5s`, `300ms`, `1.5h`, `-2m`; units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`)
//! and written the way `time.Duration.String` writes them (`5m0s`, `1h0m0s`, `1.5s`, `300ms`),
//! so that a value a Go client sends comes back spelled as Go would spell it.

const NANOS_PER_UNIT: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
];

/// A Go duration string in nanoseconds, as `time.ParseDuration` reads it: a sign, then one or
/// more decimal numbers each with its unit; `0` alone needs none. Go's durations are signed
/// 64-bit nanoseconds, so beyond ±292 years is an overflow.
pub fn parse(s: &str) -> Result<i64, String> {
    let invalid = || format!("`{}` is not a Go duration", s.escape_debug());
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let overflow = || format!("`{}` is longer than a Go duration can be", s.escape_debug());
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "`{}` is not a Go duration: a number without its unit (ns, us, ms, s, m, h)",
                s.escape_debug()
            ));
        }
        let Some(&(_, scale)) = NANOS_PER_UNIT.iter().find(|(name, _)| *name == unit) else {
            return Err(format!(
                "`{}` is not a Go duration: unknown unit `{}` (ns, us, ms, s, m, h)",
                s.escape_debug(),
                unit.escape_debug()
            ));
        };
        let mut value: u64 = 0;
        for digit in whole.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                .ok_or_else(overflow)?;
        }
        value = value.checked_mul(scale).ok_or_else(overflow)?;
        // As Go does: the fraction's leading digits while they fit in 63 bits, over a
        // floating-point scale, whatever is finer than a nanosecond dropped.
        let (mut numerator, mut denominator) = (0u64, 1f64);
        for digit in fraction.bytes() {
            if numerator > (i64::MAX as u64) / 10 {
                break;
            }
            let next = numerator * 10 + u64::from(digit - b'0');
            if next > 1 << 63 {
                break;
            }
            numerator = next;
            denominator *= 10.0;
        }
        let part = (numerator as f64) * (scale as f64 / denominator);
        value = value.checked_add(part as u64).ok_or_else(overflow)?;
        total = total.checked_add(value).ok_or_else(overflow)?;
        rest = after;
    }
    let limit = if negative {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    if total > limit {
        return Err(overflow());
    }
    Ok(if negative {
        0i64.wrapping_sub_unsigned(total)
    } else {
        total as i64
    })
}

/// `nanos` as `time.Duration.String` writes it: the largest units first down to seconds with
/// a fraction (`1h0m0s`, `1.5s`), or one unit below a second (`300ms`, `1.5µs`, `7ns`).
pub fn format(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (fraction, whole) = fraction(u, prec);
        return format!("{sign}{whole}{fraction}{unit}");
    }
    let (fraction, secs) = fraction(u, 9);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, secs / 60) {
        (0, 0) => format!("{sign}{s}{fraction}s"),
        (0, _) => format!("{sign}{m}m{s}{fraction}s"),
        _ => format!("{sign}{h}h{m}m{s}{fraction}s"),
    }
}

/// The last `prec` decimal digits of `v` as a fraction without trailing zeros (empty when they
/// are all zero), and what is left above them.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let digits = v % scale;
    if digits == 0 {
        return (String::new(), v / scale);
    }
    let text = format!("{digits:0width$}", width = prec as usize);
    (format!(".{}", text.trim_end_matches('0')), v / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn reads_what_go_reads() {
        for (text, nanos) in [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4_000_000),
            ("100.00100s", 100 * S + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("300ms", 300_000_000),
            ("14s", 14 * S),
            ("15m", 15 * 60 * S),
            ("16h", 16 * 3600 * S),
            ("1.5h", 5400 * S),
            ("3h30m", (3 * 3600 + 30 * 60) * S),
            ("10.5s4m", 4 * 60 * S + 10 * S + S / 2),
            ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)),
            (
                "1h2m3s4ms5us6ns",
                3600 * S + 120 * S + 3 * S + 4_000_000 + 5_000 + 6,
            ),
            (
                "39h9m14.425s",
                39 * 3600 * S + 9 * 60 * S + 14 * S + 425_000_000,
            ),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 360 * S),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ] {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "1 s", " 1s", "1s ", "1S", "1.2.3s",
            "1sm", "\u{0}1s", "1e3s",
        ] {
            assert!(parse(text).is_err(), "{text:?} read as {:?}", parse(text));
        }
        for text in [
            "9223372036854775808ns",
            "-9223372036854775809ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "3000000h",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains("longer than"), "{text}: {err}");
        }
    }

    #[test]
    fn writes_what_go_writes() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (300_000_000, "300ms"),
            (S, "1s"),
            (S + S / 2, "1.5s"),
            (3 * S + 300_000_000, "3.3s"),
            (30 * S, "30s"),
            (60 * S, "1m0s"),
            (5 * 60 * S, "5m0s"),
            (4 * 60 * S + 5 * S, "4m5s"),
            (4 * 60 * S + 5 * S + 1_000_000, "4m5.001s"),
            (3600 * S, "1h0m0s"),
            (5 * 3600 * S + 6 * 60 * S + 7 * S + 1_000_000, "5h6m7.001s"),
            (8 * 3600 * S + 1, "8h0m0.000000001s"),
            (24 * 3600 * S, "24h0m0s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (-S, "-1s"),
        ] {
            assert_eq!(format(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn what_it_writes_reads_back_the_same() {
        for text in [
            "5m",
            "1.5h",
            "90s",
            "3600s",
            "1h2m3.5s",
            "300ms",
            "86400s",
            "1.000000001s",
        ] {
            let nanos = parse(text).unwrap();
            let written = format(nanos);
            assert_eq!(parse(&written), Ok(nanos), "{text} → {written}");
            assert_eq!(format(parse(&written).unwrap()), written);
        }
    }
}
