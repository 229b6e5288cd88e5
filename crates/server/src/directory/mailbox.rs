//! Voice and video mail (002 Fig. 17): what a caller leaves when the member
//! is offline, busy or does not answer. The media engine records the
//! caller's leg (Opus audio in Ogg, VP8 video in IVF) into the tenant's
//! directory under `data_dir/mailbox/`; once the call ends the files are
//! measured and indexed in the database (`mailbox_messages`), and the member
//! plays and deletes them from the directory page.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing::warn;

use crate::ids::TenantId;
use crate::store::mailbox::{MailboxMessage, NewMessage};
use crate::store::{MemberId, Store, StoreError};

/// The `[mailbox]` table of the config file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxSettings {
    /// Seconds a member's devices ring before the caller is offered the
    /// mailbox (`SWITCHBOARD_RING_TIMEOUT_SECS`).
    pub ring_timeout_secs: u64,
    /// Longest message; a longer one is cut here and the caller told
    /// (`SWITCHBOARD_MAILBOX_MAX_SECS`).
    pub max_message_secs: u64,
    /// Largest message (audio and video together); cut here as well.
    pub max_message_bytes: u64,
    /// `host:port` of an SMTP relay: members with an email address get a
    /// notice of each new message (`SWITCHBOARD_SMTP_RELAY`). None: no email.
    pub smtp_relay: Option<String>,
    /// Whether the relay must offer STARTTLS (false: plain SMTP, for a relay
    /// on this host or a private network).
    pub smtp_starttls: bool,
    /// The notices' sender.
    pub smtp_from: String,
}

impl Default for MailboxSettings {
    fn default() -> Self {
        MailboxSettings {
            ring_timeout_secs: 25,
            max_message_secs: 120,
            max_message_bytes: 16 * 1024 * 1024,
            smtp_relay: None,
            smtp_starttls: true,
            smtp_from: "Switchboard <switchboard@localhost>".to_owned(),
        }
    }
}

impl MailboxSettings {
    /// The settings if they make sense, else why not.
    pub fn checked(self) -> Result<Self, String> {
        if !(1..=600).contains(&self.ring_timeout_secs) {
            return Err("mailbox: ring_timeout_secs is 1 to 600".to_owned());
        }
        if !(1..=3600).contains(&self.max_message_secs) {
            return Err("mailbox: max_message_secs is 1 to 3600".to_owned());
        }
        if self.max_message_bytes < 64 * 1024 {
            return Err("mailbox: max_message_bytes is at least 65536".to_owned());
        }
        if let Some(relay) = &self.smtp_relay {
            relay_address(relay)?;
        }
        self.smtp_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("mailbox: smtp_from: {e}"))?;
        Ok(self)
    }
}

/// `host:port` of a relay, split.
fn relay_address(relay: &str) -> Result<(&str, u16), String> {
    let bad = || format!("mailbox: smtp_relay {relay:?} is not host:port");
    let (host, port) = relay.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

/// A message shorter than this is taken for a caller who changed their
/// mind, and not kept.
const MIN_MESSAGE_MS: i64 = 1_000;
/// An IVF file this small holds no frame (its header only).
const IVF_HEADER: u64 = 32;

/// Where the tenants' messages are and how they are indexed.
#[derive(Clone)]
pub struct Mailbox {
    root: PathBuf,
    store: Store,
    pub settings: MailboxSettings,
}

/// The files one message is being recorded into.
#[derive(Debug, Clone)]
pub struct Recording {
    pub dir: PathBuf,
    /// File-name stem the media engine's recorder writes under.
    pub stem: String,
}

impl Recording {
    pub fn audio(&self) -> PathBuf {
        self.dir.join(format!("{}-visitor.ogg", self.stem))
    }
    /// The recorder writes the other party's file too; nobody is on it.
    fn other_party(&self) -> PathBuf {
        self.dir.join(format!("{}-agent.ogg", self.stem))
    }
    pub fn video(&self) -> PathBuf {
        self.dir.join(format!("{}.ivf", self.stem))
    }
    /// Bytes written so far (for the size limit while recording).
    pub fn bytes(&self) -> u64 {
        file_len(&self.audio()) + file_len(&self.video())
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Who left a message, as the member will see it.
pub struct Caller<'a> {
    pub name: &'a str,
    pub number: &'a str,
}

impl Mailbox {
    pub fn new(data_dir: &Path, store: Store, settings: MailboxSettings) -> Self {
        Mailbox {
            root: data_dir.join("mailbox"),
            store,
            settings,
        }
    }

    fn tenant_dir(&self, tenant: TenantId) -> PathBuf {
        self.root.join(tenant.0.to_string())
    }

    /// Where call `call` of `tenant` records its message.
    pub fn recording(&self, tenant: TenantId, call: u64) -> Recording {
        let stamp = crate::store::now_ms();
        Recording {
            dir: self.tenant_dir(tenant),
            stem: format!("msg-{stamp}-{call}"),
        }
    }

    /// After the call ended: drops the empty files, and indexes the message
    /// unless it is too short to be one. The stored message, if kept.
    pub async fn keep(
        &self,
        tenant: TenantId,
        member: MemberId,
        recording: &Recording,
        caller: &Caller<'_>,
        duration_ms: i64,
        cut: bool,
    ) -> Result<Option<MailboxMessage>, StoreError> {
        remove(&recording.other_party());
        let video = recording.video();
        let has_video = file_len(&video) > IVF_HEADER;
        if !has_video {
            remove(&video);
        }
        if duration_ms < MIN_MESSAGE_MS {
            remove(&recording.audio());
            remove(&video);
            return Ok(None);
        }
        let name = |p: PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let audio_file = name(recording.audio());
        let video_file = has_video.then(|| name(video));
        let message = NewMessage {
            member,
            caller: caller.name,
            caller_number: caller.number,
            duration_ms,
            bytes: i64::try_from(recording.bytes()).unwrap_or(i64::MAX),
            audio_file: &audio_file,
            video_file: video_file.as_deref(),
            cut,
        };
        let id = self.store.add_mailbox_message(tenant, &message).await?;
        let stored = self.store.mailbox_message(tenant, member, id).await?;
        if let Some(kept) = &stored {
            self.announce(tenant, kept).await;
        }
        Ok(stored)
    }

    /// Tells the tenant's webhooks a message was left. Only what identifies
    /// it goes out (never the recording); a failure to queue is logged and
    /// the message stays kept.
    async fn announce(&self, tenant: TenantId, message: &MailboxMessage) {
        let data = serde_json::json!({
            "message": {
                "id": message.id,
                "member": message.member.0,
                "caller": message.caller,
                "caller_number": message.caller_number,
                "created_at": message.created_at,
                "duration_ms": message.duration_ms,
                "video": message.video,
                "cut": message.cut,
            }
        });
        let kind = crate::webhooks::EventKind::MessageLeft;
        if let Err(e) = crate::webhooks::emit(&self.store, tenant, None, kind, data).await {
            warn!(error = %e, "message-left event not queued for webhooks");
        }
    }

    /// A stored message's file, `video` or audio; `None` if the message has
    /// no such file. File names come from our own rows, never from a request.
    pub fn file(&self, message: &MailboxMessage, video: bool) -> Option<PathBuf> {
        let name = if video {
            message.video_file.as_deref()?
        } else {
            message.audio_file.as_str()
        };
        Some(self.tenant_dir(message.tenant).join(name))
    }

    /// Emails the member a notice of a new message, if a relay is set and
    /// they gave an address. Sent from a task of its own; a failure is
    /// logged (without the address) and changes nothing else.
    pub fn email_notice(&self, tenant: TenantId, message: &MailboxMessage) {
        let Some(relay) = self.settings.smtp_relay.clone() else {
            return;
        };
        let (store, settings, message) =
            (self.store.clone(), self.settings.clone(), message.clone());
        tokio::spawn(async move {
            let to = match store.member_settings(tenant, message.member).await {
                Ok(s) if !s.email.is_empty() => s.email,
                Ok(_) => return,
                Err(e) => {
                    warn!(error = %e, "cannot read a member's email");
                    return;
                }
            };
            if let Err(e) = send_notice(&relay, &settings, &to, &message).await {
                warn!(error = %e, message = message.id, "new-message email not sent");
            }
        });
    }

    /// Deletes a message's files (its row is already gone).
    pub fn delete_files(&self, message: &MailboxMessage) {
        for video in [false, true] {
            if let Some(path) = self.file(message, video) {
                remove(&path);
            }
        }
    }
}

fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!(error = %e, "cannot remove a mailbox file"),
    }
}

/// One new-message notice through the relay. It says who called and when,
/// never what they said.
async fn send_notice(
    relay: &str,
    settings: &MailboxSettings,
    to: &str,
    message: &MailboxMessage,
) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let (host, port) = relay_address(relay)?;
    let kind = if message.video { "video" } else { "voice" };
    let from_number = if message.caller_number.is_empty() {
        String::new()
    } else {
        format!(" ({})", message.caller_number)
    };
    let email = Message::builder()
        .from(
            settings
                .smtp_from
                .parse()
                .map_err(|e| format!("from: {e}"))?,
        )
        .to(to.parse().map_err(|e| format!("to: {e}"))?)
        .subject(format!("New {kind} message from {}", message.caller))
        .body(format!(
            "{} left you a {kind} message{from_number}, {} s long.\n\
             Sign in to the directory page to play it.\n",
            message.caller,
            message.duration_ms / 1000
        ))
        .map_err(|e| e.to_string())?;
    let transport = if settings.smtp_starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    }
    .port(port)
    .timeout(Some(std::time::Duration::from_secs(30)))
    .build();
    transport.send(email).await.map_err(|e| e.to_string())?;
    Ok(())
}
