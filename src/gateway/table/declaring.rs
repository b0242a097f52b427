//! Which providers declare one model id, kept small for the common case of one.

use std::sync::Arc;

use imbl::OrdMap;
use ulid::Ulid;

/// The providers that declare a model (under one case-folded model id), by id (ULIDs, so in
/// creation order): their `providerId`s. Most model ids have one provider, kept inline (a map
/// each would cost hundreds of bytes per model); a model many providers declare (every box of
/// a fleet serving `llama3.1:8b`) gets a persistent map, so adding the next one costs
/// O(log n), not a copy of the list.
#[derive(Clone)]
pub(super) enum Declaring {
    One(Ulid, Arc<str>),
    Many(OrdMap<Ulid, Arc<str>>),
}

impl Declaring {
    pub(super) fn with(self, id: Ulid, slug: Arc<str>) -> Declaring {
        match self {
            Declaring::One(only, _) if only == id => Declaring::One(id, slug),
            Declaring::One(only, other) => {
                Declaring::Many(OrdMap::from_iter([(only, other), (id, slug)]))
            }
            Declaring::Many(mut all) => {
                all.insert(id, slug);
                Declaring::Many(all)
            }
        }
    }

    pub(super) fn without(self, id: Ulid) -> Option<Declaring> {
        match self {
            Declaring::One(only, _) if only == id => None,
            Declaring::One(..) => Some(self),
            Declaring::Many(mut all) => {
                all.remove(&id);
                match all.len() {
                    0 => None,
                    1 => all
                        .into_iter()
                        .next()
                        .map(|(id, slug)| Declaring::One(id, slug)),
                    _ => Some(Declaring::Many(all)),
                }
            }
        }
    }

    pub(super) fn slugs(&self) -> Box<dyn Iterator<Item = &Arc<str>> + '_> {
        match self {
            Declaring::One(_, slug) => Box::new(std::iter::once(slug)),
            Declaring::Many(all) => Box::new(all.values()),
        }
    }
}
