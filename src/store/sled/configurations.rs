//! Access key configurations: a tree of records by id (`by_id`). A delete learns how many
//! access keys a configuration scopes from `configuration_uses` inside its transaction, and
//! which they are from `keys_by_configuration`, scanned before it (a transaction cannot scan):
//! when the two disagree a key was scoped or unscoped in between, and the delete reads again.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::access_keys::use_entry;
use super::codec::{count_of, decode, get_in};
use super::engine::{Abort, failed, reject};
use super::{SledStore, by_id};
use crate::domain::{AccessKey, AccessKeyConfiguration, Precondition};
use crate::store::{
    AccessKeyConfigurationStore, Deleted, Page, Rejection, StoreError, UpdateFn, Write,
};

impl AccessKeyConfigurationStore for SledStore {
    fn create_configuration(&self, c: AccessKeyConfiguration) -> Write<AccessKeyConfiguration> {
        self.write(move |e| by_id::insert(e, &e.configurations, c.id, c))
    }

    fn get_configuration(&self, id: Ulid) -> Result<Option<AccessKeyConfiguration>, StoreError> {
        get_in(&self.engine()?.configurations, id)
    }

    fn list_configurations(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKeyConfiguration>, StoreError> {
        by_id::page(&self.engine()?.configurations, before, limit)
    }

    fn all_configurations(&self) -> Result<Vec<AccessKeyConfiguration>, StoreError> {
        by_id::all(&self.engine()?.configurations)
    }

    fn update_configuration(
        &self,
        id: Ulid,
        change: UpdateFn<AccessKeyConfiguration>,
    ) -> Write<AccessKeyConfiguration> {
        self.write(move |e| e.update_in(&e.configurations, id, &change))
    }

    fn delete_configuration(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: bool,
    ) -> Write<Deleted> {
        self.write(move |e| {
            let key = id.to_bytes();
            loop {
                let users: Vec<Ulid> = match cascade {
                    true => e
                        .keys_by_configuration
                        .scan_prefix(key)
                        .keys()
                        .map(|entry| {
                            let entry = entry?;
                            let mut user = [0u8; 16];
                            user.copy_from_slice(&entry[16..]);
                            Ok(Ulid::from_bytes(user))
                        })
                        .collect::<Result<_, StoreError>>()?,
                    false => Vec::new(),
                };
                let trees = (
                    &e.configurations,
                    &e.access_keys,
                    &e.keys_by_configuration,
                    &e.configuration_uses,
                );
                let result = trees.transaction(|(records, keys, by_configuration, counts)| {
                    let Some(bytes) = records.get(key)? else {
                        return reject(Rejection::NotFound);
                    };
                    let current: AccessKeyConfiguration = decode(&key, &bytes).map_err(failed)?;
                    if precondition
                        .as_ref()
                        .is_some_and(|p| !p.allows(&current.etag()))
                    {
                        return reject(Rejection::PreconditionFailed);
                    }
                    let count = count_of(counts.get(key)?);
                    if count > 0 && !cascade {
                        return reject(Rejection::InUse(count));
                    }
                    if count != users.len() as u64 {
                        return Err(ConflictableTransactionError::Abort(Abort::Retry));
                    }
                    let mut gone: Vec<AccessKey> = Vec::with_capacity(users.len());
                    for user in &users {
                        // Counted and each still indexed: exactly the keys it scopes now.
                        let entry = use_entry(id, *user);
                        let (Some(_), Some(bytes)) =
                            (by_configuration.get(entry)?, keys.get(user.to_bytes())?)
                        else {
                            return Err(ConflictableTransactionError::Abort(Abort::Retry));
                        };
                        gone.push(decode(&user.to_bytes(), &bytes).map_err(failed)?);
                        by_configuration.remove(&entry[..])?;
                        keys.remove(&user.to_bytes()[..])?;
                    }
                    counts.remove(&key[..])?;
                    records.remove(&key[..])?;
                    Ok(((current, gone), true))
                });
                if matches!(result, Err(TransactionError::Abort(Abort::Retry))) {
                    continue;
                }
                return e.settle(result);
            }
        })
    }
}
