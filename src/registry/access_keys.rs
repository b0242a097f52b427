//! Access key writes, as management API keys' (`api_keys`): the `mga_` token made here and
//! answered once, the digest stored, each durable write applied to the live credentials
//! before it is acknowledged — a disabled key leaves them, an enabled one returns, an expiry
//! goes with it.

use ulid::Ulid;
use zeroize::Zeroizing;

use super::{Minted, Registry, WriteError, guard, mint};
use crate::auth::{Kind, StoredCredential};
use crate::domain::{
    ACCESS_KEY_PREFIX, AccessKey, AccessKeyChanges, AccessKeyRotation, CreateAccessKey, Input,
    InputError, NewAccessKey, Precondition, PreviousToken, RotateAccessKey, UpdateAccessKey,
    now_ms,
};

/// The credential an access key is, as authentication knows it.
pub fn access_credential_of(key: &AccessKey) -> StoredCredential {
    StoredCredential {
        id: key.id,
        kind: Kind::Access,
        expires_at_ms: key.expires_at_ms,
        requests_per_minute: key.requests_per_minute,
        tokens_per_minute: key.tokens_per_minute,
        budget: key.budget,
        configuration: key.configuration,
    }
}

/// The credential a rotated-out token is until its grace ends (or the key expires, if
/// sooner).
pub fn previous_credential_of(key: &AccessKey, previous: &PreviousToken) -> StoredCredential {
    StoredCredential {
        expires_at_ms: Some(
            key.expires_at_ms
                .map_or(previous.until_ms, |at| at.min(previous.until_ms)),
        ),
        ..access_credential_of(key)
    }
}

impl Registry {
    /// Puts the key's current state into the live credentials.
    fn publish_access_key(&self, key: &AccessKey) {
        match key.enabled() {
            true => {
                self.credentials
                    .insert(key.digest, access_credential_of(key));
                if let Some(previous) = &key.previous {
                    self.credentials
                        .insert(previous.digest, previous_credential_of(key, previous));
                }
            }
            false => self.unpublish_access_key(key),
        }
    }

    pub(super) fn unpublish_access_key(&self, key: &AccessKey) {
        self.credentials.remove(&key.digest);
        if let Some(previous) = &key.previous {
            self.credentials.remove(&previous.digest);
        }
    }

    /// A new token for the key; the old one works for the grace the body asks (none by
    /// default), and a token an earlier rotation left in grace stops now.
    pub async fn rotate_access_key(
        &self,
        id: Ulid,
        input: Input<RotateAccessKey>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<(AccessKey, Zeroizing<String>), WriteError> {
        let rotation = AccessKeyRotation::parse(input).map_err(InputError::Invalid)?;
        let Minted {
            token,
            digest,
            redacted,
        } = mint(ACCESS_KEY_PREFIX)?;
        let wall_ms = self.credentials.now_ms();
        let by = by.to_owned();
        // What the key held before, read inside the transaction: the tokens that stop now.
        let replaced = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&replaced);
        let change = Box::new(move |current: &AccessKey| {
            guard(precondition.as_ref(), &current.etag())?;
            let next = rotation.apply(current, digest, &redacted, wall_ms, now_ms(), &by);
            let mut stopping: Vec<[u8; 32]> = current.previous.iter().map(|p| p.digest).collect();
            if next.previous.is_none() {
                stopping.push(current.digest);
            }
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = stopping;
            Ok(Some(next))
        });
        let _turn = self.turn().await;
        let key = self
            .commit(self.store.update_access_key(id, change), |_, _| {})
            .await?;
        for stopped in replaced.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            self.credentials.remove(stopped);
        }
        self.publish_access_key(&key);
        Ok((key, token))
    }

    pub async fn create_access_key(
        &self,
        input: Input<CreateAccessKey>,
        by: &str,
    ) -> Result<(AccessKey, Zeroizing<String>), WriteError> {
        let new =
            NewAccessKey::parse(input, self.credentials.now_ms()).map_err(InputError::Invalid)?;
        let minted = mint(ACCESS_KEY_PREFIX)?;
        let key = new.into_key(minted.digest, minted.redacted, now_ms(), by);
        let token = minted.token;
        let _turn = self.turn().await;
        let key = self
            .commit(self.store.create_access_key(key), |_, _| {})
            .await?;
        self.publish_access_key(&key);
        Ok((key, token))
    }

    pub async fn update_access_key(
        &self,
        id: Ulid,
        input: Input<UpdateAccessKey>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<AccessKey, WriteError> {
        let changes = AccessKeyChanges::parse(input, self.credentials.now_ms())
            .map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &AccessKey| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        let _turn = self.turn().await;
        let key = self
            .commit(self.store.update_access_key(id, change), |_, _| {})
            .await?;
        self.publish_access_key(&key);
        Ok(key)
    }

    pub async fn delete_access_key(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
    ) -> Result<(), WriteError> {
        let _turn = self.turn().await;
        let gone = self
            .commit(self.store.delete_access_key(id, precondition), |_, _| {})
            .await?;
        self.unpublish_access_key(&gone);
        Ok(())
    }
}
