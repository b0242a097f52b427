//! A provider as AgentStack's `ModelProvider` shows it, and its paginated list.

use serde::Serialize;
use utoipa::ToSchema;

use super::types;
use crate::domain::Provider;
use crate::domain::extension::Extension;
use crate::gateway::Gateway;
use crate::gateway::health::status::Status;

/// AgentStack's `PaginatedResult`.
#[derive(Serialize, ToSchema)]
#[schema(as = AgentStackModelProviderList)]
pub struct List {
    pub items: Vec<View>,
    pub total_count: usize,
    pub has_more: bool,
    pub next_page_token: Option<String>,
}

/// AgentStack's `ModelProvider`; the watsonx ids are never shown, as in AgentStack.
#[derive(Serialize, ToSchema)]
#[schema(as = AgentStackModelProvider)]
pub struct View {
    /// The record's 128-bit id, as a UUID.
    id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    base_url: String,
    #[schema(value_type = Vec<String>)]
    capabilities: &'static [&'static str],
    name: Option<String>,
    description: Option<String>,
    created_at: String,
    registry: Option<String>,
    /// `offline` when health finds the provider down, else `online`.
    #[schema(value_type = String)]
    state: &'static str,
}

impl View {
    pub fn of(p: &Provider, ext: &Extension, gateway: &Gateway) -> View {
        let format = p.surfaces.first().map_or("openai", |s| s.format.as_str());
        let kind = types::shown(ext.agentstack_type.as_deref(), format);
        let state = match gateway.health_of(p.id).map(|h| h.status) {
            Some(Status::Offline) => "offline",
            _ => "online",
        };
        View {
            id: types::uuid(p.id),
            kind,
            base_url: p.base_url.clone(),
            capabilities: types::capabilities(kind),
            name: Some(p.name.clone()),
            description: ext.description.clone(),
            created_at: crate::http::rfc3339(p.created_at_ms),
            registry: None,
            state,
        }
    }
}
