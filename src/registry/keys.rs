//! Provider-key writes. Values are sealed here, before the store sees them.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    CreateProviderKey, Input, InputError, NewProviderKey, Precondition, ProviderKey,
    ProviderKeyChanges, RotateProviderKey, Rotation, UpdateProviderKey, now_ms,
};
use crate::gateway::table::Change;
use crate::store::Cascade;

impl Registry {
    pub async fn create_key(
        &self,
        input: Input<CreateProviderKey>,
        by: &str,
    ) -> Result<ProviderKey, WriteError> {
        let new = NewProviderKey::parse(input).map_err(InputError::Invalid)?;
        let needs_provider = new.needs_custom_provider();
        let key = new.into_key(&self.master_key, now_ms(), by)?;
        self.commit(self.store.create_key(key, needs_provider), |k, table| {
            table.apply(Change::Key(k))
        })
        .await
    }

    /// Changes a key's name, description or metadata, if `precondition` allows.
    pub async fn update_key(
        &self,
        id: Ulid,
        input: Input<UpdateProviderKey>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<ProviderKey, WriteError> {
        let changes = ProviderKeyChanges::parse(input).map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &ProviderKey| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        self.commit(self.store.update_key(id, change), |k, table| {
            table.apply(Change::Key(k))
        })
        .await
    }

    /// A new secret (and name) under the same id, if `precondition` allows.
    pub async fn rotate_key(
        &self,
        id: Ulid,
        input: Input<RotateProviderKey>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<ProviderKey, WriteError> {
        let rotation = Rotation::parse(input).map_err(InputError::Invalid)?;
        let value = rotation.seal(&self.master_key, id)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &ProviderKey| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(Some(rotation.apply(&value, current, now_ms(), &by)))
        });
        self.commit(self.store.update_key(id, change), |k, table| {
            table.apply(Change::Key(k))
        })
        .await
    }

    /// Bifrost's PUT of a key: the changes, and a new value when `rotation` brings one, as one
    /// version in one write.
    pub async fn put_key(
        &self,
        id: Ulid,
        input: Input<UpdateProviderKey>,
        rotation: Option<Input<RotateProviderKey>>,
        by: &str,
    ) -> Result<ProviderKey, WriteError> {
        let changes = ProviderKeyChanges::parse(input).map_err(InputError::Invalid)?;
        let rotation = rotation
            .map(|r| Rotation::parse(r).map_err(InputError::Invalid))
            .transpose()?;
        let sealed = match &rotation {
            Some(r) => Some(r.seal(&self.master_key, id)?),
            None => None,
        };
        let by = by.to_owned();
        let change = Box::new(move |current: &ProviderKey| {
            let rotated = rotation.as_ref().zip(sealed.as_ref());
            Ok(changes.apply_rotated(rotated, current, now_ms(), &by))
        });
        self.commit(self.store.update_key(id, change), |k, table| {
            table.apply(Change::Key(k))
        })
        .await
    }

    /// Deletes the key; with `cascade`, also from every router naming it (else such a key is
    /// refused), and those configurations are published with it.
    pub async fn delete_key(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: Cascade,
    ) -> Result<(), WriteError> {
        self.commit(
            self.store.delete_key(id, precondition, cascade),
            |changed, table| {
                table.apply(Change::KeyGone(id));
                for c in changed {
                    table.apply(Change::Configuration(c));
                }
            },
        )
        .await
        .map(|_| ())
    }
}
