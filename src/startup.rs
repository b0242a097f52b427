//! Builds the server from settings, in this order: binds the listener (a taken port stops
//! start-up before anything is written), opens the store, loads the credentials (before the
//! master key, so a refused token leaves a new data dir without a key file), loads or makes the
//! master key, reads the routing table from the store, starts the `lastUsed` writer, builds the
//! gateway and the registry, then the actix server. It runs until a signal, then drains
//! requests and flushes the store.

use std::net::TcpListener;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};

use crate::auth::{self, AdminToken, Credential, Credentials};
use crate::config::{ConfigError, Settings};
use crate::gateway::health::Health;
use crate::gateway::meter::spend::Spend;
use crate::gateway::meter::{Recorder, Writer, retention};
use crate::gateway::probe::schedule;
use crate::gateway::table::RoutingTable;
use crate::gateway::usage::{self, KeyUse};
use crate::gateway::{Gateway, Timeouts};
use crate::http::body::{BodyLimit, BodyTimeout};
use crate::http::proxy::ProxyBodyLimit;
use crate::http::proxy::cors::CorsOrigins;
use crate::http::{self, AppState};
use crate::master_key;
use crate::metrics::{Attempts, Metrics};
use crate::registry::Registry;
use crate::store::Store;
use crate::store::sled::usage::{SledUsage, USAGE_DIR};
use crate::store::sled::{OpenError, SledStore};
use crate::store::usage::UsageStore;

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
    #[error("cannot read the routing table from the store: {0}")]
    Routing(#[from] crate::store::StoreError),
    #[error("cannot read the stored API keys and access keys: {0}")]
    StoredCredentials(#[source] crate::store::StoreError),
    #[error("cannot open the usage store in {path}: {source}")]
    Usage {
        path: std::path::PathBuf,
        source: crate::store::StoreError,
    },
    #[error("cannot rebuild the access keys' spend from the usage store: {0}")]
    Spend(#[source] crate::store::StoreError),
    #[error("cannot build the upstream HTTP client: {0}")]
    Upstream(#[from] reqwest::Error),
}

/// How often the time of each key's last use is written.
const KEY_USE_PERIOD: Duration = Duration::from_secs(1);

const BLOCKING_THREADS_PER_WORKER: usize = 8;

/// How long shutdown waits for the last holder of the store: 500 polls of 10 ms.
const STORE_CLOSE_POLLS: u32 = 500;
const STORE_CLOSE_POLL: Duration = Duration::from_millis(10);

pub struct Application {
    port: u16,
    server: Server,
    registry: Arc<Registry>,
    /// Gone once the last holder of the store drops it, which unlocks the data dir.
    store: Weak<dyn Store>,
    /// Likewise for the usage store, which locks its own files.
    usage: Weak<dyn UsageStore>,
    /// Writes the usage events still queued at shutdown.
    usage_writer: Writer,
    /// The background health checks, when `health.enabled`: stopped with the server.
    checks: Option<actix_web::rt::task::JoinHandle<()>>,
}

impl Application {
    /// Binds first: a port that is taken stops start-up before anything is written, so a new
    /// data dir gets no token or master-key file from a start that never served.
    pub fn build(settings: &Settings) -> Result<Application, StartupError> {
        Application::build_with_clock(settings, auth::system_clock())
    }

    /// [`Application::build`] with the wall clock that stored credentials expire by (tests
    /// move their own instead of waiting).
    pub fn build_with_clock(
        settings: &Settings,
        clock: auth::WallClock,
    ) -> Result<Application, StartupError> {
        let policy = crate::gateway::policy::clock::system();
        Application::build_with_clocks(settings, clock, policy)
    }

    /// [`Application::build_with_clock`] with the gateway's monotonic clock too (providers'
    /// breakers, keys' rests), so tests can move both. The wall clock also times providers'
    /// health checks and successes.
    pub fn build_with_clocks(
        settings: &Settings,
        clock: auth::WallClock,
        policy: crate::gateway::policy::clock::Clock,
    ) -> Result<Application, StartupError> {
        let bind_error = |source| StartupError::Bind {
            bind: settings.server.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.server.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let metrics = Arc::new(Metrics::new(
            settings.metrics.public,
            settings.metrics.max_series,
        ));
        let store = open_store(settings)?.with_write_observer(metrics.clone());
        // Credentials before the master key: a token that stops start-up stops it before a
        // new data dir gets a key file.
        let (credentials, origin) = load_credentials(settings)?;
        let master_key = Arc::new(master_key::load(settings, &store)?);
        announce(origin, &local_url(settings, port));
        let credentials = Arc::new(Credentials::with_clock(credentials, Arc::clone(&clock)));
        let store: Arc<dyn Store> = Arc::new(store);
        credentials.replace_stored(
            crate::registry::stored_credentials(store.as_ref())
                .map_err(StartupError::StoredCredentials)?,
        );
        let table = Arc::new(RoutingTable::load(store.as_ref(), |entry| {
            settings
                .catalog
                .get(entry.id)
                .and_then(|c| c.base_url.clone())
                .unwrap_or_else(|| entry.base_url.to_owned())
        })?);
        let usage_store = open_usage(settings)?;
        // Budgets and token limits count on from what the store holds, not from zero.
        let spend = Arc::new(Spend::default());
        spend
            .rebuild(usage_store.as_ref(), clock())
            .map_err(StartupError::Spend)?;
        let (recorder, usage_writer) = Recorder::start_counting(
            Arc::clone(&usage_store),
            settings.usage.queue,
            Some(Arc::clone(&spend)),
        );
        recorder.keep_events(settings.usage.enabled);
        recorder.observe_with(Arc::new(Attempts {
            metrics: Arc::clone(&metrics),
            table: Arc::clone(&table),
        }));
        actix_web::rt::spawn(retention::run(
            Arc::downgrade(&usage_store),
            settings.usage.clone(),
        ));
        let uses = Arc::new(KeyUse::default());
        actix_web::rt::spawn(usage::write_periodically(
            Arc::clone(&uses),
            Arc::downgrade(&store),
            KEY_USE_PERIOD,
        ));
        let gateway = Arc::new(
            Gateway::new(
                Arc::clone(&table),
                Arc::clone(&master_key),
                Timeouts {
                    attempt: Duration::from_secs(settings.gateway.request_timeout_secs),
                    idle: Duration::from_secs(settings.gateway.stream_idle_timeout_secs),
                    total: Duration::from_secs(settings.gateway.total_timeout_secs),
                    stream: Duration::from_secs(settings.gateway.max_stream_secs),
                },
                Arc::clone(&uses),
                policy,
                crate::gateway::client::Outbound {
                    allow_private: settings.outbound.allow_private_networks,
                    resolve: crate::gateway::client::outbound::system(),
                },
            )?
            .with_probe_timeout(Duration::from_millis(settings.gateway.probe_timeout_ms))
            .with_recorder(recorder)
            .with_stream_usage(settings.usage.inject_stream_usage)
            .with_prices(crate::domain::usage::Prices::new(crate::config::prices(
                &settings.prices,
            )?))
            .with_health(health_of(settings, clock, &store)),
        );
        gateway.restore_health(store.all_health()?);
        let closed = Arc::downgrade(&store);
        let registry = Arc::new(Registry::new(
            store,
            master_key,
            table,
            Arc::clone(&credentials),
        ));
        let checks = settings.health.enabled.then(|| {
            actix_web::rt::spawn(schedule::run(
                Arc::downgrade(&gateway),
                Some(keep_listed(Arc::downgrade(&registry))),
            ))
        });
        let state = AppState {
            registry: Arc::clone(&registry),
            gateway,
            uses,
            per_minute: Arc::default(),
            spend,
            public_url: settings.server.public_url.clone().unwrap_or_default(),
            require_access_keys: settings.gateway.require_access_keys,
            usage: Arc::clone(&usage_store),
            metrics,
        };
        let usage = Arc::downgrade(&usage_store);
        drop(usage_store);
        let server = build_server(settings, listener, state, credentials)?;
        Ok(Application {
            port,
            server,
            registry,
            store: closed,
            usage,
            usage_writer,
            checks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry the server writes through, for embedding and tests.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Stops the server from elsewhere (tests, embedding) as a signal would.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops it), then flushes the store.
    /// Returns once the store is closed, so the same data dir can be opened again at once by
    /// this process (a restart in tests, an embedder's reload).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            registry,
            store,
            usage,
            usage_writer,
            checks,
            ..
        } = self;
        let served = server.await;
        if let Some(checks) = checks {
            checks.abort();
        }
        // The calls are over: what they recorded is written before the store's last flush.
        usage_writer.finish().await;
        match registry.store().flush().await {
            Ok(()) => log::info!("store flushed; bye"),
            Err(e) => log::error!("final flush failed: {e}"),
        }
        drop(registry);
        // The server's future can resolve while its worker threads are still dropping their
        // copies of the app's state, and so of the store; wait for them, within reason.
        for _ in 0..STORE_CLOSE_POLLS {
            if store.strong_count() == 0 && usage.strong_count() == 0 {
                break;
            }
            actix_web::rt::time::sleep(STORE_CLOSE_POLL).await;
        }
        if store.strong_count() != 0 || usage.strong_count() != 0 {
            log::warn!(
                "the store is still held by a task after shutdown; its data dir stays locked until that ends"
            );
        }
        served
    }
}

/// The health settings of the gateway: `[health]`, `gateway.hide_offline_models`, the wall
/// clock, and the store checks are kept in.
fn health_of(settings: &Settings, wall: auth::WallClock, store: &Arc<dyn Store>) -> Health {
    Health {
        interval: Duration::from_secs(settings.health.interval_secs),
        hide_offline: settings.gateway.hide_offline_models,
        wall,
        store: Some(Arc::downgrade(store)),
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

/// A background check's catalog listing, kept as that provider's discovered models.
fn keep_listed(registry: Weak<Registry>) -> schedule::OnListed {
    Arc::new(move |catalog_id, ids| {
        let registry = registry.clone();
        Box::pin(async move {
            let Some(registry) = registry.upgrade() else {
                return;
            };
            if let Err(e) = registry.refresh_catalog_models(catalog_id, &ids).await {
                log::warn!("the models `{catalog_id}` listed could not be kept: {e}");
            }
        })
    })
}

/// Opens the usage store under the data dir. Its reserve sits above the registry's, so a disk
/// filling with usage stops usage first.
fn open_usage(settings: &Settings) -> Result<Arc<dyn UsageStore>, StartupError> {
    let mib = 1024 * 1024;
    let usage = SledUsage::open(
        &settings.storage.data_dir,
        settings.usage.cache_capacity_mib * mib,
        (settings.storage.min_free_mib + settings.usage.reserve_mib) * mib,
    )
    .map_err(|source| StartupError::Usage {
        path: settings.storage.data_dir.join(USAGE_DIR),
        source,
    })?;
    Ok(Arc::new(usage))
}

/// Every credential, and where the admin token came from (told once start-up has succeeded).
fn load_credentials(
    settings: &Settings,
) -> Result<(Vec<Credential>, Option<AdminToken>), StartupError> {
    let mut credentials = settings.token_credentials()?;
    let (admin, origin) = match &settings.auth.admin_token {
        Some(token) => (Credential::from_token(auth::ADMIN_ID, token), None),
        None => {
            let (credential, origin) =
                auth::load_or_create_admin_token(&settings.storage.data_dir)?;
            (credential, Some(origin))
        }
    };
    credentials.push(admin);
    Ok((credentials, origin))
}

fn announce(origin: Option<AdminToken>, base: &str) {
    match origin {
        None => log::info!("admin token: from MODELGATE_ADMIN_TOKEN"),
        Some(AdminToken::Generated(path)) => {
            let path = path.display();
            log::warn!(
                "generated an admin token in {path} (mode 0600); paste it into the admin page at {base}/, or use it as: curl -H \"Authorization: Bearer $(cat {path})\" {base}/providers"
            )
        }
        Some(AdminToken::Reused(path)) => log::info!("admin token: {}", path.display()),
    }
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
    credentials: Arc<Credentials>,
) -> Result<Server, StartupError> {
    let state = web::Data::new(state);
    let credentials = web::Data::from(credentials);
    let cors = web::Data::new(CorsOrigins(settings.gateway.cors_origins.clone().into()));
    let cors_on = !settings.gateway.cors_origins.is_empty();
    let limit = BodyLimit(settings.server.max_body_bytes);
    let proxy_limit = ProxyBodyLimit(settings.gateway.max_body_bytes);
    let body_timeout = BodyTimeout(Duration::from_millis(settings.server.body_timeout_ms));
    let bind = settings.server.bind.clone();
    // With access lines filtered out, skip the middleware that would format them anyway.
    let access_logged =
        log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(credentials.clone())
            .app_data(cors.clone())
            .app_data(limit)
            .app_data(proxy_limit)
            .app_data(body_timeout)
            .wrap(middleware::from_fn(http::metrics::observe))
            .wrap(middleware::from_fn(http::request_id::assign))
            .wrap(middleware::Condition::new(access_logged, access_log()))
            .configure(|cfg| http::configure(cfg, cors_on))
            .default_service(web::to(http::no_route))
    })
    .keep_alive(Duration::from_secs(settings.server.keep_alive_secs))
    // A client that closes its side (an SDK's abort sends FIN) has left: the connection is
    // shut down and the call dropped with it, which cancels its upstream request and frees
    // the provider's queue slot. Allowing half-closed connections kept abandoned calls
    // running to the upstream's end.
    .h1_allow_half_closed(false)
    .client_request_timeout(Duration::from_millis(
        settings.server.client_request_timeout_ms,
    ))
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .on_connect(no_delay)
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

/// Raises the soft limit on open files to the hard one. Every held stream takes two
/// descriptors (the caller's and the upstream's), and a service manager's default soft limit
/// (1,024 under systemd) turned 600 held streams into 502s blamed on the provider.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => log::debug!("open files: soft limit raised from {soft} to {hard}"),
            Err(e) => log::warn!("open files: the soft limit {soft} could not be raised: {e}"),
        },
        Ok(_) => {}
        Err(e) => log::warn!("open files: the limit cannot be read: {e}"),
    }
}

/// Every accepted connection sends its writes at once. actix-web leaves Nagle's algorithm on,
/// so a stream's second small event waited for the client's delayed ACK (~40 ms, measured by
/// bench/run's paced stream): the data plane must never hold tokens back.
fn no_delay(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(e) = tcp.set_nodelay(true)
    {
        log::debug!("TCP_NODELAY could not be set on an accepted connection: {e}");
    }
}

/// One line per request: its id, peer, method, path (no query, no headers, no body: nothing
/// that can carry a secret; cut at 200 characters, so a long path cannot bloat the log),
/// status, size and duration.
fn access_log() -> middleware::Logger {
    middleware::Logger::new("%{x-modelgate-request-id}o %a \"%{method}xi %{path}xi\" %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .custom_request_replace("path", |req| {
            let path = req.path();
            match path.char_indices().nth(200) {
                Some((at, _)) => format!("{}…", &path[..at]),
                None => path.to_owned(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn accepted_connections_send_without_waiting_for_acks() {
        let listener = actix_web::rt::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = actix_web::rt::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "sockets start with Nagle on");
        no_delay(&accepted, &mut actix_web::dev::Extensions::new());
        assert!(accepted.nodelay().unwrap());
    }
}
