//! Tone detection for media tests: Goertzel power of one frequency in
//! 20 ms windows of 8 kHz audio.

/// Samples in one window (20 ms at 8 kHz).
pub const WINDOW: usize = 160;

/// The share of `x`'s energy at `hz` (about 1 for a pure tone at `hz`,
/// about 0 for silence or another tone).
pub fn power(x: &[i16], hz: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * hz / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s = f32::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - c * s1 * s2;
    let energy: f32 = x.iter().map(|&v| f32::from(v) * f32::from(v)).sum();
    if energy < 1000.0 * x.len() as f32 {
        return 0.0; // silence (below about -30 dBFS) is no tone
    }
    p / (energy * x.len() as f32 / 2.0)
}

/// A sine tone at `hz`, samples `start..start + n` of it, at 8 kHz.
pub fn sine(hz: f32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| ((2.0 * std::f32::consts::PI * hz * i as f32 / 8000.0).sin() * 8000.0) as i16)
        .collect()
}

/// Counts consecutive windows where a tone is heard, and the loudest
/// another frequency ever was.
pub struct Detector {
    hz: f32,
    other: f32,
    need: usize,
    run: usize,
    pending: Vec<i16>,
    /// Largest power at the other frequency so far.
    pub other_max: f32,
    /// Windows looked at.
    pub windows: usize,
}

/// Power above which a window counts as hearing the tone.
pub const HEARD: f32 = 0.4;

impl Detector {
    pub fn new(hz: f32, other: f32, need: usize) -> Self {
        Self {
            hz,
            other,
            need,
            run: 0,
            pending: Vec::new(),
            other_max: 0.0,
            windows: 0,
        }
    }

    /// Adds audio; true once `need` consecutive windows had the tone.
    pub fn push(&mut self, samples: &[i16]) -> bool {
        self.pending.extend_from_slice(samples);
        let mut heard = false;
        while self.pending.len() >= WINDOW {
            let window: Vec<i16> = self.pending.drain(..WINDOW).collect();
            self.windows += 1;
            self.other_max = self.other_max.max(power(&window, self.other));
            if power(&window, self.hz) > HEARD {
                self.run += 1;
            } else {
                self.run = 0;
            }
            heard |= self.run >= self.need;
        }
        heard
    }
}
