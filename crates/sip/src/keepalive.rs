//! OPTIONS keepalives towards trunks; a change of reachability becomes a
//! `TrunkStatus` event. Any response counts as up (a trunk answering 401 or 404 to
//! OPTIONS is alive); no response within the wait counts as down.

use std::sync::{Arc, Weak};
use std::time::Duration;

use rsipstack::sip::{SipMessage, StatusCodeKind};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::agent::Inner;
use crate::{SipEvent, Transport, Trunk};

const MAX_WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn run(inner: Weak<Inner>, trunk: Trunk, stop: CancellationToken) {
    let Some(interval) = trunk.options_interval else {
        return;
    };
    let interval = interval.max(Duration::from_millis(100));
    let mut last: Option<bool> = None;
    let mut seq: u32 = 0;
    loop {
        let Some(agent) = inner.upgrade() else { return };
        seq = seq.wrapping_add(1);
        let up = tokio::select! {
            () = stop.cancelled() => return,
            up = probe(&agent, &trunk, seq, interval.min(MAX_WAIT)) => up,
        };
        if last != Some(up) {
            last = Some(up);
            agent.emit(SipEvent::TrunkStatus {
                tenant: trunk.tenant,
                trunk: trunk.name.clone(),
                up,
            });
        }
        drop(agent);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn probe(agent: &Arc<Inner>, trunk: &Trunk, seq: u32, wait: Duration) -> bool {
    let Ok(Some(dest)) = tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
        .await
        .map(|mut a| a.next())
    else {
        return false;
    };
    let (proto, transport) = match trunk.transport {
        Transport::Udp => ("UDP", rsipstack::sip::Transport::Udp),
        Transport::Tcp => ("TCP", rsipstack::sip::Transport::Tcp),
    };
    let host = match agent.config.announce {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let port = agent.local.port();
    let target = match dest {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => a.to_string(),
    };
    let text = format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/{proto} {host}:{port};branch=z9hG4bK{:016x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:keepalive@{host}>;tag={:08x}\r\nTo: <sip:{target}>\r\nCall-ID: {:016x}@{host}\r\nCSeq: {seq} OPTIONS\r\n{}Content-Length: 0\r\n\r\n",
        rand::random::<u64>(),
        rand::random::<u32>(),
        rand::random::<u64>(),
        user_agent_line(&agent.config.user_agent),
    );
    let Ok(SipMessage::Request(request)) = SipMessage::try_from(text.as_bytes()) else {
        return false;
    };
    let Ok(key) = TransactionKey::from_request(&request, TransactionRole::Client) else {
        return false;
    };
    let mut tx = Transaction::new_client(key, request, agent.endpoint.clone(), None);
    tx.destination = Some(SipAddr {
        r#type: Some(transport),
        addr: dest.into(),
    });
    let exchange = async {
        if let Err(e) = tx.send().await {
            debug!(error = %e, "OPTIONS send failed");
            return false;
        }
        while let Some(msg) = tx.receive().await {
            if let SipMessage::Response(resp) = msg
                && resp.status_code.kind() != StatusCodeKind::Provisional
            {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(wait, exchange).await.unwrap_or(false)
}

/// The `User-Agent` line of our OPTIONS, none when no name is configured.
fn user_agent_line(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("User-Agent: {name}\r\n")
    }
}
