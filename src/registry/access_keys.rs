//! Access key writes, as management API keys' (`api_keys`): the `mga_` token made here and
//! answered once, the digest stored, each durable write applied to the live credentials
//! before it is acknowledged — a disabled key leaves them, an enabled one returns, an expiry
//! goes with it.

use ulid::Ulid;
use zeroize::Zeroizing;

use super::{Registry, WriteError, guard};
use crate::auth::{self, Kind, StoredCredential};
use crate::domain::{
    ACCESS_KEY_PREFIX, AccessKey, AccessKeyChanges, CreateAccessKey, Input, InputError,
    NewAccessKey, Precondition, UpdateAccessKey, now_ms, redact_token,
};

/// The credential an access key is, as authentication knows it.
pub fn access_credential_of(key: &AccessKey) -> StoredCredential {
    StoredCredential {
        id: key.id,
        kind: Kind::Access,
        expires_at_ms: key.expires_at_ms,
    }
}

impl Registry {
    /// Puts the key's current state into the live credentials.
    fn publish_access_key(&self, key: &AccessKey) {
        match key.enabled() {
            true => self
                .credentials
                .insert(key.digest, access_credential_of(key)),
            false => self.credentials.remove(&key.digest),
        }
    }

    pub async fn create_access_key(
        &self,
        input: Input<CreateAccessKey>,
        by: &str,
    ) -> Result<(AccessKey, Zeroizing<String>), WriteError> {
        let new =
            NewAccessKey::parse(input, self.credentials.now_ms()).map_err(InputError::Invalid)?;
        let token = auth::new_token(ACCESS_KEY_PREFIX)
            .map_err(|e| crate::secrets::CryptoError::Random(e.to_string()))?;
        let key = new.into_key(auth::digest(&token), redact_token(&token), now_ms(), by);
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
        let gone = self
            .commit(self.store.delete_access_key(id, precondition), |_, _| {})
            .await?;
        self.credentials.remove(&gone.digest);
        Ok(())
    }
}
