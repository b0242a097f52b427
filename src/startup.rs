//! Builds the server from settings: opens the store, loads credentials, binds, and runs until
//! a signal, then drains requests and flushes the store.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};

use crate::auth::{self, AdminToken, Credential, Credentials};
use crate::config::{ConfigError, Settings};
use crate::http::body::{BodyLimit, BodyTimeout};
use crate::http::{self, AppState};
use crate::master_key;
use crate::registry::Registry;
use crate::store::Store;
use crate::store::sled::{OpenError, SledStore};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error(transparent)]
    AdminToken(#[from] auth::AdminTokenError),
    #[error(transparent)]
    MasterKey(#[from] master_key::MasterKeyError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

const BLOCKING_THREADS_PER_WORKER: usize = 8;

pub struct Application {
    port: u16,
    server: Server,
    registry: Arc<Registry>,
}

impl Application {
    /// Binds first: a port that is taken stops start-up before anything is written, so a new
    /// data dir gets no token or master-key file from a start that never served.
    pub fn build(settings: &Settings) -> Result<Application, StartupError> {
        let bind_error = |source| StartupError::Bind {
            bind: settings.server.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.server.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let store = open_store(settings)?;
        let master_key = Arc::new(master_key::load(settings, &store)?);
        let credentials = Credentials::new(load_credentials(settings, port)?);
        let store: Arc<dyn Store> = Arc::new(store);
        let registry = Arc::new(Registry::new(store, master_key));
        let state = AppState {
            registry: Arc::clone(&registry),
            public_url: settings.server.public_url.clone().unwrap_or_default(),
        };
        let server = build_server(settings, listener, state, credentials)?;
        Ok(Application {
            port,
            server,
            registry,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry the server writes through, for embedding (the data plane subscribes here).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Stops the server from elsewhere (tests, embedding) as a signal would.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops it), then flushes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        match self.registry.store().flush().await {
            Ok(()) => log::info!("store flushed; bye"),
            Err(e) => log::error!("final flush failed: {e}"),
        }
        served
    }
}

/// Opens the data dir's store with the configured cache size.
pub fn open_store(settings: &Settings) -> Result<SledStore, OpenError> {
    Ok(SledStore::open(
        &settings.storage.data_dir,
        settings.storage.cache_capacity_mib * 1024 * 1024,
    )?
    .with_free_space_reserve(settings.storage.min_free_mib * 1024 * 1024))
}

fn load_credentials(settings: &Settings, port: u16) -> Result<Vec<Credential>, StartupError> {
    let mut credentials = settings.token_credentials()?;
    let admin = match &settings.auth.admin_token {
        Some(token) => {
            log::info!("admin token: from MODELGATE_ADMIN_TOKEN");
            Credential::from_token(auth::ADMIN_ID, token)
        }
        None => {
            let (credential, origin) =
                auth::load_or_create_admin_token(&settings.storage.data_dir)?;
            let path = match &origin {
                AdminToken::Generated(path) | AdminToken::Reused(path) => path.display(),
            };
            let base = local_url(settings, port);
            match origin {
                AdminToken::Generated(_) => log::warn!(
                    "generated an admin token in {path} (mode 0600); paste it into the admin page at {base}/, or use it as: curl -H \"Authorization: Bearer $(cat {path})\" {base}/providers"
                ),
                AdminToken::Reused(_) => log::info!("admin token: {path}"),
            }
            credential
        }
    };
    credentials.push(admin);
    Ok(credentials)
}

/// Where a local client reaches the server: the bound address with the actual port (a
/// configured port 0 means "any free one").
pub fn local_url(settings: &Settings, port: u16) -> String {
    let host = match settings.server.bind.rsplit_once(':') {
        Some((host, _)) => host,
        None => settings.server.bind.as_str(),
    };
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    format!("http://{host}:{port}")
}

fn build_server(
    settings: &Settings,
    listener: TcpListener,
    state: AppState,
    credentials: Credentials,
) -> Result<Server, StartupError> {
    let state = web::Data::new(state);
    let credentials = web::Data::new(credentials);
    let limit = BodyLimit(settings.server.max_body_bytes);
    let body_timeout = BodyTimeout(Duration::from_millis(settings.server.body_timeout_ms));
    let bind = settings.server.bind.clone();
    // With access lines filtered out, skip the middleware that would format them anyway.
    let access_logged =
        log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(credentials.clone())
            .app_data(limit)
            .app_data(body_timeout)
            .wrap(middleware::Condition::new(access_logged, access_log()))
            .configure(http::configure)
            .default_service(web::to(http::no_route))
    })
    .keep_alive(Duration::from_secs(settings.server.keep_alive_secs))
    .client_request_timeout(Duration::from_millis(
        settings.server.client_request_timeout_ms,
    ))
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    // Blocking threads only run short store transactions now (durability is awaited, not
    // slept on), so a few suffice; hundreds would each grow a malloc arena and the RSS.
    .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server
        .listen(listener)
        .map_err(|source| StartupError::Bind { bind, source })?
        .run())
}

/// One line per request: peer, method, path (no query, no headers, no body: nothing that can
/// carry a secret), status, size and duration.
fn access_log() -> middleware::Logger {
    middleware::Logger::new("%a \"%{method}xi %U\" %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
}
