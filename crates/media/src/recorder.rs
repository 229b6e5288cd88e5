//! Recording: each party's audio to its own Ogg/Opus file (RFC 7845), one
//! Opus packet per RTP frame, as received (no decoding).
//!
//! Granule positions (48 kHz samples) follow the RTP timestamps, so silences
//! the browser did not send (Opus DTX) keep their length. A new source (a
//! transferred call's new agent) or a resume after hold continues where the
//! file stopped instead: time on hold is not in the recording.
//!
//! Pages are written at least once a second; the newest packet is always
//! held back so the end-of-stream page written at hangup carries audio.
//! Files are written with blocking `std::fs` calls from the call task: about
//! one small write a second per file, which the page cache absorbs. Write
//! errors are logged and end that file only; the call goes on.

use std::{
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    LegId, LegRole, RecordingFiles,
    ogg::{self, BEGIN_OF_STREAM, END_OF_STREAM, MAX_SEGMENTS, OggStream},
};

/// Audio held before a page is written.
const PAGE_SPAN: Duration = Duration::from_secs(1);
/// 48 kHz samples in [`PAGE_SPAN`].
const PAGE_SAMPLES: u64 = 48_000;
/// A jump in RTP time larger than this (10 minutes) is a new source, not a
/// silence.
const MAX_GAP: u64 = 48_000 * 600;

/// A call's recording: one file per party.
pub(crate) struct Recording {
    visitor: OpusFile,
    agent: OpusFile,
}

impl Recording {
    /// Creates `dir` if needed and starts both files.
    pub(crate) fn start(dir: &Path, stem: &str) -> io::Result<(Self, RecordingFiles)> {
        std::fs::create_dir_all(dir)?;
        let files = RecordingFiles {
            visitor: dir.join(format!("{stem}-visitor.ogg")),
            agent: dir.join(format!("{stem}-agent.ogg")),
        };
        let recording = Self {
            visitor: OpusFile::create(files.visitor.clone())?,
            agent: OpusFile::create(files.agent.clone())?,
        };
        Ok((recording, files))
    }

    /// One Opus packet from `role`'s leg `leg`, RTP time in 48 kHz units.
    pub(crate) fn push(
        &mut self,
        role: LegRole,
        leg: LegId,
        rtp: u64,
        packet: &Arc<[u8]>,
        now: Instant,
    ) {
        match role {
            LegRole::Visitor => self.visitor.push(leg, rtp, packet, now),
            LegRole::Agent => self.agent.push(leg, rtp, packet, now),
            LegRole::Listener => {}
        }
    }

    /// Hold began: write what is pending and resume without a gap.
    pub(crate) fn pause(&mut self) {
        for file in [&mut self.visitor, &mut self.agent] {
            file.flush(true);
            file.anchor = None;
        }
    }

    /// Writes pages that have waited a second.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.visitor.tick(now);
        self.agent.tick(now);
    }

    /// Writes the end-of-stream pages.
    pub(crate) fn finish(self) {
        self.visitor.finish();
        self.agent.finish();
    }
}

/// Where RTP time `rtp` of leg `leg` sits in the file.
struct Anchor {
    leg: LegId,
    rtp: u64,
    granule: u64,
    /// The newest RTP time seen since.
    last: u64,
}

struct OpusFile {
    path: PathBuf,
    /// `None` once a write failed.
    file: Option<File>,
    stream: OggStream,
    /// Packets not yet on a page, with the granule position each ends at.
    pending: Vec<(Arc<[u8]>, u64)>,
    pending_segments: usize,
    pending_since: Option<Instant>,
    /// Granule position of the last page written.
    written: u64,
    /// Granule position the newest packet ends at.
    end: u64,
    anchor: Option<Anchor>,
    page: Vec<u8>,
}

impl OpusFile {
    fn create(path: PathBuf) -> io::Result<Self> {
        let file = File::create(&path)?;
        let mut this = Self {
            path,
            file: Some(file),
            stream: OggStream::new(rand::random()),
            pending: Vec::new(),
            pending_segments: 0,
            pending_since: None,
            written: 0,
            end: 0,
            anchor: None,
            page: Vec::with_capacity(4096),
        };
        this.stream
            .page(BEGIN_OF_STREAM, 0, &[&opus_head()], &mut this.page);
        this.stream.page(0, 0, &[&opus_tags()], &mut this.page);
        this.write_page();
        Ok(this)
    }

    fn push(&mut self, leg: LegId, rtp: u64, packet: &Arc<[u8]>, now: Instant) {
        if packet.is_empty() || ogg::segments(packet.len()) > MAX_SEGMENTS {
            return;
        }
        let duration = opus_samples(packet).unwrap_or(960);
        let anchor = match &mut self.anchor {
            Some(a) if a.leg == leg && rtp >= a.rtp && rtp <= a.last + MAX_GAP => a,
            _ => self.anchor.insert(Anchor {
                leg,
                rtp,
                last: rtp,
                granule: self.end,
            }),
        };
        anchor.last = anchor.last.max(rtp);
        let start = anchor.granule + (rtp - anchor.rtp);
        self.end = (start + duration).max(self.end);
        let segments = ogg::segments(packet.len());
        if self.pending_segments + segments > MAX_SEGMENTS {
            self.flush(false);
        }
        self.pending.push((Arc::clone(packet), self.end));
        self.pending_segments += segments;
        self.pending_since.get_or_insert(now);
        if self.end - self.written >= PAGE_SAMPLES {
            self.flush(true);
        }
    }

    fn tick(&mut self, now: Instant) {
        if self
            .pending_since
            .is_some_and(|t| now.saturating_duration_since(t) >= PAGE_SPAN)
        {
            self.flush(true);
        }
    }

    /// Writes pending packets as one page, all but the newest if
    /// `hold_last`.
    fn flush(&mut self, hold_last: bool) {
        let keep = usize::from(hold_last);
        if self.pending.len() <= keep {
            return;
        }
        let held = self.pending.split_off(self.pending.len() - keep);
        self.page_of_pending(0);
        self.pending = held;
        self.pending_segments = self
            .pending
            .iter()
            .map(|(p, _)| ogg::segments(p.len()))
            .sum();
        self.pending_since = (!self.pending.is_empty()).then(Instant::now);
    }

    fn page_of_pending(&mut self, flags: u8) {
        let granule = self.pending.last().map_or(self.end, |(_, g)| *g);
        let packets: Vec<&[u8]> = self.pending.iter().map(|(p, _)| &p[..]).collect();
        self.stream.page(flags, granule, &packets, &mut self.page);
        self.pending.clear();
        self.written = granule;
        self.write_page();
    }

    fn finish(mut self) {
        self.page_of_pending(END_OF_STREAM);
        if let Some(file) = self.file.take()
            && let Err(e) = file.sync_data()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "recording not synced");
        }
    }

    fn write_page(&mut self) {
        if let Some(file) = &mut self.file
            && let Err(e) = file.write_all(&self.page)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "recording stopped: write failed");
            self.file = None;
        }
        self.page.clear();
    }
}

/// The `OpusHead` header packet: one channel, no pre-skip, 48 kHz.
fn opus_head() -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(1); // channels: call audio is mono; a decoder downmixes stereo frames
    head.extend_from_slice(&0u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes()); // input sample rate
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    head
}

/// The `OpusTags` header packet: vendor string, no comments.
fn opus_tags() -> Vec<u8> {
    let vendor = b"switchboard";
    let mut tags = Vec::with_capacity(16 + vendor.len());
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}

/// Samples (48 kHz) in one Opus packet, from its TOC byte (RFC 6716 3.1).
/// `None` for a packet that cannot be valid.
pub(crate) fn opus_samples(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let config = usize::from(toc >> 3);
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][config % 4],
        12..=15 => [480, 960][config % 2],
        _ => [120, 240, 480, 960][config % 4],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(*packet.get(1)? & 0x3f),
    };
    let total = frame * frames;
    // 120 ms is the longest an Opus packet may be.
    (1..=5760).contains(&total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_durations_from_toc() {
        assert_eq!(opus_samples(&[0xf8, 0]), Some(960)); // CELT FB 20 ms
        assert_eq!(opus_samples(&[0x78, 0]), Some(960)); // hybrid FB 20 ms
        assert_eq!(opus_samples(&[0x19]), Some(2 * 2880)); // SILK 60 ms, two frames
        assert_eq!(opus_samples(&[0x03, 6]), Some(6 * 480)); // six 10 ms frames
        assert_eq!(opus_samples(&[0x03, 0]), None);
        assert_eq!(opus_samples(&[]), None);
    }
}
