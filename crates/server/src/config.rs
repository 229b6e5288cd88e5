//! Layered configuration: defaults, then a TOML file, then `SWITCHBOARD_*`
//! environment variables, then command-line flags. Built once in `main` and passed
//! down; nothing reads the environment later.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
};

use serde::Deserialize;

pub use crate::secret::Secret;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub public_addr: SocketAddr,
    pub agent_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` means SQLite in `data_dir/switchboard.db`.
    pub database_url: Option<Secret>,
    /// Seed the demo tenant and serve the demo merchant pages.
    pub demo: bool,
    /// Seconds an offer rings before it counts as missed.
    pub offer_timeout_secs: u64,
    /// Seconds a conversation waits for a visitor who dropped off before it ends.
    pub visitor_grace_secs: u64,
    /// Visitor WebSocket connections allowed per client address per minute.
    pub visitor_connects_per_minute: u32,
    /// The public listener as merchants' pages reach it (behind a proxy, e.g.
    /// `https://contact.example.com`), for the embed snippets shown to admins.
    /// Default: `http://` + the bound public address, unless it is 0.0.0.0.
    pub public_url: Option<String>,
    /// UDP port every WebRTC session shares (0 picks a free one).
    pub media_port: u16,
    /// Address announced to browsers in ICE candidates; found from the host's
    /// interfaces when absent (the first non-loopback IPv4, else 127.0.0.1).
    pub media_ip: Option<IpAddr>,
    /// Seconds a call leg may take to connect (ICE and DTLS) before it is dropped.
    pub media_connect_timeout_secs: u64,
    /// Where SIP listens, UDP and TCP on the same port (trunks reach us here).
    pub sip_addr: SocketAddr,
    /// UDP ports for RTP legs to trunks, inclusive: RTP on even ports, RTCP on
    /// the next odd one. `(0, 0)` lets the system pick (tests).
    pub rtp_ports: (u16, u16),
    /// Seconds an outbound call may ring before it is given up (SIP CANCEL).
    pub sip_no_answer_secs: u64,
    /// INVITEs one source address may send per 10 s before it gets 503.
    pub sip_invites_per_source: u32,
    /// Connection caps and deadlines of both HTTP listeners (`[connections]`).
    pub connections: Connections,
    /// How many wrong passwords are let through, and how slow guessing gets
    /// (`[logins]`).
    pub logins: crate::http::LoginSettings,
    /// What SIP and RTP peers may do (`[sip_peers]`).
    pub sip_peers: SipPeers,
    /// Webhook deliveries: timeouts, retries, queue bounds, and whether
    /// private addresses may be reached (`[webhooks]`).
    pub webhooks: crate::webhooks::WebhookSettings,
    /// Directory calls: how long a member's devices ring, and the limits of
    /// voice and video mail (`[mailbox]`).
    pub mailbox: crate::directory::mailbox::MailboxSettings,
}

/// The `[sip_peers]` table: limits on SIP peers and whose RTP is taken.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipPeers {
    /// `User-Agent`/`Server` in what we send; empty sends neither (nothing
    /// tells a scanner what answers).
    pub user_agent: String,
    /// Requests per 10 s from an address that is no trunk (then 503, and past
    /// twice that, silence); trunks count apart (`sip_invites_per_source`).
    pub public_rate_per_source: u32,
    /// SIP TCP connections one address may hold.
    pub tcp_max_connections_per_ip: usize,
    /// Seconds a silent SIP TCP connection stays open.
    pub tcp_idle_timeout_secs: u64,
    /// Seconds a SIP TCP peer may take nothing we send before it is cut off.
    pub tcp_write_timeout_secs: u64,
    /// Whose RTP a phone leg takes: "strict" (only the address in the
    /// phone's SDP) or "latch" (learn it, for phones behind NAT).
    pub rtp_source: RtpSource,
    /// The registrar challenges with SHA-256 digests (RFC 8760) first, then
    /// MD5 (`SWITCHBOARD_SIP_DIGEST_SHA256`). Off by default: some devices
    /// give up on a challenge naming an algorithm they lack.
    pub digest_sha256: bool,
}

/// See [`SipPeers::rtp_source`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtpSource {
    #[default]
    Strict,
    Latch,
}

impl Default for SipPeers {
    fn default() -> Self {
        let sip = sip::SipConfig::default();
        Self {
            user_agent: String::new(),
            public_rate_per_source: sip.public_rate_per_source,
            tcp_max_connections_per_ip: sip.tcp_max_connections_per_ip,
            tcp_idle_timeout_secs: sip.tcp_idle_timeout.as_secs(),
            tcp_write_timeout_secs: sip.tcp_write_timeout.as_secs(),
            rtp_source: RtpSource::Strict,
            digest_sha256: false,
        }
    }
}

/// The `[connections]` table: what one client, and all of them, may hold open.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connections {
    /// Open connections in all, on each listener. `None`: together three
    /// quarters of the open-file limit (five sixths of it public, a sixth
    /// staff), the rest kept for the database, SIP, RTP and recordings.
    pub max_total: Option<usize>,
    /// Open connections per client address (a trusted proxy is held only to
    /// the total). An office behind one NAT address shares this.
    pub max_per_ip: usize,
    /// Seconds a connection may take to send a request's headers, and stay
    /// idle between requests, before it is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a WebSocket may stay open without its first (`hello`) frame.
    pub hello_timeout_secs: u64,
    /// Addresses of reverse proxies in front of the listeners: only from them
    /// is `X-Forwarded-For` believed, and only they may hold more than
    /// `max_per_ip` connections.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            max_total: None,
            max_per_ip: 256,
            header_read_timeout_secs: 10,
            hello_timeout_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            public_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            agent_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            demo: false,
            offer_timeout_secs: 20,
            visitor_grace_secs: 60,
            visitor_connects_per_minute: 60,
            public_url: None,
            media_port: 40000,
            media_ip: None,
            media_connect_timeout_secs: 20,
            sip_addr: SocketAddr::from(([127, 0, 0, 1], 5060)),
            rtp_ports: (41000, 41999),
            sip_no_answer_secs: 45,
            sip_invites_per_source: 20,
            connections: Connections::default(),
            logins: crate::http::LoginSettings::default(),
            sip_peers: SipPeers::default(),
            webhooks: crate::webhooks::WebhookSettings::default(),
            mailbox: crate::directory::mailbox::MailboxSettings::default(),
        }
    }
}

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    public_addr: Option<SocketAddr>,
    agent_addr: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    offer_timeout_secs: Option<u64>,
    visitor_grace_secs: Option<u64>,
    visitor_connects_per_minute: Option<u32>,
    public_url: Option<String>,
    media_port: Option<u16>,
    media_ip: Option<IpAddr>,
    media_connect_timeout_secs: Option<u64>,
    sip_addr: Option<SocketAddr>,
    /// "41000-41999".
    rtp_ports: Option<String>,
    sip_no_answer_secs: Option<u64>,
    sip_invites_per_source: Option<u32>,
    connections: Option<Connections>,
    logins: Option<crate::http::LoginSettings>,
    sip_peers: Option<SipPeers>,
    webhooks: Option<crate::webhooks::WebhookSettings>,
    mailbox: Option<crate::directory::mailbox::MailboxSettings>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
}

/// Overrides given on the command line (highest precedence).
#[derive(Debug, Default)]
pub struct Overrides {
    pub public_addr: Option<SocketAddr>,
    pub agent_addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub demo: bool,
    pub media_port: Option<u16>,
    pub media_ip: Option<IpAddr>,
    pub sip_addr: Option<SocketAddr>,
    pub rtp_ports: Option<(u16, u16)>,
}

impl Config {
    /// Builds the configuration from every layer. `env` is passed in (not read
    /// here) so tests can give their own.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: Overrides,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: crate::tenant_file::describe_toml_error(&text, &e),
            })?;
            config
                .apply_file(parsed)
                .map_err(|message| ConfigError::Parse {
                    path: path.to_owned(),
                    message,
                })?;
        }
        for (name, value) in env {
            config.apply_env(&name, &value)?;
        }
        config.apply_overrides(overrides);
        Ok(config)
    }

    fn apply_file(&mut self, file: FileConfig) -> Result<(), String> {
        if let Some(v) = file.public_addr {
            self.public_addr = v;
        }
        if let Some(v) = file.agent_addr {
            self.agent_addr = v;
        }
        if let Some(v) = file.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = file.database_url {
            self.database_url = Some(v);
        }
        if let Some(v) = file.offer_timeout_secs {
            self.offer_timeout_secs = v;
        }
        if let Some(v) = file.visitor_grace_secs {
            self.visitor_grace_secs = v;
        }
        if let Some(v) = file.visitor_connects_per_minute {
            self.visitor_connects_per_minute = v;
        }
        if let Some(v) = file.public_url {
            self.public_url = Some(v);
        }
        if let Some(v) = file.media_port {
            self.media_port = v;
        }
        if let Some(v) = file.media_ip {
            self.media_ip = Some(v);
        }
        if let Some(v) = file.media_connect_timeout_secs {
            self.media_connect_timeout_secs = v;
        }
        if let Some(v) = file.sip_addr {
            self.sip_addr = v;
        }
        if let Some(v) = file.rtp_ports {
            self.rtp_ports = parse_port_range(&v).map_err(|e| format!("rtp_ports: {e}"))?;
        }
        if let Some(v) = file.mailbox {
            self.mailbox = v.checked()?;
        }
        if let Some(v) = file.sip_no_answer_secs {
            self.sip_no_answer_secs = v;
        }
        if let Some(v) = file.sip_invites_per_source {
            self.sip_invites_per_source = v;
        }
        if let Some(v) = file.connections {
            if v.max_per_ip == 0 || v.max_total == Some(0) {
                return Err("connections: max_per_ip and max_total must be above 0".to_owned());
            }
            self.connections = v;
        }
        if let Some(v) = file.logins {
            v.check()?;
            self.logins = v;
        }
        if let Some(v) = file.sip_peers {
            if v.tcp_max_connections_per_ip == 0 || v.public_rate_per_source == 0 {
                return Err(
                    "sip_peers: tcp_max_connections_per_ip and public_rate_per_source must be above 0"
                        .to_owned(),
                );
            }
            self.sip_peers = v;
        }
        if let Some(v) = file.webhooks {
            v.check()?;
            self.webhooks = v;
        }
        Ok(())
    }

    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |message: String| ConfigError::Env {
            name: name.to_owned(),
            message,
        };
        match name {
            "SWITCHBOARD_PUBLIC_ADDR" => {
                self.public_addr = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_AGENT_ADDR" => {
                self.agent_addr = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "SWITCHBOARD_DATABASE_URL" => self.database_url = Some(Secret::new(value)),
            "SWITCHBOARD_OFFER_TIMEOUT_SECS" => {
                self.offer_timeout_secs = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_VISITOR_GRACE_SECS" => {
                self.visitor_grace_secs = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_PUBLIC_URL" => self.public_url = Some(value.to_owned()),
            "SWITCHBOARD_MEDIA_PORT" => {
                self.media_port = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_MEDIA_IP" => {
                self.media_ip = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
            }
            "SWITCHBOARD_SIP_ADDR" => {
                self.sip_addr = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_RTP_PORTS" => self.rtp_ports = parse_port_range(value).map_err(bad)?,
            "SWITCHBOARD_RING_TIMEOUT_SECS" => {
                self.mailbox.ring_timeout_secs = value.parse().map_err(|e| bad(format!("{e}")))?;
                self.mailbox = self.mailbox.clone().checked().map_err(bad)?;
            }
            "SWITCHBOARD_SIP_DIGEST_SHA256" => {
                self.sip_peers.digest_sha256 = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "SWITCHBOARD_SMTP_RELAY" => {
                self.mailbox.smtp_relay = Some(value.to_owned()).filter(|v| !v.is_empty());
                self.mailbox = self.mailbox.clone().checked().map_err(bad)?;
            }
            "SWITCHBOARD_MAILBOX_MAX_SECS" => {
                self.mailbox.max_message_secs = value.parse().map_err(|e| bad(format!("{e}")))?;
                self.mailbox = self.mailbox.clone().checked().map_err(bad)?;
            }
            "SWITCHBOARD_VISITOR_CONNECTS_PER_MINUTE" => {
                self.visitor_connects_per_minute =
                    value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn apply_overrides(&mut self, o: Overrides) {
        if let Some(v) = o.public_addr {
            self.public_addr = v;
        }
        if let Some(v) = o.agent_addr {
            self.agent_addr = v;
        }
        if let Some(v) = o.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = o.database_url {
            self.database_url = Some(Secret::new(v));
        }
        self.demo |= o.demo;
        if let Some(v) = o.media_port {
            self.media_port = v;
        }
        if let Some(v) = o.media_ip {
            self.media_ip = Some(v);
        }
        if let Some(v) = o.sip_addr {
            self.sip_addr = v;
        }
        if let Some(v) = o.rtp_ports {
            self.rtp_ports = v;
        }
    }

    /// The address announced in ICE candidates.
    pub fn media_announce_ip(&self) -> IpAddr {
        self.media_ip.unwrap_or_else(default_media_ip)
    }
}

/// "41000-41999" (inclusive) as a port range for RTP legs: an even start so
/// each leg gets an even RTP port and the odd one after it for RTCP, and room
/// for at least one pair. "0-0" lets the system pick.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (low, high) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not a range like 41000-41999"))?;
    let low: u16 = low.trim().parse().map_err(|e| format!("{low:?}: {e}"))?;
    let high: u16 = high.trim().parse().map_err(|e| format!("{high:?}: {e}"))?;
    if (low, high) == (0, 0) {
        return Ok((0, 0));
    }
    if low == 0 || !low.is_multiple_of(2) || high <= low {
        return Err(format!(
            "{text:?} must start at an even port above 0 and end above its start"
        ));
    }
    Ok((low, high))
}

/// The host's outward IPv4 address as routing sees it: a UDP socket "connected"
/// to a documentation address sends nothing but learns which local address the
/// kernel would use. Loopback when the host has no route.
fn default_media_ip() -> IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr());
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_port_ranges_are_checked() {
        assert_eq!(parse_port_range("41000-41999"), Ok((41000, 41999)));
        assert_eq!(parse_port_range("0-0"), Ok((0, 0)));
        for bad in ["41001-41999", "41000", "5-2", "0-10", "a-b", "41000-70000"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "public_addr = \"127.0.0.1:9000\"\nagent_addr = \"127.0.0.1:9001\"\n",
        )
        .unwrap();
        let env = vec![(
            "SWITCHBOARD_AGENT_ADDR".to_owned(),
            "127.0.0.1:9002".to_owned(),
        )];
        let overrides = Overrides {
            data_dir: Some("/tmp/x".into()),
            ..Overrides::default()
        };
        let c = Config::load(Some(&file), env, overrides).unwrap();
        assert_eq!(c.public_addr.port(), 9000);
        assert_eq!(c.agent_addr.port(), 9002);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let env = vec![("SWITCHBOARD_PUBLIC_ADDR".to_owned(), "nope".to_owned())];
        let err = Config::load(None, env, Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("SWITCHBOARD_PUBLIC_ADDR"));
    }

    #[test]
    fn unknown_file_key_is_an_error_with_line() {
        let dir = std::env::temp_dir().join(format!("sb-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "\n\npublik_addr = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), vec![], Overrides::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn the_logins_table_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("sb-config-logins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("logins.toml");
        std::fs::write(
            &path,
            "[logins]\nfailures_per_address_per_minute = 3\nmax_delay_ms = 500\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), vec![], Overrides::default()).unwrap();
        assert_eq!(config.logins.failures_per_address_per_minute, 3);
        assert_eq!(config.logins.max_delay_ms, 500);
        assert_eq!(config.logins.failures_per_user_and_address_per_5_minutes, 5);
        for bad in [
            "[logins]\nfailures_per_address_per_minute = 0\n",
            "[logins]\ndelay_step_ms = 500\nmax_delay_ms = 100\n",
            "[logins]\nguesses = 3\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                Config::load(Some(&path), vec![], Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_connections_table_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("sb-config-conn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[connections]\nmax_per_ip = 3\ntrusted_proxies = [\"10.0.0.5\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), vec![], Overrides::default()).unwrap();
        assert_eq!(config.connections.max_per_ip, 3);
        assert_eq!(
            config.connections.trusted_proxies,
            vec!["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
        // What is not given keeps its default.
        assert_eq!(config.connections.hello_timeout_secs, 10);
        for bad in [
            "[connections]\nmax_per_ip = 0\n",
            "[connections]\ntrusted_proxies = [\"proxy.example\"]\n",
            "[connections]\nmax_per_address = 3\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = Config::load(Some(&file), vec![], Overrides::default()).unwrap_err();
            assert!(
                err.to_string().contains("connections") || err.to_string().contains("line"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_sip_peers_table_reaches_defaults_and_settings() {
        let defaults = Config::default().sip_peers;
        assert!(
            defaults.user_agent.is_empty(),
            "nothing names us by default"
        );
        assert_eq!(defaults.rtp_source, RtpSource::Strict);
        let dir = std::env::temp_dir().join(format!("sb-config-sip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[sip_peers]\nuser_agent = \"PBX\"\nrtp_source = \"latch\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), vec![], Overrides::default()).unwrap();
        assert_eq!(config.sip_peers.user_agent, "PBX");
        assert_eq!(config.sip_peers.rtp_source, RtpSource::Latch);
        assert_eq!(
            config.sip_peers.tcp_max_connections_per_ip,
            defaults.tcp_max_connections_per_ip
        );
        std::fs::write(&file, "[sip_peers]\nrtp_source = \"loose\"\n").unwrap();
        assert!(Config::load(Some(&file), vec![], Overrides::default()).is_err());
    }

    #[test]
    fn mailbox_and_digest_settings_from_file_and_env() {
        let dir = std::env::temp_dir().join(format!("sb-config-mailbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[mailbox]\nring_timeout_secs = 10\nsmtp_relay = \"mail.example.com:587\"\n\
             [sip_peers]\ndigest_sha256 = true\n",
        )
        .unwrap();
        let env = vec![("SWITCHBOARD_MAILBOX_MAX_SECS".to_owned(), "30".to_owned())];
        let config = Config::load(Some(&file), env, Overrides::default()).unwrap();
        assert_eq!(config.mailbox.ring_timeout_secs, 10);
        assert_eq!(config.mailbox.max_message_secs, 30);
        assert_eq!(
            config.mailbox.smtp_relay.as_deref(),
            Some("mail.example.com:587")
        );
        assert!(config.sip_peers.digest_sha256);
        let algorithms = crate::directory::service::registrar_config(true).algorithms;
        assert_eq!(
            algorithms,
            vec![
                sip::registrar::DigestAlgorithm::Sha256,
                sip::registrar::DigestAlgorithm::Md5
            ]
        );
        std::fs::write(&file, "[mailbox]\nsmtp_relay = \"no-port\"\n").unwrap();
        assert!(Config::load(Some(&file), vec![], Overrides::default()).is_err());
        let env = vec![("SWITCHBOARD_RING_TIMEOUT_SECS".to_owned(), "0".to_owned())];
        assert!(Config::load(None, env, Overrides::default()).is_err());
    }
}
