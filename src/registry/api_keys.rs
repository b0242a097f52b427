//! Management API key writes. The token is made here, from the OS's CSPRNG, and leaves only
//! in the answer to the create; the store and the credentials learn its digest. Each durable
//! write reaches the live credentials before it is acknowledged, so the next request is
//! authenticated against it.

use ulid::Ulid;
use zeroize::Zeroizing;

use super::{Registry, WriteError, guard, mint};
use crate::auth::{Kind, StoredCredential};
use crate::domain::{
    API_KEY_PREFIX, ApiKey, ApiKeyChanges, CreateApiKey, Input, InputError, NewApiKey,
    Precondition, UpdateApiKey, now_ms,
};

/// The credential a stored key is, as authentication knows it.
pub fn credential_of(key: &ApiKey) -> StoredCredential {
    StoredCredential {
        id: key.id,
        kind: Kind::Management,
        expires_at_ms: None,
        requests_per_minute: None,
        tokens_per_minute: None,
        budget: None,
        configuration: None,
    }
}

impl Registry {
    /// A new key and its token, which nothing keeps.
    pub async fn create_api_key(
        &self,
        input: Input<CreateApiKey>,
        by: &str,
    ) -> Result<(ApiKey, Zeroizing<String>), WriteError> {
        let new = NewApiKey::parse(input).map_err(InputError::Invalid)?;
        let minted = mint(API_KEY_PREFIX)?;
        let key = new.into_key(minted.digest, minted.redacted, now_ms(), by);
        let token = minted.token;
        let _turn = self.turn().await;
        let key = self
            .commit(self.store.create_api_key(key), |_, _| {})
            .await?;
        self.credentials.insert(key.digest, credential_of(&key));
        Ok((key, token))
    }

    pub async fn update_api_key(
        &self,
        id: Ulid,
        input: Input<UpdateApiKey>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<ApiKey, WriteError> {
        let changes = ApiKeyChanges::parse(input).map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &ApiKey| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        let _turn = self.turn().await;
        self.commit(self.store.update_api_key(id, change), |_, _| {})
            .await
    }

    pub async fn delete_api_key(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
    ) -> Result<(), WriteError> {
        let _turn = self.turn().await;
        let gone = self
            .commit(self.store.delete_api_key(id, precondition), |_, _| {})
            .await?;
        self.credentials.remove(&gone.digest);
        Ok(())
    }
}
