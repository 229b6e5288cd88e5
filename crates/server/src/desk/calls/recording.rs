//! A recorded call's files and the record that names them.
//!
//! The rule: no recording file exists that no contact record names. When a
//! recorded call connects, the desk queues a write of the call's record with
//! the recording's name through its writer (never awaiting it, `writer.rs`),
//! and starts the recorder only when that write has committed and come back
//! as [`Stored::RecordingLinked`]. If the call ended meanwhile, nothing
//! starts, and the end's own write of the record (same lane, so after the
//! link) takes the name off again. A crash between the link and the files
//! leaves a record naming files that were never made, which the API answers
//! as not found; never a file without a record. The cost is that the first
//! moments of the call, until the write commits, are not recorded.
//!
//! Files left by a crash before this rule are counted at start
//! ([`count_unlinked`]) and kept: nothing tells a leftover from a file an
//! operator put there, so deleting them is left to the operator.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use super::super::{DeskState, stored::Stored};
use crate::{
    ids::{ContactId, TenantId},
    store::{ContactWrite, Store},
};

/// Where a call's recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::desk) enum Recorder {
    /// Not recording (the link does not record, or the call has not connected).
    Off,
    /// The record's link to the files is being stored.
    Linking,
    /// The recorder was asked to start (the record names its files).
    Running,
}

/// The recording's name in the record and on disk (`{tenant}/{contact}`).
fn stem(tenant: TenantId, contact: ContactId) -> String {
    format!("{}/{}", tenant.0, contact.0)
}

impl DeskState {
    /// A recorded call connected: store the record naming its files first.
    pub(in crate::desk) fn link_recording(&mut self, tenant: TenantId, contact: ContactId) {
        let Some(call) = self.contacts.call_mut(contact) else {
            return;
        };
        call.recorder = Recorder::Linking;
        call.record.recording = Some(stem(tenant, contact));
        let write = ContactWrite::Call {
            tenant,
            contact,
            call: call.record.clone(),
        };
        let tx = self.stored_tx.clone();
        self.writer.write_then(write, move |result| {
            let ok = result.is_ok();
            let _ = tx.send(Stored::RecordingLinked { contact, ok });
        });
    }

    /// The record names the files (or could not be made to): the recorder
    /// starts if the call is still on.
    pub(in crate::desk) async fn recording_linked(&mut self, contact: ContactId, ok: bool) {
        let Some(live) = self.contacts.get_mut(contact) else {
            return;
        };
        let tenant = live.tenant;
        let Some(call) = live
            .call
            .as_mut()
            .filter(|c| c.recorder == Recorder::Linking)
        else {
            // The call ended meanwhile: no files.
            return;
        };
        if !ok {
            // Not recorded rather than recorded without a record; the next
            // connect (a console reload) tries again.
            call.recorder = Recorder::Off;
            call.record.recording = None;
            return;
        }
        call.recorder = Recorder::Running;
        let handle = call.handle.clone();
        let dir = self.config.recordings.join(tenant.0.to_string());
        if let Err(e) = handle.record(dir, contact.0.to_string()).await {
            // The record keeps the name: a file begun before the failure is
            // still named, and a missing one is answered as not found.
            tracing::error!(error = %e, "starting a recording failed");
        }
    }
}

/// Counts the recording files under `dir` that no contact record names and
/// warns about them. They are kept (see the module doc).
pub(in crate::desk) async fn count_unlinked(store: Store, dir: PathBuf) {
    match unlinked(&store, dir.clone()).await {
        Ok(0) => {}
        Ok(files) => tracing::warn!(
            files,
            dir = %dir.display(),
            "recording files that no contact record names (left by an earlier crash); kept"
        ),
        Err(e) => tracing::warn!(error = %e, "could not look for unnamed recordings"),
    }
}

/// How many files under `dir` no record names. The files are listed before
/// the records are read: a file listed was named by a committed record
/// before it was made, so a call starting meanwhile is not miscounted.
async fn unlinked(store: &Store, dir: PathBuf) -> Result<usize, UnlinkedError> {
    let files = tokio::task::spawn_blocking(move || recording_files(&dir))
        .await
        .map_err(|e| UnlinkedError::Io(std::io::Error::other(e)))??;
    let mut named = HashSet::new();
    for tenant in store.tenant_ids().await? {
        named.extend(store.recording_stems(tenant).await?);
    }
    Ok(files
        .iter()
        .filter(|f| f.stem.as_ref().is_none_or(|s| !named.contains(s)))
        .count())
}

#[derive(Debug, thiserror::Error)]
enum UnlinkedError {
    #[error("listing recordings: {0}")]
    Io(#[from] std::io::Error),
    #[error("reading records: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// A file in the recordings directory, with the stem a record would name it
/// by (`None` when its place or name is not one the recorder makes).
#[derive(Debug, PartialEq, Eq)]
struct RecordingFile {
    stem: Option<String>,
}

/// Every file under `dir` (one level of tenant directories); none when the
/// directory does not exist yet.
fn recording_files(dir: &Path) -> std::io::Result<Vec<RecordingFile>> {
    let mut files = Vec::new();
    let tenants = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for tenant in tenants {
        let tenant = tenant?;
        if !tenant.file_type()?.is_dir() {
            files.push(RecordingFile { stem: None });
            continue;
        }
        let tenant_id = tenant
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i64>().ok());
        for file in std::fs::read_dir(tenant.path())? {
            let name = file?.file_name();
            let contact = name
                .to_str()
                .and_then(|n| {
                    n.strip_suffix("-visitor.ogg")
                        .or_else(|| n.strip_suffix("-agent.ogg"))
                })
                .and_then(|c| c.parse::<i64>().ok());
            files.push(RecordingFile {
                stem: tenant_id
                    .zip(contact)
                    .map(|(t, c)| stem(TenantId(t), ContactId(c))),
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        std::env::temp_dir().join(format!(
            "switchboard-recordings-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ))
    }

    #[test]
    fn files_are_named_by_tenant_and_contact_and_strangers_by_nothing() {
        let dir = scratch();
        std::fs::create_dir_all(dir.join("7")).expect("dir");
        std::fs::create_dir_all(dir.join("notes")).expect("dir");
        for name in [
            "7/41-visitor.ogg",
            "7/41-agent.ogg",
            "7/x.txt",
            "notes/1-agent.ogg",
        ] {
            std::fs::write(dir.join(name), b"OggS").expect("file");
        }
        let mut stems: Vec<Option<String>> = recording_files(&dir)
            .expect("listed")
            .into_iter()
            .map(|f| f.stem)
            .collect();
        stems.sort();
        assert_eq!(
            stems,
            [None, None, Some("7/41".to_owned()), Some("7/41".to_owned())]
        );
        // No directory yet (no call was ever recorded): nothing to count.
        assert_eq!(
            recording_files(&dir.join("missing")).expect("listed"),
            Vec::new()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn files_no_record_names_are_counted_and_kept() {
        let dir = scratch();
        std::fs::create_dir_all(&dir).expect("dir");
        let store = Store::open(None, &dir).await.expect("store");
        crate::demo::seed(&store).await.expect("demo tenant");
        let tenant = store
            .tenant_by_slug("demo")
            .await
            .expect("read")
            .expect("tenant");
        // Contact 41's record names its recording.
        let link = store.links(tenant.id).await.expect("links")[0].id;
        let named = ContactId(41);
        let new =
            crate::store::NewContact::unknown(tenant.id, link, crate::store::ContactMedia::Voice);
        store.create_contact(named, &new).await.expect("contact");
        let record = crate::store::CallRecord {
            recording: Some(stem(tenant.id, named)),
            ..Default::default()
        };
        store
            .set_call_record(tenant.id, named, &record)
            .await
            .expect("record");
        let recordings = dir.join("recordings");
        std::fs::create_dir_all(recordings.join(tenant.id.0.to_string())).expect("dir");
        let stray = format!("{}/99-visitor.ogg", tenant.id.0);
        for name in [
            format!("{}/41-visitor.ogg", tenant.id.0),
            format!("{}/41-agent.ogg", tenant.id.0),
            stray.clone(),
        ] {
            std::fs::write(recordings.join(name), b"OggS").expect("file");
        }
        // Contact 99 has no record: one file nobody names, which stays.
        assert_eq!(
            unlinked(&store, recordings.clone()).await.expect("counted"),
            1
        );
        assert!(recordings.join(stray).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
