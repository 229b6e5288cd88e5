//! The directory at run time: presence fed by the SIP registrar and by
//! staff consoles' heartbeats, and the registrar's accounts kept in step
//! with the store.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tracing::warn;

use super::Directory;
use super::presence::{MemoryPresence, Presence, Status};
use crate::store::{MemberId, Store, now_ms};

/// A console heartbeat keeps its member online this long.
pub const HEARTBEAT_TTL: Duration = Duration::from_mins(1);
/// REGISTERs per source address per 10 s (a NAT with many phones is one source).
const REGISTER_RATE_PER_SOURCE: u32 = 1000;
/// How often the registrar's accounts are read again (CLI changes land within it).
const ACCOUNTS_RELOAD: Duration = Duration::from_secs(30);
/// The device name presence knows SIP registrations by.
pub const SIP_DEVICE: &str = "sip";

/// What the HTTP handlers reach of the directory.
#[derive(Clone)]
pub struct DirectoryService {
    pub presence: Arc<dyn Presence>,
    pub directory: Directory,
}

impl DirectoryService {
    /// Starts presence and, with a SIP agent, the registrar feeding it.
    pub fn start(store: Store, sip: Option<&sip::SipAgent>) -> Self {
        let memory = Arc::new(MemoryPresence::default());
        tokio::spawn(sweep(Arc::downgrade(&memory)));
        let presence: Arc<dyn Presence> = memory;
        // Numbers are given out by the CLI today; whatever gives them out
        // at run time keeps the default quarantine.
        let directory = Directory::new(store, super::members::DEFAULT_QUARANTINE);
        if let Some(agent) = sip {
            let changes = agent.enable_registrar(
                sip::registrar::RegistrarConfig::default(),
                REGISTER_RATE_PER_SOURCE,
            );
            tokio::spawn(feed(
                changes,
                agent.registrar(),
                Arc::downgrade(&presence),
                directory.clone(),
            ));
        }
        DirectoryService {
            presence,
            directory,
        }
    }
}

/// Drops console devices whose heartbeat lapsed, until presence is gone.
async fn sweep(presence: Weak<MemoryPresence>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(presence) = presence.upgrade() else {
            break;
        };
        presence.expire(now_ms());
    }
}

async fn reload(registrar: &sip::registrar::RegistrarHandle, directory: &Directory) {
    match directory.sip_accounts().await {
        Ok(accounts) => registrar.set_accounts(accounts),
        Err(e) => warn!(error = %e, "cannot read SIP accounts"),
    }
}

/// Registrations into presence; accounts from the store now and then.
async fn feed(
    mut changes: tokio::sync::mpsc::Receiver<sip::registrar::Registration>,
    registrar: sip::registrar::RegistrarHandle,
    presence: Weak<dyn Presence>,
    directory: Directory,
) {
    let mut tick = tokio::time::interval(ACCOUNTS_RELOAD);
    loop {
        tokio::select! {
            change = changes.recv() => {
                let Some(change) = change else { break };
                let Some(presence) = presence.upgrade() else { break };
                let status = if change.contacts > 0 { Status::Online } else { Status::Offline };
                presence.set(
                    change.tenant.into(),
                    MemberId(change.member),
                    SIP_DEVICE,
                    status,
                    now_ms(),
                    None,
                );
            }
            _ = tick.tick() => {
                if presence.strong_count() == 0 {
                    break;
                }
                reload(&registrar, &directory).await;
            }
        }
    }
}
