//! # switchboard-sip: the SIP trunk user agent
//!
//! The server hands this crate its trunks and, per call, the address of a local RTP
//! leg; the crate speaks SIP to the trunks and reports what happens as [`SipEvent`]s.
//! It knows nothing of desks, stores or media: SDP is the only media it touches.
//!
//! ## Design
//!
//! * **Stack: rsipstack, pinned `=0.7.14`, `platform-tokio` only** (no TLS, WebSocket
//!   or SRV code). It provides RFC 3261 transactions with retransmission timers, UAC and
//!   UAS INVITE dialogs, CANCEL, PRACK for reliable provisionals, re-INVITE, and digest
//!   retries of a challenged INVITE (ACK of the 401/407, new CSeq, Authorization). Those
//!   are the parts that are easy to get subtly wrong and costly to write again; the
//!   transaction layer alone is most of what a trunk user agent is.
//! * **A guard in front of the stack.** rsipstack reads UDP through a socket trait, so
//!   the agent gives it a socket ([`agent`]'s `GuardedUdp`) that judges each datagram
//!   first (`Gate::judge`, [`validate`]): malformed requests get the RFC 3261 §8.2 /
//!   RFC 4475 answer (400, 505, 483, 405/501, 416, 420, 415) without reaching the
//!   stack, responses that are invalid are dropped. Sources that are no trunk count
//!   against a public rate ([`ratelimit`]) and are answered statelessly (INVITE 403,
//!   OPTIONS 200, other out-of-dialog requests 481): no transaction is kept for them.
//!   A trunk's INVITEs count against a separate trunk rate. Every refusal is counted
//!   in `switchboard_sip_refused_total{reason}` and logged once a minute per reason.
//! * **Inbound TCP is ours** (`tcp`): a listener with a per-IP cap and an idle
//!   close; per connection a reader that applies the same judge and a writer with
//!   a deadline and a bounded queue. The stack sees an in-memory channel whose
//!   sends never wait, so no peer that stops reading can stall the stack's loop
//!   or the dispatch loop. Outbound TCP (to our trunks) is rsipstack's.
//! * **Nothing names the library**: Call-IDs are a random token at our announce
//!   address; `User-Agent` (requests) / `Server` (responses) carry
//!   [`SipConfig::user_agent`], and nothing when it is empty (the default).
//! * **One task per call.** Each call is a task that owns its rsipstack dialog and
//!   its dialog-state channel; [`SipAgent`]'s methods are commands to that task.
//! * **SDP is ours** ([`sdp`]): one audio stream, PCMU/PCMA and telephone-event.
//! * **No personal data at info level**: numbers, addresses and bodies appear only in
//!   `debug!`. rsipstack itself logs whole messages at info level under the
//!   `rsipstack` target, so the server's filter should set `rsipstack=warn`.
//!
//! ## Layout
//!
//! * [`agent`]: `SipAgent`, the listeners, the request dispatch and the source gate.
//! * `call`: the per-call tasks (outbound and inbound).
//! * `keepalive`: OPTIONS towards trunks, `TrunkStatus` events.
//! * `tcp`: the inbound TCP listener and its connections. `refusal`: counting and
//!   logging refusals.
//! * [`validate`]: raw-datagram checks. [`sdp`], [`digest`], [`ratelimit`], [`number`].

pub mod agent;
mod call;
pub mod canonical;
pub mod digest;
mod keepalive;
pub mod number;
pub mod ratelimit;
mod refusal;
pub mod registrar;
pub mod sdp;
mod tcp;
pub mod validate;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use agent::SipAgent;
pub use number::is_e164;
pub use sdp::{Codec, Direction, LocalMedia, RemoteMedia};

pub struct SipConfig {
    /// UDP and TCP on the same port; port 0 picks one (the same for both).
    pub bind: SocketAddr,
    /// Via / Contact host, and the host part of the Call-IDs we make.
    pub announce: IpAddr,
    /// INVITEs per 10 s per trunk source IP before 503 (and silence above twice
    /// that). Counted apart from the public budget: strangers cannot use it up.
    pub invite_rate_per_source: u32,
    /// Requests per 10 s per source IP that is no trunk's (OPTIONS probes,
    /// stray INVITEs, in-dialog requests) before 503, silence above twice that.
    pub public_rate_per_source: u32,
    /// `User-Agent` on our requests and `Server` on our responses; empty (the
    /// default) sends neither, so nothing we send names our software.
    pub user_agent: String,
    /// Outbound ringing limit, then CANCEL and `Failed` 408.
    pub no_answer_timeout: Duration,
    /// Inbound TCP connections at once from one IP address; more are closed
    /// as they are accepted.
    pub tcp_max_connections_per_ip: usize,
    /// An inbound TCP connection that sends nothing for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// An inbound TCP peer that takes nothing we write for this long, or lets
    /// more than [`TCP_MAX_QUEUED_BYTES`] pile up unread, is closed. Nothing
    /// else ever waits on its socket.
    pub tcp_write_timeout: Duration,
}

/// What may wait for one TCP peer to read before it is cut off.
pub const TCP_MAX_QUEUED_BYTES: usize = 256 * 1024;

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            bind: SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 5060),
            announce: IpAddr::from([127, 0, 0, 1]),
            invite_rate_per_source: 20,
            public_rate_per_source: 20,
            user_agent: String::new(),
            no_answer_timeout: Duration::from_secs(45),
            tcp_max_connections_per_ip: 8,
            tcp_idle_timeout: Duration::from_mins(5),
            tcp_write_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

#[derive(Clone, Debug)]
pub struct Trunk {
    pub tenant: TenantId,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub username: Option<String>,
    pub password: Option<String>,
    /// E.164 default From.
    pub caller_id: Option<String>,
    /// Inbound INVITEs are accepted only from these; empty = the host's addresses.
    pub allowed_sources: Vec<IpAddr>,
    /// OPTIONS keepalive towards the trunk.
    pub options_interval: Option<Duration>,
    /// The called numbers (E.164) this trunk carries. When trunks of
    /// several tenants share a source address, an INVITE from it goes to the
    /// trunk listing its called number, and is refused (404) when none does.
    pub numbers: Vec<String>,
}

/// Our id for a call (not the SIP Call-ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SipCallId(pub u64);

/// A tenant as the server numbers it; the SIP agent only carries it, to say
/// whose trunk a call or a status belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TenantId(pub i64);

/// A call that came in on a trunk, waiting for an answer or a rejection.
#[derive(Clone, Debug)]
pub struct IncomingCall {
    pub call: SipCallId,
    /// The tenant whose trunk it came in on.
    pub tenant: TenantId,
    pub trunk: String,
    pub from: String,
    pub to: String,
    pub sip_call_id: String,
    pub media: RemoteMedia,
}

pub struct Dial {
    pub tenant: TenantId,
    pub trunk: String,
    /// E.164, validated again here.
    pub to: String,
    /// E.164 caller id presented.
    pub from: String,
    pub media: LocalMedia,
}

#[derive(Clone, Debug)]
pub enum SipEvent {
    Incoming(IncomingCall),
    Progress {
        call: SipCallId,
        code: u16,
        media: Option<RemoteMedia>,
    },
    Answered {
        call: SipCallId,
        sip_call_id: String,
        media: RemoteMedia,
    },
    Failed {
        call: SipCallId,
        code: u16,
        reason: String,
    },
    RemoteHold {
        call: SipCallId,
        media: RemoteMedia,
    },
    Ended {
        call: SipCallId,
        by_remote: bool,
        code: Option<u16>,
    },
    TrunkStatus {
        tenant: TenantId,
        trunk: String,
        up: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("cannot bind SIP listeners: {0}")]
    Bind(#[source] std::io::Error),
    #[error("SIP stack error: {0}")]
    Stack(String),
    #[error("unknown trunk")]
    UnknownTrunk,
    #[error("not an E.164 number")]
    BadNumber,
    #[error("cannot resolve trunk host")]
    Resolve,
    #[error("no such call")]
    NoSuchCall,
    #[error("not possible in the call's current state")]
    WrongState,
    #[error("status code out of range")]
    BadCode,
    #[error("remote SDP unusable: {0}")]
    Sdp(#[from] sdp::SdpError),
}

impl From<rsipstack::Error> for SipError {
    fn from(e: rsipstack::Error) -> Self {
        SipError::Stack(e.to_string())
    }
}
