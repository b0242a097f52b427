//! Bifrost's routing fields of a provider key: `weight` (its share of the provider's calls
//! among the keys that may serve a model) and `models` (the model ids it may serve; none
//! listed: every model). Kept beside the key record, not in it, so the key's own encoding
//! stays as every store before them wrote it.

use serde::{Deserialize, Serialize};

use super::Violations;
use super::rules::{MAX_MODELS, MAX_TEXT_CHARS};

/// The largest `weight`: a share, not a count; anything finer than a thousandth of a unit is
/// rounded (see [`KeyRouting::shares`]), so a larger bound would only invite overflow.
pub const MAX_KEY_WEIGHT: f64 = 1000.0;

/// A key with no weight of its own counts as Bifrost's default weight, 1.
const DEFAULT_WEIGHT: f64 = 1.0;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyRouting {
    pub weight: Option<f64>,
    pub models: Vec<String>,
}

impl KeyRouting {
    pub fn is_empty(&self) -> bool {
        self.weight.is_none() && self.models.is_empty()
    }

    /// Whether the key may serve `model` (compared case-folded, as the gateway matches models).
    pub fn serves(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m.eq_ignore_ascii_case(model))
    }

    /// The weight in integral thousandths, at least 1: the weighted round robin adds and
    /// subtracts these, and integers keep its proportions exact over any number of calls.
    pub fn shares(&self) -> i64 {
        let weight = self.weight.unwrap_or(DEFAULT_WEIGHT);
        ((weight * 1000.0).round() as i64).max(1)
    }
}

/// `weight`'s rule: a finite number above 0, at most [`MAX_KEY_WEIGHT`].
pub fn check_weight(weight: f64) -> Result<f64, String> {
    if weight.is_finite() && weight > 0.0 && weight <= MAX_KEY_WEIGHT {
        Ok(weight)
    } else {
        Err(format!(
            "must be a number greater than 0 and at most {MAX_KEY_WEIGHT}"
        ))
    }
}

/// `models`' rule: at most [`MAX_MODELS`] ids of 1 to [`MAX_TEXT_CHARS`] characters, without
/// control characters or surrounding whitespace, none twice in any case.
pub fn check_models(models: Vec<String>) -> Result<Vec<String>, String> {
    if models.len() > MAX_MODELS {
        return Err(format!("must list at most {MAX_MODELS} models"));
    }
    for (i, model) in models.iter().enumerate() {
        let chars = model.chars().count();
        if chars == 0 || chars > MAX_TEXT_CHARS {
            return Err(format!(
                "entry {i} must be 1 to {MAX_TEXT_CHARS} characters"
            ));
        }
        if model.chars().any(char::is_control) || model.trim() != model {
            return Err(format!(
                "entry {i} must not contain control characters or surrounding whitespace"
            ));
        }
        if models[..i].iter().any(|m| m.eq_ignore_ascii_case(model)) {
            return Err(format!("entry {i} repeats a model listed before it"));
        }
    }
    Ok(models)
}

/// A create body's `weight` and `models`, their violations added to the body's.
pub(super) fn parse(
    v: &mut Violations,
    weight: Option<f64>,
    models: Option<Vec<String>>,
) -> KeyRouting {
    KeyRouting {
        weight: weight.and_then(|w| v.check("weight", check_weight(w))),
        models: models
            .and_then(|m| v.check("models", check_models(m)))
            .unwrap_or_default(),
    }
}

/// A PATCH body's `weight` (`null`: none) and `models` (`null`: every model).
pub(super) fn parse_changes(
    v: &mut Violations,
    weight: Option<Option<f64>>,
    models: Option<Option<Vec<String>>>,
) -> (Option<Option<f64>>, Option<Vec<String>>) {
    let weight = weight.map(|w| w.and_then(|w| v.check("weight", check_weight(w))));
    let models = models.map(|m| {
        m.and_then(|m| v.check("models", check_models(m)))
            .unwrap_or_default()
    });
    (weight, models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_without_models_serves_every_model_and_one_with_models_only_those() {
        let all = KeyRouting::default();
        assert!(all.serves("anything"));
        let some = KeyRouting {
            weight: None,
            models: vec!["gpt-4o".into()],
        };
        assert!(some.serves("GPT-4o"));
        assert!(!some.serves("gpt-4o-mini"));
    }

    #[test]
    fn shares_are_thousandths_never_below_one() {
        let of = |w| KeyRouting {
            weight: Some(w),
            models: Vec::new(),
        };
        assert_eq!(of(3.0).shares(), 3000);
        assert_eq!(of(0.0001).shares(), 1);
        assert_eq!(KeyRouting::default().shares(), 1000);
    }

    #[test]
    fn weight_and_models_refuse_what_their_rules_refuse() {
        assert!(check_weight(0.0).is_err());
        assert!(check_weight(-1.0).is_err());
        assert!(check_weight(f64::NAN).is_err());
        assert!(check_weight(MAX_KEY_WEIGHT + 1.0).is_err());
        assert_eq!(check_weight(0.5), Ok(0.5));
        assert!(check_models(vec![String::new()]).is_err());
        assert!(check_models(vec![" a".into()]).is_err());
        assert!(check_models(vec!["a".into(), "A".into()]).is_err());
        assert_eq!(check_models(vec!["a".into()]), Ok(vec!["a".into()]));
    }
}
