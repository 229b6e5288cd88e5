//! The directory at run time: presence fed by the SIP registrar and by
//! staff consoles' heartbeats, and the registrar's accounts kept in step
//! with the store.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tracing::warn;

use super::Directory;
use super::presence::{MemoryPresence, Presence, Status};
use crate::ids::{TenantId, UserId};
use crate::store::{MemberId, Store, now_ms};

/// A console heartbeat keeps its member online this long.
pub const HEARTBEAT_TTL: Duration = Duration::from_mins(1);
/// REGISTERs per source address per 10 s (a NAT with many phones is one source).
const REGISTER_RATE_PER_SOURCE: u32 = 1000;
/// How often the registrar's accounts are read again (CLI changes land within it).
const ACCOUNTS_RELOAD: Duration = Duration::from_secs(30);
/// The device name presence knows SIP registrations by.
pub const SIP_DEVICE: &str = "sip";
/// The device name of an agent's routing state (their console in the ACD).
pub const ACD_DEVICE: &str = "acd";
/// How long the staff user -> member mapping is trusted before it is read again.
const MEMBER_CACHE_TTL_MS: i64 = 60_000;
/// Staff users whose member is remembered at most.
const MEMBER_CACHE_CAP: usize = 10_000;

/// What the HTTP handlers reach of the directory.
#[derive(Clone)]
pub struct DirectoryService {
    pub presence: Arc<dyn Presence>,
    pub directory: Directory,
    /// Calls by number and the mailbox.
    pub calls: super::calls::DirectCalls,
}

impl DirectoryService {
    /// Starts presence and, with a SIP agent, the registrar feeding it;
    /// calls by number with the media engine, their messages under
    /// `data_dir/mailbox`.
    pub fn start(
        store: Store,
        sip: Option<&sip::SipAgent>,
        sip_sha256: bool,
        media: Option<media::MediaEngine>,
        data_dir: &std::path::Path,
        mailbox: super::mailbox::MailboxSettings,
    ) -> Self {
        let memory = Arc::new(MemoryPresence::default());
        tokio::spawn(sweep(Arc::downgrade(&memory)));
        let presence: Arc<dyn Presence> = memory;
        // Numbers are given out by the CLI today; whatever gives them out
        // at run time keeps the default quarantine.
        let mailbox = super::mailbox::Mailbox::new(data_dir, store.clone(), mailbox);
        let calls = super::calls::DirectCalls::new(media, mailbox, Arc::clone(&presence));
        let directory = Directory::new(store, super::members::DEFAULT_QUARANTINE);
        if let Some(agent) = sip {
            let changes =
                agent.enable_registrar(registrar_config(sip_sha256), REGISTER_RATE_PER_SOURCE);
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
            calls,
        }
    }
}

impl DirectoryService {
    /// An agent's ACD state shows as their presence: available is online,
    /// reserved, busy and wrap-up are busy, not ready is away. Follows the
    /// desk's stat events until the desk or presence is gone.
    pub fn follow_desk(&self, events: tokio::sync::broadcast::Receiver<crate::store::StatEvent>) {
        tokio::spawn(follow_desk(
            events,
            Arc::downgrade(&self.presence),
            self.directory.store().clone(),
        ));
    }
}

/// The registrar's settings: MD5 challenges, or SHA-256 (RFC 8760) first
/// and then MD5 when the server is set so.
pub fn registrar_config(sha256: bool) -> sip::registrar::RegistrarConfig {
    use sip::registrar::DigestAlgorithm::{Md5, Sha256};
    sip::registrar::RegistrarConfig {
        algorithms: if sha256 { vec![Sha256, Md5] } else { vec![Md5] },
        ..sip::registrar::RegistrarConfig::default()
    }
}

fn acd_status(activity: &str) -> Option<Status> {
    Some(match activity {
        "available" => Status::Online,
        "reserved" | "busy" | "wrap_up" => Status::Busy,
        "not_ready" => Status::Away,
        "offline" => Status::Offline,
        _ => return None,
    })
}

async fn follow_desk(
    mut events: tokio::sync::broadcast::Receiver<crate::store::StatEvent>,
    presence: Weak<dyn Presence>,
    store: Store,
) {
    use tokio::sync::broadcast::error::RecvError;
    // (tenant, staff user) -> their member, and when that was read.
    let mut members: HashMap<(TenantId, i64), (Option<MemberId>, i64)> = HashMap::new();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            // Soft state: a skipped change is corrected by the agent's next one.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => break,
        };
        if event.kind != "agent_state" {
            continue;
        }
        let (Some(agent), Some(status)) = (
            event.agent,
            event.detail["state"].as_str().and_then(acd_status),
        ) else {
            continue;
        };
        let now = now_ms();
        let key = (event.tenant, agent);
        let member = match members.get(&key) {
            Some((member, at)) if now - at < MEMBER_CACHE_TTL_MS => *member,
            _ => {
                let member = match store.member_by_user(event.tenant, UserId(agent)).await {
                    Ok(m) => m.map(|m| m.id),
                    Err(e) => {
                        warn!(error = %e, "cannot read an agent's directory member");
                        continue;
                    }
                };
                if members.len() >= MEMBER_CACHE_CAP {
                    members.clear();
                }
                members.insert(key, (member, now));
                member
            }
        };
        let Some(member) = member else { continue };
        let Some(presence) = presence.upgrade() else {
            break;
        };
        presence.set(event.tenant, member, ACD_DEVICE, status, now, None);
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
