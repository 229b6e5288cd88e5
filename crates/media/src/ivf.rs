//! A caller's VP8 video written to an IVF file (the container libvpx's tools
//! read: a 32-byte file header, then each frame with a 12-byte header of its
//! size and timestamp). Voice and video mail keep the video here and the
//! audio in Ogg/Opus beside it (`recorder`).
//!
//! Frames are written as received (no decoding). The file starts at the
//! first keyframe, so a player can decode from its first frame; the frame
//! size in the header is that keyframe's. Timestamps are the frames' arrival
//! in milliseconds from that keyframe (timebase 1/1000), which lines the
//! video up with the audio file by wall clock. Writes are buffered and
//! blocking, from the call task, as the Ogg writer's are; an error ends this
//! file only.

use std::{
    fs::File,
    io::{self, BufWriter, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    time::Instant,
};

/// The 32-byte IVF file header.
const HEADER_LEN: usize = 32;
/// Where the header's frame count sits.
const FRAME_COUNT_AT: u64 = 24;

/// Whether `frame` (a whole VP8 frame) is a keyframe, and its size if so
/// (RFC 6386 9.1: bit 0 of the frame tag clear, then the start code
/// 9d 01 2a and two 14-bit dimensions).
pub(crate) fn vp8_keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((width, height))
}

/// One VP8 stream being written.
pub(crate) struct IvfFile {
    path: PathBuf,
    /// `None` once a write failed.
    out: Option<BufWriter<File>>,
    /// Arrival of the first keyframe: time zero. `None` until it came.
    start: Option<Instant>,
    frames: u32,
    last_pts: Option<u64>,
}

impl IvfFile {
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            out: Some(BufWriter::new(File::create(path)?)),
            path: path.to_owned(),
            start: None,
            frames: 0,
            last_pts: None,
        })
    }

    /// Whether the file still waits for its first keyframe (the owner asks
    /// the sender for one).
    pub(crate) fn wants_keyframe(&self) -> bool {
        self.start.is_none() && self.out.is_some()
    }

    /// One whole VP8 frame that arrived at `at`.
    pub(crate) fn push(&mut self, frame: &[u8], at: Instant) {
        let start = if let Some(start) = self.start {
            start
        } else {
            // Frames before the first keyframe cannot be decoded.
            let Some((width, height)) = vp8_keyframe_size(frame) else {
                return;
            };
            self.start = Some(at);
            let header = file_header(width, height);
            self.write(&header);
            at
        };
        let ms = u64::try_from(at.saturating_duration_since(start).as_millis()).unwrap_or(u64::MAX);
        // Timestamps never go back (frames handed over in one batch share
        // an arrival), which players expect.
        let pts = match self.last_pts {
            Some(last) if ms <= last => last + 1,
            _ => ms,
        };
        self.last_pts = Some(pts);
        let Ok(size) = u32::try_from(frame.len()) else {
            return;
        };
        let mut frame_header = [0u8; 12];
        frame_header[..4].copy_from_slice(&size.to_le_bytes());
        frame_header[4..].copy_from_slice(&pts.to_le_bytes());
        self.write(&frame_header);
        self.write(frame);
        self.frames = self.frames.saturating_add(1);
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = &mut self.out
            && let Err(e) = out.write_all(bytes)
        {
            tracing::warn!(error = %e, file = %self.path.display(), "video recording stopped");
            self.out = None;
        }
    }

    /// Writes what is buffered and the frame count into the header.
    pub(crate) fn finish(mut self) {
        let Some(out) = self.out.take() else { return };
        let frames = self.frames;
        let result = (|| -> io::Result<()> {
            let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            if frames > 0 {
                file.seek(SeekFrom::Start(FRAME_COUNT_AT))?;
                file.write_all(&frames.to_le_bytes())?;
            }
            file.sync_data()
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, file = %self.path.display(), "video recording not finished");
        }
    }
}

fn file_header(width: u16, height: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(b"DKIF");
    // Version 0, then the header's length.
    h[6..8].copy_from_slice(&32u16.to_le_bytes());
    h[8..12].copy_from_slice(b"VP80");
    h[12..14].copy_from_slice(&width.to_le_bytes());
    h[14..16].copy_from_slice(&height.to_le_bytes());
    // Timebase 1/1000: timestamps in milliseconds.
    h[16..20].copy_from_slice(&1000u32.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn keyframe(width: u16, height: u16) -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&width.to_le_bytes());
        f.extend_from_slice(&height.to_le_bytes());
        f.extend_from_slice(&[7; 20]);
        f
    }

    #[test]
    fn starts_at_a_keyframe_and_counts_frames() {
        let dir = std::env::temp_dir().join(format!("sb-ivf-{}", std::process::id()));
        let path = dir.join("m.ivf");
        let mut file = IvfFile::create(&path).unwrap();
        let t0 = Instant::now();
        // An inter frame first: skipped.
        file.push(&[0x01, 0, 0, 1, 2, 3], t0);
        assert!(file.wants_keyframe());
        file.push(&keyframe(640, 480), t0 + Duration::from_millis(5));
        file.push(&[0x01, 9, 9], t0 + Duration::from_millis(38));
        file.finish();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"DKIF");
        assert_eq!(&bytes[8..12], b"VP80");
        assert_eq!(u16::from_le_bytes([bytes[12], bytes[13]]), 640);
        assert_eq!(u16::from_le_bytes([bytes[14], bytes[15]]), 480);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 2);
        let first = &bytes[32..44];
        assert_eq!(u32::from_le_bytes(first[..4].try_into().unwrap()), 30);
        assert_eq!(u64::from_le_bytes(first[4..].try_into().unwrap()), 0);
        let second = &bytes[32 + 12 + 30..32 + 12 + 30 + 12];
        assert_eq!(u64::from_le_bytes(second[4..].try_into().unwrap()), 33);
        assert_eq!(bytes.len(), 32 + 12 + 30 + 12 + 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_keyframe_sizes_only_from_keyframes() {
        assert_eq!(vp8_keyframe_size(&keyframe(320, 240)), Some((320, 240)));
        assert_eq!(
            vp8_keyframe_size(&[0x01, 0, 0, 0x9d, 0x01, 0x2a, 0, 0, 0, 0]),
            None
        );
        assert_eq!(vp8_keyframe_size(&[0x00, 0, 0]), None);
    }
}
