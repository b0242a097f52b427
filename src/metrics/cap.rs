//! The bound on how many series the metrics hold (`metrics.max_series`). Each family's label
//! values come from a bounded set (route patterns, status codes, declared models, error codes)
//! but their product is not, so every new label set is admitted here first: past the bound it
//! is refused (the observation is not recorded) and counted in
//! `modelgate_metrics_series_dropped_total`, while the series already admitted go on counting.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::RwLock;

use prometheus::IntCounter;

pub struct Cap {
    max: usize,
    /// A hash of each admitted (family, label values): a collision only lets two label sets
    /// share one place under the bound.
    admitted: RwLock<HashSet<u64>>,
    refused: IntCounter,
}

impl Cap {
    pub fn new(max: usize, refused: IntCounter) -> Cap {
        Cap {
            max,
            admitted: RwLock::new(HashSet::new()),
            refused,
        }
    }

    /// Whether `family{labels}` may be recorded: already admitted, or there is room for it.
    pub fn admit(&self, family: &str, labels: &[&str]) -> bool {
        let mut hasher = DefaultHasher::new();
        family.hash(&mut hasher);
        labels.hash(&mut hasher);
        let key = hasher.finish();
        let read = self.admitted.read().unwrap_or_else(|e| e.into_inner());
        if read.contains(&key) {
            return true;
        }
        drop(read);
        let mut admitted = self.admitted.write().unwrap_or_else(|e| e.into_inner());
        if admitted.contains(&key) {
            return true;
        }
        if admitted.len() >= self.max {
            drop(admitted);
            self.refused.inc();
            return false;
        }
        admitted.insert(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_new_label_sets_are_refused_and_counted_but_old_ones_go_on() {
        let refused = IntCounter::new("refused", "refused").unwrap();
        let cap = Cap::new(2, refused.clone());
        assert!(cap.admit("a", &["x", "y"]));
        assert!(cap.admit("b", &["x", "y"]), "another family is another set");
        assert!(!cap.admit("a", &["x", "z"]));
        assert!(
            !cap.admit("a", &["xy", ""]),
            "values are told apart, not joined"
        );
        assert!(cap.admit("a", &["x", "y"]));
        assert_eq!(refused.get(), 2);
    }
}
