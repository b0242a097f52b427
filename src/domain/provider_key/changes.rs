//! Changes to a stored key: a PATCH of its fields, a rotation of its value, or both at once.

use super::{
    Input, ProviderKey, RotateProviderKey, SecretInput, StoredValue, UpdateProviderKey, Violations,
    key_routing, secret,
};
use crate::secrets::{CryptoError, MasterKey};
use ulid::Ulid;

/// A parsed key PATCH.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderKeyChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
    pub weight: Option<Option<f64>>,
    pub models: Option<Vec<String>>,
}

impl ProviderKeyChanges {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(
        input: impl Into<Input<UpdateProviderKey>>,
    ) -> Result<ProviderKeyChanges, Violations> {
        let (input, mut v) = input.into().checked();
        let (weight, models) = key_routing::parse_changes(&mut v, input.weight, input.models);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(ProviderKeyChanges {
            name: input.name.flatten(),
            description: input.description,
            metadata: input.metadata,
            weight,
            models,
        })
    }

    pub fn apply(&self, current: &ProviderKey, now_ms: u64, by: &str) -> Option<ProviderKey> {
        let mut next = current.clone();
        self.assign(&mut next);
        (next != *current).then(|| touched(next, current, now_ms, by))
    }

    /// As [`ProviderKeyChanges::apply`], with a rotation's new value (sealed for the key) in
    /// the same version: Bifrost's PUT states the value beside the rest.
    pub fn apply_rotated(
        &self,
        rotation: Option<(&Rotation, &StoredValue)>,
        current: &ProviderKey,
        now_ms: u64,
        by: &str,
    ) -> Option<ProviderKey> {
        let Some((rotation, value)) = rotation else {
            return self.apply(current, now_ms, by);
        };
        let mut next = rotation.apply(value, current, now_ms, by);
        self.assign(&mut next);
        Some(next)
    }

    fn assign(&self, next: &mut ProviderKey) {
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(description) = &self.description {
            next.description.clone_from(description);
        }
        if let Some(metadata) = &self.metadata {
            next.metadata.clone_from(metadata);
        }
        if let Some(weight) = self.weight {
            next.routing.weight = weight;
        }
        if let Some(models) = &self.models {
            next.routing.models.clone_from(models);
        }
    }
}

/// A parsed rotation: a new secret (and name) for the same key id.
pub struct Rotation {
    pub name: String,
    pub secret: SecretInput,
}

impl Rotation {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(input: impl Into<Input<RotateProviderKey>>) -> Result<Rotation, Violations> {
        let (mut input, mut v) = input.into().checked();
        let secret = secret(&mut v, input.value.take());
        match (input.name, secret) {
            (Some(name), Some(secret)) if v.is_empty() => Ok(Rotation { name, secret }),
            _ => Err(v),
        }
    }

    /// The new value as stored for key `id`: sealed once, before the transaction, so a
    /// retried transaction does no crypto.
    pub fn seal(&self, master: &MasterKey, id: Ulid) -> Result<StoredValue, CryptoError> {
        self.secret.store(master, id)
    }

    /// A rotation always changes the record: even the same value is sealed afresh.
    pub fn apply(
        &self,
        value: &StoredValue,
        current: &ProviderKey,
        now_ms: u64,
        by: &str,
    ) -> ProviderKey {
        let mut next = current.clone();
        next.name.clone_from(&self.name);
        next.value = value.clone();
        next.key_redacted = self.secret.redacted();
        touched(next, current, now_ms, by)
    }
}

fn touched(mut next: ProviderKey, current: &ProviderKey, now_ms: u64, by: &str) -> ProviderKey {
    next.updated_at_ms = now_ms.max(current.updated_at_ms);
    next.last_updated_by = by.to_owned();
    next.version = current.version + 1;
    next
}
