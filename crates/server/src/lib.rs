//! Switchboard: a self-hostable contact server.
//!
//! # Layout
//!
//! The routing core (`acd`), the SIP stack (`sip`) and the media engine
//! (`media`: WebRTC legs, RTP legs, bridge, recorder) are crates of their own
//! that know nothing of the server; this crate wires them to storage, tenants
//! and connections.
//!
//! * `config`: layered configuration (defaults, TOML, `SWITCHBOARD_*`, flags);
//!   `secret`: values that never reach a log.
//! * `store`: SQLite or PostgreSQL behind one `Store`; every query tenant-scoped.
//! * `auth`: argon2 passwords, tokens, merchant-signed visitor identities.
//! * `tenant_file`: tenant setup from TOML (`tenant apply`), also the demo seed
//!   (`demo`).
//! * `routing`: a tenant's stored routing turned into the `acd` crate's setup.
//! * `phone`: a tenant's telephone settings (trunks, numbers, centers, caller
//!   ids, push codes).
//! * `desk`: the task owning the routing core and every live conversation;
//!   connections talk to it through channels, and it writes to storage
//!   through its writer without waiting (see its module doc).
//! * `protocol`: the WebSocket JSON frames (docs/protocol.md).
//! * `ws`: the visitor, agent and supervisor WebSocket endpoints.
//! * `wallboard`: supervisors' live boards, folded from the desk's stat events.
//! * `http`: the two listeners (public, agent), REST API, embedded web assets.
//!
//! `main.rs` parses the command line and calls [`open_store`] and [`run`];
//! tests do the same with port-0 listeners.

pub mod auth;
pub mod callback_link;
pub mod cobrowse;
pub mod config;
pub mod demo;
pub mod desk;
pub mod directory;
pub mod http;
pub mod ids;
pub mod phone;
pub mod protocol;
pub mod routing;
pub mod secret;
pub mod store;
pub mod tenant_export;
pub mod tenant_file;
pub mod wallboard;
pub mod webhooks;
pub mod ws;

use std::{future::Future, net::SocketAddr, sync::OnceLock, time::Duration};

use tokio::net::TcpListener;

use crate::{
    config::Config,
    desk::{Desk, DeskConfig},
    http::{AppState, Limits},
    store::{Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path} is not writable: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("demo tenant: {0}")]
    Demo(#[from] tenant_file::TenantFileError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("media engine: {0}")]
    Media(media::MediaError),
    #[error("SIP on {addr} (set another with --sip-addr): {source}")]
    Sip {
        addr: SocketAddr,
        source: sip::SipError,
    },
}

/// The two bound sockets.
pub struct Listeners {
    pub public: TcpListener,
    pub agent: TcpListener,
}

impl Listeners {
    pub async fn bind(config: &Config) -> std::io::Result<Self> {
        Ok(Self {
            public: TcpListener::bind(config.public_addr).await?,
            agent: TcpListener::bind(config.agent_addr).await?,
        })
    }

    pub fn addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.public.local_addr()?, self.agent.local_addr()?))
    }
}

/// Checks the data directory, opens the database (running migrations), closes
/// contacts a previous run left open, and seeds the demo tenant when asked.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let dir = &config.data_dir;
    let writable = std::fs::create_dir_all(dir).and_then(|()| {
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(probe)
    });
    if let Err(source) = writable {
        return Err(StartError::DataDir {
            path: dir.display().to_string(),
            source,
        });
    }
    let url = config.database_url.as_ref().map(secret::Secret::expose);
    let store = Store::open(url, dir).await?;
    let closed = store.close_stale_contacts().await?;
    if closed > 0 {
        tracing::warn!(closed, "closed contacts left open by the previous run");
    }
    if config.demo {
        demo::seed(&store).await?;
    }
    Ok(store)
}

/// The Prometheus recorder is process-wide; several servers in one test
/// process share it.
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then our
            // handle renders nothing, which is not worth stopping for.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Binds the media engine's UDP socket: on the announced address when it is
/// loopback (tests, a laptop), else on every interface (behind NAT the
/// announced address is not a local one).
async fn start_media(config: &Config) -> Result<media::MediaEngine, StartError> {
    let announce = config.media_announce_ip();
    let bind_ip = if announce.is_loopback() {
        announce
    } else {
        std::net::IpAddr::from([0, 0, 0, 0])
    };
    let engine = media::MediaEngine::start(media::MediaConfig {
        bind: SocketAddr::new(bind_ip, config.media_port),
        announce,
        connect_timeout: Duration::from_secs(config.media_connect_timeout_secs),
        rtp_ports: config.rtp_ports,
        rtp_source: match config.sip_peers.rtp_source {
            config::RtpSource::Strict => media::RtpSourcePolicy::Strict,
            config::RtpSource::Latch => media::RtpSourcePolicy::Latch,
        },
    })
    .await
    .map_err(StartError::Media)?;
    tracing::info!(port = engine.local_addr().port(), "media engine listening");
    Ok(engine)
}

/// Starts the SIP user agent for trunks; its Via and Contact carry the same
/// address as media candidates unless SIP listens on a specific address.
async fn start_sip(
    config: &Config,
) -> Result<(sip::SipAgent, tokio::sync::mpsc::Receiver<sip::SipEvent>), StartError> {
    let announce = if config.sip_addr.ip().is_unspecified() {
        config.media_announce_ip()
    } else {
        config.sip_addr.ip()
    };
    let started = sip::SipAgent::start(sip::SipConfig {
        bind: config.sip_addr,
        announce,
        invite_rate_per_source: config.sip_invites_per_source,
        no_answer_timeout: Duration::from_secs(config.sip_no_answer_secs),
        public_rate_per_source: config.sip_peers.public_rate_per_source,
        user_agent: config.sip_peers.user_agent.clone(),
        tcp_max_connections_per_ip: config.sip_peers.tcp_max_connections_per_ip,
        tcp_idle_timeout: Duration::from_secs(config.sip_peers.tcp_idle_timeout_secs),
        tcp_write_timeout: Duration::from_secs(config.sip_peers.tcp_write_timeout_secs),
    })
    .await
    .map_err(|source| StartError::Sip {
        addr: config.sip_addr,
        source,
    })?;
    tracing::info!(port = started.0.local_addr().port(), "SIP listening");
    Ok(started)
}

/// Serves both listeners until `shutdown` resolves.
pub async fn run(
    config: Config,
    store: Store,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let media = start_media(&config).await?;
    let sip = start_sip(&config).await?;
    let directory = directory::DirectoryService::start(
        store.clone(),
        Some(&sip.0),
        config.sip_peers.digest_sha256,
        Some(media.clone()),
        &config.data_dir,
        config.mailbox.clone(),
    );
    let webhooks = webhooks::start(store.clone(), config.webhooks.clone());
    let callback_links =
        callback_link::LinkKey::new(&store.server_key(callback_link::KEY_NAME).await?);
    let (desk, desk_task) = Desk::start(
        store.clone(),
        DeskConfig {
            offer_timeout: Duration::from_secs(config.offer_timeout_secs),
            visitor_grace: Duration::from_secs(config.visitor_grace_secs),
            recordings: config.data_dir.join("recordings"),
            webhooks,
            callback_links: callback_links.clone(),
        },
        Some(media),
        Some(sip),
    )
    .await?;
    directory.follow_desk(desk.stat_events());
    let wallboard = wallboard::Wallboard::start(store.clone(), desk.clone());
    let public_url = config.public_url.clone().or_else(|| {
        let addr = listeners.public.local_addr().ok()?;
        (!addr.ip().is_unspecified()).then(|| format!("http://{addr}"))
    });
    let state = AppState {
        store: store.clone(),
        desk,
        demo: config.demo,
        public_url,
        limits: std::sync::Arc::new(Limits::new(
            config.visitor_connects_per_minute,
            config.logins,
        )),
        metrics: metrics_handle(),
        recordings: config.data_dir.join("recordings"),
        revocations: http::staff::Revocations::start(store.clone()),
        hello_timeout: Duration::from_secs(config.connections.hello_timeout_secs),
        trusted_proxies: config.connections.trusted_proxies.clone().into(),
        cobrowse: cobrowse::Hub::start(store.clone(), config.webhooks.allow_private_addresses),
        directory,
        wallboard,
        callback_links,
    };
    // Push codes keyed on the phone open pages in shared co-browse sessions.
    state.cobrowse.follow_desk(state.desk.page_pushes());
    state.cobrowse.follow_shares(state.desk.cobrowse_shares());
    let open_files = http::serve::raise_open_file_limit();
    let (public_total, agent_total) = match config.connections.max_total {
        Some(total) => (total, total),
        None => http::serve::default_totals(open_files),
    };
    let caps = |total| http::serve::ConnectionCaps {
        total,
        per_ip: config.connections.max_per_ip,
        trusted_proxies: config.connections.trusted_proxies.clone().into(),
        header_read_timeout: Duration::from_secs(config.connections.header_read_timeout_secs),
    };
    let (public_places, agent_places) = (
        http::serve::Places::new(caps(public_total)),
        http::serve::Places::new(caps(agent_total)),
    );
    let public = http::public_router(state.clone());
    let agent = http::agent_router(state);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let servers = tokio::spawn(async move {
        tokio::join!(
            http::serve::serve(listeners.public, public, public_places, stop_rx.clone()),
            http::serve::serve(listeners.agent, agent, agent_places, stop_rx),
        )
    });
    shutdown.await;
    let _ = stop_tx.send(true);
    // WebSockets hold connections open; give them a moment, then stop anyway.
    match tokio::time::timeout(Duration::from_secs(5), servers).await {
        Ok(Ok(((), ()))) => {}
        Ok(Err(join)) => tracing::error!(error = %join, "server task failed"),
        Err(_) => tracing::warn!("connections still open at shutdown; closing"),
    }
    desk_task.abort();
    store.close().await;
    Ok(())
}
