//! The one table of API errors: every failure a client can see has a stable `errorCode`, an
//! HTTP status and a message, rendered as `{errorCode, statusCode, msg, details}`.

use std::collections::BTreeMap;
use std::fmt::Display;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::discovery::DiscoveryRefusal;
use crate::domain::{InputError, Violations};
use crate::secrets::CryptoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", if *.presented { "the bearer token is not valid" } else { "this route needs an `Authorization: Bearer <token>` header" })]
    Unauthorized { presented: bool },
    #[error(
        "access keys are for model calls on /v1 (the data plane) only; the management API takes a management API key (POST /api-keys) or the admin token"
    )]
    AccessKeyNotAllowed,
    #[error("request body is not valid JSON: {reason}")]
    InvalidJson {
        reason: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("request body has {} field(s) this resource does not know; see details", .0.count())]
    UnknownField(Violations),
    #[error("{}", broken_rules("request body", .0))]
    Validation(Violations),
    #[error("{}", broken_rules("query string", .0))]
    InvalidQuery(Violations),
    #[error("the {name} header is not valid: {rule}")]
    InvalidHeader { name: &'static str, rule: String },
    #[error("providerId `{0}` belongs to a built-in catalog provider and cannot be used")]
    ProviderIdReserved(String),
    #[error("providerId cannot be changed after creation; create a new provider instead")]
    ProviderIdImmutable,
    #[error("{0}")]
    NotFound(String),
    #[error("this route does not accept that method; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error(
        "this API key is a bootstrap credential, read-only here (allowed: GET, HEAD): the admin token (MODELGATE_ADMIN_TOKEN, else <data_dir>/admin-token) and the [[auth.tokens]] entries of the config file are changed there, then the server restarted; keys made with POST /api-keys can be changed and deleted here"
    )]
    CredentialsReadOnly,
    #[error("providerId `{0}` is already used by another provider")]
    ProviderIdTaken(String),
    #[error("another provider already has the base URL `{0}`")]
    BaseUrlTaken(String),
    #[error(
        "no provider `{0}` is registered; create it under /providers first, or use a built-in catalog id such as `openai`"
    )]
    UnknownProvider(String),
    #[error(
        "the provider still has {0} provider key(s); delete them first, or delete with ?cascade=true"
    )]
    ProviderHasKeys(u64),
    #[error(
        "the access key configuration scopes {0} access key(s); delete them or move them to another configuration first, or delete with ?cascade=true, which deletes them too"
    )]
    ConfigurationInUse(u64),
    #[error(
        "the provider key is a step key of the router of {} access key configuration(s); take it out of their rules first, or delete with ?cascade=true, which takes it out of them too", .0.len()
    )]
    ProviderKeyInUse(Vec<ulid::Ulid>),
    #[error("model alias `{0}` already has this name (names match ignoring case)")]
    AliasTaken(String),
    #[error("a price for `{0}` exists already (model names match ignoring case); change that one")]
    PriceTaken(String),
    #[error("the provider changed since the ETag given in If-Match; fetch it again and retry")]
    PreconditionFailed,
    #[error("request body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("the request target (path and query) is longer than {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the request body did not arrive within {ms} ms")]
    RequestTimeout { ms: u64 },
    #[error("request body must be JSON, sent with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error(
        "request body may be sent as is or gzip-compressed (`Content-Encoding: gzip`); no other encoding is accepted"
    )]
    UnsupportedEncoding,
    #[error(
        "the data dir's file system has {free_mib} MiB free, below the {reserve_mib} MiB reserve (storage.min_free_mib); nothing was written. Free space, then retry"
    )]
    StorageFull { free_mib: u64, reserve_mib: u64 },
    #[error("the data dir is on a read-only file system; nothing was written")]
    StorageReadOnly,
    #[error(
        "the store met an I/O error; writes are refused until the fault is gone (the store then reopens by itself, holding exactly what reached the disk; reads go on meanwhile), and a write answered with this error may or may not have been stored"
    )]
    StorageFailed,
    #[error(
        "the provider did not pass its probe (?validate=true), so nothing was written: {}; details has all it found",
        .0.get("error").map_or("see details", String::as_str)
    )]
    ProbeFailed(BTreeMap<String, String>),
    #[error(
        "the provider declares no models, so it takes any model name; declaring the discovered ones narrows it to those: send ?confirm=true to mean it"
    )]
    ConfirmRequired,
    #[error(
        "the provider would declare {} models, past the limit of {max}: it declares {declared} and this would add {adding}; choose fewer with a `modelIds` body", declared + adding, max = crate::domain::rules::MAX_MODELS
    )]
    TooManyModels { declared: usize, adding: usize },
    #[error(
        "the provider's model list could not be read, so nothing was discovered: {}; details has all the probe found",
        .0.get("error").map_or("see details", String::as_str)
    )]
    DiscoveryFailed(BTreeMap<String, String>),
    #[error(
        "catalog provider `{0}` has no provider key filed, and its model list needs one: add one with POST /provider-keys first"
    )]
    CatalogKeyRequired(String),
    #[error("internal error; the server log has the cause")]
    Internal,
}

impl ApiError {
    /// The table: status and stable code of every error kind.
    pub fn kind(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::AccessKeyNotAllowed => (StatusCode::FORBIDDEN, "access_key_not_allowed"),
            ApiError::InvalidJson { .. } => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::UnknownField(_) => (StatusCode::BAD_REQUEST, "unknown_field"),
            ApiError::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            ApiError::InvalidHeader { .. } => (StatusCode::BAD_REQUEST, "invalid_header"),
            ApiError::ProviderIdReserved(_) => (StatusCode::BAD_REQUEST, "provider_id_reserved"),
            ApiError::ProviderIdImmutable => (StatusCode::BAD_REQUEST, "provider_id_immutable"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } | ApiError::CredentialsReadOnly => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::ProviderIdTaken(_) => (StatusCode::CONFLICT, "provider_id_taken"),
            ApiError::BaseUrlTaken(_) => (StatusCode::CONFLICT, "base_url_taken"),
            ApiError::ProviderHasKeys(_) => (StatusCode::CONFLICT, "provider_has_keys"),
            ApiError::ConfigurationInUse(_) => (StatusCode::CONFLICT, "configuration_in_use"),
            ApiError::ProviderKeyInUse(_) => (StatusCode::CONFLICT, "provider_key_in_use"),
            ApiError::UnknownProvider(_) => (StatusCode::CONFLICT, "unknown_provider"),
            ApiError::AliasTaken(_) => (StatusCode::CONFLICT, "alias_taken"),
            ApiError::PriceTaken(_) => (StatusCode::CONFLICT, "price_taken"),
            ApiError::PreconditionFailed => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::RequestTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::UriTooLong { .. } => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::UnsupportedMediaType | ApiError::UnsupportedEncoding => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::StorageFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage_full"),
            ApiError::StorageReadOnly => (StatusCode::SERVICE_UNAVAILABLE, "storage_read_only"),
            ApiError::StorageFailed => (StatusCode::SERVICE_UNAVAILABLE, "storage_failed"),
            ApiError::ProbeFailed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "provider_probe_failed"),
            ApiError::ConfirmRequired => (StatusCode::CONFLICT, "confirm_required"),
            ApiError::TooManyModels { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_models"),
            ApiError::DiscoveryFailed(_) => (StatusCode::BAD_GATEWAY, "discovery_failed"),
            ApiError::CatalogKeyRequired(_) => (StatusCode::CONFLICT, "provider_key_required"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Logs `cause` for the operator and hands the client an opaque 500.
    pub fn internal(cause: impl Display) -> ApiError {
        log::error!("internal error: {cause}");
        ApiError::Internal
    }

    pub fn validation(path: &str, message: impl Into<String>) -> ApiError {
        let mut v = Violations::default();
        v.add(path, message);
        ApiError::Validation(v)
    }

    pub(crate) fn details(&self) -> BTreeMap<String, String> {
        let one = |k: &str, v: String| BTreeMap::from([(k.to_owned(), v)]);
        match self {
            ApiError::Validation(v) | ApiError::InvalidQuery(v) | ApiError::UnknownField(v) => {
                v.to_map()
            }
            ApiError::InvalidHeader { name, rule } => one(name, rule.clone()),
            ApiError::InvalidJson { line, column, .. } => {
                let mut d = BTreeMap::new();
                if let (Some(line), Some(column)) = (line, column) {
                    d.insert("line".to_owned(), line.to_string());
                    d.insert("column".to_owned(), column.to_string());
                }
                d
            }
            ApiError::ProviderIdReserved(_) => one(
                "providerId",
                "is reserved for a built-in catalog provider".into(),
            ),
            ApiError::ProviderIdImmutable => one("providerId", "cannot be changed".into()),
            ApiError::ProviderIdTaken(_) => one("providerId", "is already taken".into()),
            ApiError::BaseUrlTaken(_) => one("baseUrl", "is already another provider's".into()),
            ApiError::UnknownProvider(_) => {
                one("providerId", "is not a registered provider".into())
            }
            ApiError::ProviderHasKeys(n) => one("providerKeys", n.to_string()),
            ApiError::AliasTaken(_) => one("alias", "is already taken".into()),
            ApiError::PriceTaken(_) => one("model", "is already priced".into()),
            ApiError::ConfigurationInUse(n) => one("accessKeys", n.to_string()),
            ApiError::ProviderKeyInUse(ids) => one(
                "accessKeyConfigurations",
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ApiError::PayloadTooLarge { limit } => one("limit", limit.to_string()),
            ApiError::ProbeFailed(found) | ApiError::DiscoveryFailed(found) => found.clone(),
            ApiError::ConfirmRequired => one(
                "confirm",
                "must be `true` to declare models on a provider that declares none".into(),
            ),
            ApiError::TooManyModels { declared, adding } => one(
                "models",
                format!(
                    "must have at most {} entries (would have {})",
                    crate::domain::rules::MAX_MODELS,
                    declared + adding
                ),
            ),
            ApiError::CatalogKeyRequired(_) => {
                one("providerKeys", "none is filed for this provider".into())
            }
            ApiError::Unauthorized { .. }
            | ApiError::AccessKeyNotAllowed
            | ApiError::NotFound(_)
            | ApiError::MethodNotAllowed { .. }
            | ApiError::CredentialsReadOnly
            | ApiError::PreconditionFailed
            | ApiError::UnsupportedMediaType
            | ApiError::UnsupportedEncoding
            | ApiError::RequestTimeout { .. }
            | ApiError::UriTooLong { .. }
            | ApiError::StorageFull { .. }
            | ApiError::StorageReadOnly
            | ApiError::StorageFailed
            | ApiError::Internal => BTreeMap::new(),
        }
    }
}

/// `msg` of a violations error: the count is of the field paths in `details` (listed there, or
/// counted under its `…` entry).
fn broken_rules(what: &str, v: &Violations) -> String {
    match v.count() - v.listed() {
        0 => format!("{what} breaks rules at {} field(s); see details", v.count()),
        unlisted => format!(
            "{what} breaks rules at {} field(s); details lists the first {} and counts the other {unlisted}",
            v.count(),
            v.listed()
        ),
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> ApiError {
        match e {
            InputError::Invalid(v) if v.only_unknown_fields() => ApiError::UnknownField(v),
            InputError::Invalid(v) => ApiError::Validation(v),
            InputError::ProviderIdReserved(id) => ApiError::ProviderIdReserved(id),
            InputError::ProviderIdImmutable => ApiError::ProviderIdImmutable,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        const MIB: u64 = 1024 * 1024;
        match e {
            StoreError::Full { free, reserve } => ApiError::StorageFull {
                free_mib: free / MIB,
                reserve_mib: reserve.div_ceil(MIB),
            },
            StoreError::ReadOnly => ApiError::StorageReadOnly,
            StoreError::Failed => ApiError::StorageFailed,
            StoreError::Io(_)
            | StoreError::Flush(_)
            | StoreError::FlusherStopped
            | StoreError::Stat(_) => {
                log::error!("store write failed: {e}");
                ApiError::StorageFailed
            }
            StoreError::Engine(_)
            | StoreError::Blocking(_)
            | StoreError::Corrupt { .. }
            | StoreError::Encode(_)
            | StoreError::Rewrap { .. }
            | StoreError::Seal { .. } => ApiError::internal(e),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<DiscoveryRefusal> for ApiError {
    fn from(r: DiscoveryRefusal) -> ApiError {
        match r {
            DiscoveryRefusal::ConfirmRequired => ApiError::ConfirmRequired,
            DiscoveryRefusal::TooManyModels { declared, adding } => {
                ApiError::TooManyModels { declared, adding }
            }
        }
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> ApiError {
        ApiError::Validation(v)
    }
}

/// Every error's body (ngrok's `Error`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// Stable code of the error kind, e.g. `validation_failed`.
    error_code: &'a str,
    status_code: u16,
    msg: String,
    /// Field path or parameter → the rule it broke; empty when there is nothing to point at.
    details: BTreeMap<String, String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.kind();
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::Unauthorized { presented } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    if *presented {
                        HeaderValue::from_static(
                            "Bearer realm=\"modelgate\", error=\"invalid_token\"",
                        )
                    } else {
                        HeaderValue::from_static("Bearer realm=\"modelgate\"")
                    },
                ));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            ApiError::CredentialsReadOnly => {
                response.insert_header((header::ALLOW, "GET, HEAD"));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error_code: code,
            status_code: status.as_u16(),
            msg: self.to_string(),
            details: self.details(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_faults_are_503s_with_their_own_codes_and_other_store_errors_are_opaque_500s() {
        let cases = [
            (
                StoreError::Full {
                    free: 3 << 20,
                    reserve: 64 << 20,
                },
                503,
                "storage_full",
            ),
            (StoreError::ReadOnly, 503, "storage_read_only"),
            (StoreError::Failed, 503, "storage_failed"),
            (
                StoreError::Flush(std::sync::Arc::new(std::io::Error::other("no space"))),
                503,
                "storage_failed",
            ),
            (
                StoreError::Io(std::io::Error::other("disk")),
                503,
                "storage_failed",
            ),
            (StoreError::FlusherStopped, 503, "storage_failed"),
            (StoreError::Engine("unsupported".into()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.kind(), (StatusCode::from_u16(status).unwrap(), code));
        }
        let full = ApiError::from(StoreError::Full {
            free: 3 << 20,
            reserve: 64 << 20,
        });
        assert!(
            full.to_string()
                .contains("3 MiB free, below the 64 MiB reserve"),
            "{full}"
        );
    }
}
