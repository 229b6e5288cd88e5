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
//!   first ([`validate`]): malformed requests get the RFC 3261 §8.2 / RFC 4475 answer
//!   (400, 505, 483, 405/501, 416, 420, 415) without reaching the stack, responses
//!   that are invalid are dropped, initial INVITEs from sources that are not trunks get
//!   403 and floods get 503 / silence ([`ratelimit`]). TCP goes through rsipstack's own
//!   listener; its initial INVITEs get the same source and rate checks one layer up.
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
//! * [`validate`]: raw-datagram checks. [`sdp`], [`digest`], [`ratelimit`], [`number`].

pub mod agent;
mod call;
pub mod canonical;
pub mod digest;
mod keepalive;
pub mod number;
pub mod ratelimit;
pub mod sdp;
pub mod validate;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use agent::SipAgent;
pub use number::is_e164;
pub use sdp::{Codec, Direction, LocalMedia, RemoteMedia};

pub struct SipConfig {
    /// UDP and TCP on the same port; port 0 picks one (the same for both).
    pub bind: SocketAddr,
    /// Via / Contact host.
    pub announce: IpAddr,
    /// INVITEs per 10 s per source IP before 503 (and silence above twice that).
    pub invite_rate_per_source: u32,
    pub user_agent: String,
    /// Outbound ringing limit, then CANCEL and `Failed` 408.
    pub no_answer_timeout: Duration,
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
