//! Provider writes of the other dialects: the record and its [`Extension`] in one
//! transaction. The record's rules are the ngrok API's, parsed from the same bodies, so a
//! provider a dialect writes is one the ngrok API could have written.

use std::collections::BTreeMap;
use std::future::Future;

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::extension::Extension;
use crate::domain::{
    CreateError, CreateProvider, CreateProviderKey, Input, InputError, NewProvider, NewProviderKey,
    Precondition, Provider, ProviderChanges, ProviderKey, UpdateProvider, now_ms,
};
use crate::gateway::table::Change;
use crate::store::Rejection;

/// What a dialect's update does to the extension it finds.
pub type ExtensionChange = Box<dyn Fn(&Extension) -> Extension + Send + Sync>;

impl Registry {
    /// [`Registry::create_provider_checked`], with `extension` written beside the record and
    /// `key` (its `providerId` set to the provider's) as its first key, in one transaction;
    /// `check` sees the record and the key before anything is written. With
    /// `unique_base_url`, a provider with the same base URL refuses it, in that transaction.
    pub async fn create_provider_extended<C, F>(
        &self,
        input: Input<CreateProvider>,
        extension: Extension,
        key: Option<Input<CreateProviderKey>>,
        unique_base_url: bool,
        by: &str,
        check: C,
    ) -> Result<(Provider, Extension), WriteError>
    where
        C: FnOnce(Provider, Option<ProviderKey>) -> F,
        F: Future<Output = Result<(), BTreeMap<String, String>>>,
    {
        let new = NewProvider::parse(input)?;
        let provider =
            Provider::create(new, &self.master_key, now_ms(), by).map_err(|e| match e {
                CreateError::Invalid(e) => WriteError::Invalid(e),
                CreateError::Crypto(e) => WriteError::Crypto(e),
            })?;
        let key = match key {
            None => None,
            Some(mut input) => {
                input.value.provider_id = Some(provider.provider_id.as_str().to_owned());
                let new = NewProviderKey::parse(input).map_err(InputError::Invalid)?;
                Some(new.into_key(&self.master_key, now_ms(), by)?)
            }
        };
        check(provider.clone(), key.clone())
            .await
            .map_err(WriteError::Refused)?;
        self.commit(
            self.store
                .create_extended(provider, extension, key.clone(), unique_base_url),
            |(p, ext), table| {
                table.apply(Change::Extended(p, ext));
                if let Some(k) = &key {
                    table.apply(Change::Key(k));
                }
            },
        )
        .await
    }

    /// Applies the fields `input` sends and `extension` to what is stored, in one
    /// transaction. A change of the extension alone is a change of the provider: its version
    /// (and so its ETag), `updatedAt` and `lastUpdatedBy` move.
    pub async fn update_provider_extended(
        &self,
        id: Ulid,
        input: Input<UpdateProvider>,
        extension: ExtensionChange,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<(Provider, Extension), WriteError> {
        let mut changes = ProviderChanges::parse(input)?;
        changes.settings.seal(&self.master_key, id)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &Provider, ext: &Extension| {
            guard(precondition.as_ref(), &current.etag())?;
            let now = now_ms();
            let next = changes
                .apply(current, now, &by)
                .map_err(Rejection::Invalid)?;
            let next_ext = extension(ext);
            Ok(match (next, next_ext == *ext) {
                (None, true) => None,
                (Some(p), _) => Some((p, next_ext)),
                (None, false) => {
                    let mut p = current.clone();
                    p.updated_at_ms = now.max(current.updated_at_ms);
                    p.last_updated_by.clone_from(&by);
                    p.version = current.version + 1;
                    Some((p, next_ext))
                }
            })
        });
        self.commit(self.store.update_extended(id, change), |(p, ext), table| {
            table.apply(Change::Extended(p, ext))
        })
        .await
    }
}
