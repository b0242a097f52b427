//! AgentStack's model matching (`POST /api/v1/model_providers/match`): each model of a
//! provider with the capability asked for, scored against the suggested names by the
//! Ratcliff–Obershelp similarity AgentStack takes from Python's `difflib`; a similarity above
//! the cutoff becomes a score from 0.5 to 1, and only scores of at least 0.5 are answered.

use std::collections::BTreeMap;

/// The similarity of two strings, as `difflib.SequenceMatcher(None, a, b).ratio()` works it
/// out for names this short (no junk heuristic: it starts at 200 characters): twice the
/// characters in matching blocks over the characters of both.
pub fn ratio(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut matched = 0;
    let mut pending = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = pending.pop() {
        let (i, j, k) = longest_match(&a, &b, alo, ahi, blo, bhi);
        if k > 0 {
            matched += k;
            if alo < i && blo < j {
                pending.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                pending.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    2.0 * matched as f64 / total as f64
}

/// The longest block of `a[alo..ahi]` equal to one of `b[blo..bhi]`; of those, the one that
/// starts first in `a`, then in `b` (as `find_longest_match`).
fn longest_match(
    a: &[char],
    b: &[char],
    alo: usize,
    ahi: usize,
    blo: usize,
    bhi: usize,
) -> (usize, usize, usize) {
    let (mut best_i, mut best_j, mut best) = (alo, blo, 0);
    let mut lengths: Vec<usize> = vec![0; bhi - blo + 1];
    for (i, ca) in a.iter().enumerate().take(ahi).skip(alo) {
        let mut next = vec![0; bhi - blo + 1];
        for (j, cb) in b.iter().enumerate().take(bhi).skip(blo) {
            if ca == cb {
                let k = lengths[j - blo] + 1;
                next[j - blo + 1] = k;
                if k > best {
                    (best_i, best_j, best) = (i + 1 - k, j + 1 - k, k);
                }
            }
        }
        lengths = next;
    }
    (best_i, best_j, best)
}

/// Each model's score against `suggested`, best first (then by name), those under 0.5 left out.
pub fn scores(models: &[String], suggested: &[String], cutoff: f64) -> Vec<(String, f64)> {
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    if !suggested.is_empty() {
        for model in models {
            let similarity = suggested
                .iter()
                .map(|s| ratio(model, s))
                .fold(0.0, f64::max);
            let score = if similarity > cutoff {
                0.5 + similarity / 2.0
            } else {
                0.0
            };
            let entry = best.entry(model).or_insert(0.0);
            *entry = entry.max(score);
        }
    }
    let mut out: Vec<(String, f64)> = best
        .into_iter()
        .filter(|(_, s)| *s >= 0.5)
        .map(|(m, s)| (m.to_owned(), (s * 100.0).round() / 100.0))
        .collect();
    out.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_difflib_s() {
        // Values Python's difflib.SequenceMatcher(None, a, b).ratio() gives.
        assert_eq!(ratio("abcd", "bcde"), 0.75);
        assert_eq!(ratio("", ""), 1.0);
        assert_eq!(ratio("abc", "xyz"), 0.0);
        assert!((ratio("gpt-4o", "gpt-4o-mini") - 12.0 / 17.0).abs() < 1e-9);
        assert_eq!(ratio("tide", "diet"), 0.25);
        assert!((ratio("a:gpt-4o", "gpt-4o") - 12.0 / 14.0).abs() < 1e-9);
    }

    #[test]
    fn scores_keep_those_above_the_cutoff_best_first() {
        let models = ["a:gpt-4o", "a:gpt-4o-mini", "a:llama3"].map(str::to_owned);
        let got = scores(&models, &["gpt-4o".to_owned()], 0.4);
        assert_eq!(got[0].0, "a:gpt-4o");
        assert!(got.iter().all(|(m, _)| m != "a:llama3"), "{got:?}");
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(scores(&models, &[], 0.4).is_empty());
    }
}
