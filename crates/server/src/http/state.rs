//! What every handler reaches ([`AppState`]) and the listeners' rate limits.
//! On its own so that the handlers outside `http` (the WebSockets, the
//! directory, co-browse) can take the state without importing the router
//! that mounts them.

use std::{sync::Arc, time::Duration};

use super::{LoginSettings, limit, staff};
use crate::{desk::Desk, store::Store};

/// What every handler can reach. Built once in `run` and cloned per request.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub desk: Desk,
    pub demo: bool,
    /// Where merchants' pages load the widget from (see `Config::public_url`).
    pub public_url: Option<String>,
    pub limits: Arc<Limits>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Where call recordings are (the desk writes them, staff download them).
    pub recordings: std::path::PathBuf,
    /// Ended sessions, so their connections close (see `staff::Revocations`).
    pub revocations: staff::Revocations,
    /// How long a visitor WebSocket may stay open without its `hello`.
    pub hello_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Live co-browse sessions (pages shared with agents).
    pub cobrowse: crate::cobrowse::Hub,
    /// Members, numbers and presence.
    pub directory: crate::directory::DirectoryService,
    /// Supervisors' live boards (`GET /ws/supervisor`).
    pub wallboard: crate::wallboard::Wallboard,
    /// Checks the links visitors keep to change their callbacks.
    pub callback_links: crate::callback_link::LinkKey,
}

/// The rate limits of both listeners.
pub struct Limits {
    /// Failed logins per address and per (user, address), and the per-user delay.
    pub login: limit::LoginThrottle,
    /// Visitor WebSocket connections per client address.
    pub visitor_connect: limit::RateLimiter,
}

impl Limits {
    pub fn new(visitor_connects_per_minute: u32, logins: LoginSettings) -> Self {
        Self {
            login: limit::LoginThrottle::new(logins),
            visitor_connect: limit::RateLimiter::new(
                visitor_connects_per_minute.max(1),
                Duration::from_mins(1),
            ),
        }
    }
}
