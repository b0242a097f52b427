//! `/gateway-config` writes.

use super::{Registry, WriteError, guard};
use crate::domain::gateway_config::{
    FileTimeouts, GatewayConfig, GatewayConfigChanges, UpdateGatewayConfig,
};
use crate::domain::{Input, Precondition};
use crate::gateway::table::Change;
use crate::store::Rejection;

impl Registry {
    /// Applies the fields `input` sends, if `precondition` allows; `file` is what a timeout
    /// never written stands for, against which the timeouts' order is checked.
    pub async fn update_gateway_config(
        &self,
        input: Input<UpdateGatewayConfig>,
        precondition: Option<Precondition>,
        file: FileTimeouts,
    ) -> Result<GatewayConfig, WriteError> {
        let changes = GatewayConfigChanges::parse(input)?;
        let change = Box::new(move |current: &GatewayConfig| {
            guard(precondition.as_ref(), &current.etag())?;
            changes.apply(current, file).map_err(Rejection::Invalid)
        });
        self.commit(self.store.update_gateway_config(change), |c, table| {
            table.apply(Change::GatewayConfig(c))
        })
        .await
    }
}
