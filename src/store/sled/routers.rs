//! What an access key configuration's router keeps in step, inside the transactions that write
//! it: the provider keys it names exist (as keys of the rule's provider), the keys its steps
//! create are inserted with it, and `key_rules` (key id → the configurations naming it) follows
//! every change, so a key's delete learns who names it without a scan. A record written before
//! routers existed decodes as one without a router.

use std::collections::HashSet;

use serde::Deserialize;
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use ulid::Ulid;

use super::codec::{decode, encode};
use super::engine::{TxResult, failed, insert_key, reject};
use crate::domain::{AccessKeyConfiguration, AccessScope, ProviderKey, Router, Violations, now_ms};
use crate::store::{Rejection, StoreError};

/// A configuration as stored before routers: the same fields, without the last.
#[derive(Deserialize)]
struct Unrouted {
    id: Ulid,
    name: String,
    description: Option<String>,
    metadata: Option<String>,
    access: Option<AccessScope>,
    created_at_ms: u64,
    updated_at_ms: u64,
    created_by: String,
    last_updated_by: String,
    version: u64,
}

/// A configuration record of either shape. postcard is not self-describing: a record without
/// the trailing router ends before it, which only the current shape's read notices.
pub(super) fn decode_configuration(
    key: &[u8],
    bytes: &[u8],
) -> Result<AccessKeyConfiguration, StoreError> {
    decode(key, bytes).or_else(|first| match decode::<Unrouted>(key, bytes) {
        Ok(u) => Ok(AccessKeyConfiguration {
            id: u.id,
            name: u.name,
            description: u.description,
            metadata: u.metadata,
            access: u.access,
            created_at_ms: u.created_at_ms,
            updated_at_ms: u.updated_at_ms,
            created_by: u.created_by,
            last_updated_by: u.last_updated_by,
            version: u.version,
            router: None,
        }),
        Err(_) => Err(first),
    })
}

fn ids_of(bytes: Option<sled::IVec>) -> Vec<Ulid> {
    bytes.map_or_else(Vec::new, |b| {
        b.chunks_exact(16)
            .map(|c| Ulid::from_bytes(c.try_into().unwrap_or_default()))
            .collect()
    })
}

pub(super) fn set_ids(
    tree: &TransactionalTree,
    key: Ulid,
    ids: &[Ulid],
) -> Result<(), UnabortableTransactionError> {
    if ids.is_empty() {
        tree.remove(&key.to_bytes()[..])?;
    } else {
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_bytes()).collect();
        tree.insert(&key.to_bytes()[..], bytes)?;
    }
    Ok(())
}

/// The configurations whose routers name `key`.
pub(super) fn naming(tree: &TransactionalTree, key: Ulid) -> TxResult<Vec<Ulid>> {
    Ok(ids_of(tree.get(key.to_bytes())?))
}

/// The trees a router's write touches, inside one transaction.
pub(super) struct RouterTrees<'t> {
    pub(super) keys: &'t TransactionalTree,
    pub(super) keys_by_provider: &'t TransactionalTree,
    pub(super) key_counts: &'t TransactionalTree,
    pub(super) providers: &'t TransactionalTree,
    pub(super) key_rules: &'t TransactionalTree,
}

impl RouterTrees<'_> {
    /// Writes `new_keys`, checks every other key `next` names, and moves configuration `id`'s
    /// index entries from the keys of `before` to those of `next`.
    pub(super) fn write(
        &self,
        id: Ulid,
        before: Option<&Router>,
        next: Option<&Router>,
        new_keys: &[ProviderKey],
    ) -> TxResult<()> {
        let created: HashSet<Ulid> = new_keys.iter().map(|k| k.id).collect();
        if let Some(router) = next {
            self.check(router, &created)?;
        }
        for key in new_keys {
            self.insert_key(key)?;
        }
        let old = before.map(Router::key_ids).unwrap_or_default();
        let new = next.map(Router::key_ids).unwrap_or_default();
        for key in old.difference(&new) {
            let mut ids = naming(self.key_rules, *key)?;
            ids.retain(|c| *c != id);
            set_ids(self.key_rules, *key, &ids)?;
        }
        for key in new.difference(&old) {
            let mut ids = naming(self.key_rules, *key)?;
            if let Err(at) = ids.binary_search(&id) {
                ids.insert(at, id);
            }
            set_ids(self.key_rules, *key, &ids)?;
        }
        Ok(())
    }

    /// Every key the router names that it does not create exists, as its rule's provider's.
    fn check(&self, router: &Router, created: &HashSet<Ulid>) -> TxResult<()> {
        let mut v = Violations::default();
        for (i, rule) in router.rules.iter().enumerate() {
            for (j, step) in rule.steps.iter().enumerate() {
                for (k, key) in step.keys.iter().enumerate() {
                    if created.contains(&key.id) {
                        continue;
                    }
                    let owner = match self.keys.get(key.id.to_bytes())? {
                        Some(bytes) => {
                            let record: ProviderKey =
                                decode(&key.id.to_bytes(), &bytes).map_err(failed)?;
                            Some(record.provider_id.as_str().to_owned())
                        }
                        None => None,
                    };
                    if owner.as_deref() != Some(rule.slug.as_str()) {
                        v.add(
                            format!("router.rules[{i}].steps[{j}].keys[{k}].id"),
                            format!("names no provider key of provider `{}`", rule.slug),
                        );
                    }
                }
            }
        }
        match v.is_empty() {
            true => Ok(()),
            false => reject(Rejection::Invalid(v)),
        }
    }

    fn insert_key(&self, key: &ProviderKey) -> TxResult<()> {
        let slug = key.provider_id.as_str();
        let custom = !crate::domain::catalog::is_reserved_provider_id(slug);
        if custom && self.providers.get(slug.as_bytes())?.is_none() {
            return reject(Rejection::UnknownProvider(slug.to_owned()));
        }
        insert_key(self.keys, self.keys_by_provider, self.key_counts, key)
    }
}

/// Takes the keys `gone` (being deleted in the same transaction) out of every router naming
/// them, and their index entries out of `key_rules`; answers the configurations changed, each
/// at its next version and last updated `by` the credential deleting the keys.
pub(super) fn prune(
    configurations: &TransactionalTree,
    key_rules: &TransactionalTree,
    gone: &HashSet<Ulid>,
    by: &str,
) -> TxResult<Vec<AccessKeyConfiguration>> {
    let mut named: Vec<Ulid> = Vec::new();
    for key in gone {
        for c in naming(key_rules, *key)? {
            if !named.contains(&c) {
                named.push(c);
            }
        }
        key_rules.remove(&key.to_bytes()[..])?;
    }
    let mut changed = Vec::with_capacity(named.len());
    for id in named {
        let key = id.to_bytes();
        let Some(bytes) = configurations.get(key)? else {
            continue;
        };
        let mut c = decode_configuration(&key, &bytes).map_err(failed)?;
        let Some(router) = c.router.as_ref().and_then(|r| r.without(gone)) else {
            continue;
        };
        c.router = Some(router);
        c.version += 1;
        c.updated_at_ms = now_ms().max(c.updated_at_ms);
        by.clone_into(&mut c.last_updated_by);
        configurations.insert(&key[..], encode(&c).map_err(failed)?.as_slice())?;
        changed.push(c);
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;
    use crate::domain::{
        NewAccessKeyConfiguration, NewProviderKey, ProviderSlug, RouterRule, RouterStep,
        SecretInput, StepKey,
    };
    use crate::secrets::MasterKey;
    use crate::store::sled::SledStore;
    use crate::store::{AccessKeyConfigurationStore, KeyStore};

    #[derive(Serialize)]
    struct Before<'a>(
        Ulid,
        &'a str,
        Option<String>,
        Option<String>,
        Option<AccessScope>,
        u64,
        u64,
        &'a str,
        &'a str,
        u64,
    );

    #[test]
    fn a_record_written_before_routers_reads_as_one_without_rules() {
        let id = Ulid::new();
        let old = Before(id, "old", None, None, None, 1, 2, "admin", "admin", 3);
        let bytes = encode(&old).unwrap();
        let c = decode_configuration(&id.to_bytes(), &bytes).unwrap();
        assert_eq!((c.name.as_str(), c.version, c.router), ("old", 3, None));
        assert!(decode_configuration(&id.to_bytes(), &bytes[..4]).is_err());
    }

    fn key(master: &MasterKey) -> ProviderKey {
        NewProviderKey {
            provider_id: ProviderSlug::parse_shape("openai").unwrap(),
            name: "k".into(),
            secret: SecretInput::Env("OPENAI_API_KEY".into()),
            description: None,
            metadata: None,
            routing: Default::default(),
        }
        .into_key(master, now_ms(), "admin")
        .unwrap()
    }

    fn routed(keys: &[Ulid]) -> AccessKeyConfiguration {
        let steps = keys
            .iter()
            .map(|id| RouterStep {
                strategy: None,
                keys: vec![StepKey {
                    id: *id,
                    weight: None,
                }],
            })
            .collect();
        NewAccessKeyConfiguration {
            name: "c".into(),
            description: None,
            metadata: None,
            access: None,
            router: Some(Router {
                rules: vec![RouterRule {
                    provider: Some("openai".into()),
                    model: None,
                    slug: "openai".into(),
                    steps,
                }],
            }),
            new_keys: Vec::new(),
        }
        .into_configuration(now_ms(), "admin")
    }

    /// The index follows each write: an inline key made with its configuration, a key refused
    /// while named, a cascade pruning it, and a configuration's delete leaving no entry.
    #[actix_web::test]
    async fn the_key_index_follows_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let master = MasterKey::generate().unwrap();
        let (old, new) = (key(&master), key(&master));
        let made = store.create_key(old.clone(), false).await.unwrap().unwrap();
        made.wait().await.unwrap();
        let c = routed(&[old.id, new.id]);
        let id = c.id;
        let made = store.create_configuration(c, vec![new.clone()]);
        made.await.unwrap().unwrap().wait().await.unwrap();
        assert!(store.get_key(new.id).unwrap().is_some());
        let refused = store.delete_key(old.id, None, None).await.unwrap();
        assert_eq!(refused.err(), Some(Rejection::KeyInUse(vec![id])));
        let by = Some("deleter".to_owned());
        let pruned = store.delete_key(old.id, None, by).await.unwrap().unwrap();
        let changed = pruned.wait().await.unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].version, 2);
        assert_eq!(changed[0].last_updated_by, "deleter");
        assert_eq!(changed[0].router, routed(&[new.id]).router);
        assert_eq!(store.get_configuration(id).unwrap().unwrap(), changed[0]);
        let e = store.engine().unwrap();
        assert_eq!(e.key_rules.len(), 1);
        let gone = store.delete_configuration(id, None, false).await.unwrap();
        gone.unwrap().wait().await.unwrap();
        assert!(e.key_rules.is_empty());
        // A key of another provider is refused inside the transaction too.
        let mut other = routed(&[new.id]);
        if let Some(r) = other.router.as_mut() {
            r.rules[0].slug = "anthropic".into();
        }
        let refused = store.create_configuration(other, Vec::new()).await.unwrap();
        let Some(Rejection::Invalid(v)) = refused.err() else {
            panic!("a key of another provider was taken")
        };
        assert!(
            v.to_map()
                .contains_key("router.rules[0].steps[0].keys[0].id")
        );
    }
}
