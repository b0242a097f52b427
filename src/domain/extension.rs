//! What a provider carries for the other dialects (Bifrost's `/api/providers`, AgentStack's
//! `/api/v1/model_providers`) beyond ngrok's fields and the settings: kept beside the record,
//! changed in the same transaction, so a dialect that cannot express a field never loses it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Every field defaults, so a record written before a field existed reads as not having it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Extension {
    /// AgentStack's `description`: the operator's text about the provider.
    pub description: Option<String>,
    /// Bifrost's `send_back_raw_request`: the upstream request attached to the answer.
    pub send_back_raw_request: bool,
    /// Bifrost's `send_back_raw_response`: the upstream answer attached to the answer.
    pub send_back_raw_response: bool,
    /// Bifrost's `store_raw_request_response`: both kept on the usage event, bounded.
    pub store_raw_request_response: bool,
    /// Bifrost's `custom_provider_config.base_provider_type`, as sent.
    pub base_provider_type: Option<String>,
    /// Bifrost's `allowed_requests` flags that name no surface of modelgate's (`speech`,
    /// `batch_create`, …), as sent: answered back, never served.
    pub other_requests: BTreeMap<String, bool>,
    /// Surfaces whose streamed calls are refused though their plain calls are allowed
    /// (Bifrost's `chat_completion_stream: false` beside `chat_completion: true`).
    pub no_stream: BTreeSet<String>,
    /// AgentStack's `type`.
    pub agentstack_type: Option<String>,
    /// AgentStack's watsonx ids: stored, never answered.
    pub watsonx_project_id: Option<String>,
    pub watsonx_space_id: Option<String>,
}

impl Extension {
    pub fn is_empty(&self) -> bool {
        *self == Extension::default()
    }
}
