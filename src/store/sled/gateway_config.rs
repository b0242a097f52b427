//! The gateway's own settings: one record under its own key in the `meta` tree. A store
//! without it (every store before `/gateway-config`) reads as never written, so adding it
//! needs no new store format.

use sled::transaction::ConflictableTransactionError;

use super::SledStore;
use super::codec::{decode, encode};
use super::engine::{failed, reject};
use crate::domain::gateway_config::GatewayConfig;
use crate::store::{GatewayConfigStore, StoreError, UpdateFn, Write};

const GATEWAY_CONFIG: &[u8] = b"gateway_config";

impl GatewayConfigStore for SledStore {
    fn gateway_config(&self) -> Result<GatewayConfig, StoreError> {
        match self.engine()?.meta.get(GATEWAY_CONFIG)? {
            Some(bytes) => decode(GATEWAY_CONFIG, &bytes),
            None => Ok(GatewayConfig::default()),
        }
    }

    fn update_gateway_config(&self, change: UpdateFn<GatewayConfig>) -> Write<GatewayConfig> {
        self.write(move |e| {
            let result = e.meta.transaction(|meta| {
                let current = match meta.get(GATEWAY_CONFIG)? {
                    Some(bytes) => decode(GATEWAY_CONFIG, &bytes).map_err(failed)?,
                    None => GatewayConfig::default(),
                };
                match change(&current) {
                    Err(r) => reject(r),
                    Ok(None) => Ok((current, false)),
                    Ok(Some(next)) => {
                        let bytes = encode(&next).map_err(failed)?;
                        meta.insert(GATEWAY_CONFIG, bytes)?;
                        Ok::<_, ConflictableTransactionError<_>>((next, true))
                    }
                }
            });
            e.settle(result)
        })
    }
}
