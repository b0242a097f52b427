//! Builds the server from settings: opens the store, loads credentials, binds, and runs until
//! a signal, then drains requests and flushes the store.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};

use crate::auth::{self, AdminToken, Credential, Credentials};
use crate::body::{BodyLimit, BodyTimeout};
use crate::config::{ConfigError, Settings};
use crate::master_key;
use crate::routes::{self, AppState};
use crate::store::ProviderStore;
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
    store: Arc<dyn ProviderStore>,
}

impl Application {
    pub fn build(settings: &Settings) -> Result<Application, StartupError> {
        let sled = Arc::new(open_store(settings)?);
        let master_key = Arc::new(master_key::load(settings, sled.as_ref())?);
        let store: Arc<dyn ProviderStore> = sled.clone();
        let credentials = Credentials::new(load_credentials(settings)?);
        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                bind: settings.server.bind.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                bind: settings.server.bind.clone(),
                source,
            })?
            .port();
        let state = AppState {
            providers: Arc::clone(&store),
            keys: sled,
            master_key,
            public_url: settings.server.public_url.clone().unwrap_or_default(),
        };
        let server = build_server(settings, listener, state, credentials)?;
        Ok(Application {
            port,
            server,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests, embedding) as a signal would.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops it), then flushes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let store = Arc::clone(&self.store);
        match web::block(move || store.flush()).await {
            Ok(Ok(())) => log::info!("store flushed; bye"),
            Ok(Err(e)) => log::error!("final flush failed: {e}"),
            Err(e) => log::error!("final flush did not run: {e}"),
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

fn load_credentials(settings: &Settings) -> Result<Vec<Credential>, StartupError> {
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
            let base = format!("http://{}", settings.server.bind);
            match origin {
                AdminToken::Generated(_) => log::warn!(
                    "generated an admin token in {path} (mode 0600); use it as: curl -H \"Authorization: Bearer $(cat {path})\" {base}/providers"
                ),
                AdminToken::Reused(_) => log::info!("admin token: {path}"),
            }
            credential
        }
    };
    credentials.push(admin);
    Ok(credentials)
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
            .configure(routes::configure)
            .default_service(web::to(routes::no_route))
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
