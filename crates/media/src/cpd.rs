//! Call progress detection: what answered (or is about to answer) a call the
//! server placed — a fax machine, a network announcement, an answering
//! machine, or a person (document 001's "call progression detector").
//!
//! Sans-IO: [`ProgressDetector::push`] takes 8 kHz linear PCM (a phone leg's
//! decoded G.711) in any slice sizes and works on 20 ms blocks; time is the
//! count of samples pushed, so tests run on synthesized audio without a clock.
//!
//! Each block is classified by its energy and by Goertzel filters at the
//! frequencies that matter:
//!
//! * **Fax**: a calling fax sends CNG, 1100 Hz (0.5 s on, 3 s off); an
//!   answering fax or modem sends CED, 2100 Hz for 2.6-4 s. A run of
//!   [`CpdConfig::fax_tone`] of either is a fax, on early or answered media.
//! * **Special information tones** (ITU-T E.180, the three rising tones
//!   before "the number you have called is not in service"): segments near
//!   913.8/985.2 Hz, then 1370.6/1428.5 Hz, then 1776.7 Hz, each at least
//!   [`CpdConfig::sit_segment`] long. Which of each pair was sent says why
//!   ([`Sit`], the North American coding): the second tone low (1370.6 Hz)
//!   is a number problem (intercept, vacant code), high (1428.5 Hz) the
//!   network's (reorder, no circuit).
//! * **Answering machine** (answered media only), a heuristic: a person
//!   says a short "Hello?" and waits for an answer; a machine's greeting runs
//!   on. Speech is a block over the energy floor that is not one of the tones
//!   above. Once speech starts, the greeting lasts until the first silence of
//!   [`CpdConfig::end_of_greeting`] (shorter pauses are part of it). A
//!   greeting longer than [`CpdConfig::max_greeting`] is a machine; one that
//!   ends sooner is a person. Nothing said within [`CpdConfig::decide_within`]
//!   of the answer counts as a person (who may be waiting for us to speak);
//!   so does a greeting still undecided then.
//!
//! A detector reports one [`Progress`] and then stays quiet.

/// Samples per second of the audio this works on (G.711's rate).
pub const SAMPLE_RATE: u32 = 8_000;
/// 20 ms at 8 kHz: one RTP frame of G.711, and the analysis block.
const BLOCK: usize = 160;
const BLOCK_MS: u32 = 20;
/// A block is a tone when this share of its energy is at the tone's
/// frequency (speech spreads its energy far wider).
const TONE: f32 = 0.6;

/// What was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A fax machine or modem: CNG or CED.
    Fax(FaxTone),
    /// A network announcement's special information tones.
    SpecialInfo(Sit),
    /// A greeting longer than a person's "Hello?".
    Machine,
    /// A short greeting then silence, or nothing said at all.
    Person,
}

/// Which announcement the special information tones introduce, by the
/// frequencies of the first two tones (low 913.8 or high 985.2 Hz, then
/// low 1370.6 or high 1428.5 Hz; the durations carry sub-codes not used
/// here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sit {
    /// Low, low: "the number you have called is not in service" (IC).
    Intercept,
    /// High, low: the number's code is not assigned (VC).
    VacantCode,
    /// Low, high: the network could not complete the call (RO).
    Reorder,
    /// High, high: no circuit or trunk free (NC).
    NoCircuit,
}

impl Sit {
    fn from_tones(first_high: bool, second_high: bool) -> Self {
        match (first_high, second_high) {
            (false, false) => Self::Intercept,
            (true, false) => Self::VacantCode,
            (false, true) => Self::Reorder,
            (true, true) => Self::NoCircuit,
        }
    }

    /// The number itself will not answer (calling again is no use); else
    /// the network was in the way, and a later call may get through.
    pub fn number_invalid(self) -> bool {
        matches!(self, Self::Intercept | Self::VacantCode)
    }
}

/// Which fax tone was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaxTone {
    /// Calling tone, 1100 Hz.
    Cng,
    /// Called station identification (answer tone), 2100 Hz.
    Ced,
}

/// The thresholds, in milliseconds where they are times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpdConfig {
    /// A fax tone held this long is a fax.
    pub fax_tone: u32,
    /// Each of the three special information tones at least this long.
    pub sit_segment: u32,
    /// A greeting longer than this before its first silence is a machine.
    pub max_greeting: u32,
    /// A silence this long ends a greeting.
    pub end_of_greeting: u32,
    /// After the answer, a verdict comes at the latest this late.
    pub decide_within: u32,
    /// Blocks quieter than this RMS (of full scale 32768) are silence:
    /// about -44 dBFS, above a line's comfort noise.
    pub silence_rms: f32,
}

impl Default for CpdConfig {
    fn default() -> Self {
        Self {
            fax_tone: 400,
            sit_segment: 200,
            max_greeting: 2_500,
            end_of_greeting: 600,
            decide_within: 6_000,
            silence_rms: 200.0,
        }
    }
}

/// The power at one frequency over a block, by Goertzel's recurrence.
#[derive(Debug, Clone, Copy)]
pub struct Goertzel {
    coeff: f32,
}

impl Goertzel {
    pub fn new(freq_hz: f32) -> Self {
        let w = 2.0 * std::f32::consts::PI * freq_hz / SAMPLE_RATE as f32;
        Self {
            coeff: 2.0 * w.cos(),
        }
    }

    /// |X(f)|² over `block`.
    pub fn power(&self, block: &[f32]) -> f32 {
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in block {
            let s0 = x + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }
}

/// What one 20 ms block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Silence,
    Speech,
    Cng,
    Ced,
    /// The first tone: 913.8 Hz, or `high` 985.2 Hz.
    SitLow {
        high: bool,
    },
    /// The second tone: 1370.6 Hz, or `high` 1428.5 Hz.
    SitMid {
        high: bool,
    },
    SitHigh,
}

/// The filters, one per frequency of interest (the SIT bands have two
/// frequencies each, whichever the network uses).
struct Filters {
    cng: Goertzel,
    ced: Goertzel,
    sit_low: [Goertzel; 2],
    sit_mid: [Goertzel; 2],
    sit_high: Goertzel,
}

impl Filters {
    fn new() -> Self {
        Self {
            cng: Goertzel::new(1100.0),
            ced: Goertzel::new(2100.0),
            sit_low: [Goertzel::new(913.8), Goertzel::new(985.2)],
            sit_mid: [Goertzel::new(1370.6), Goertzel::new(1428.5)],
            sit_high: Goertzel::new(1776.7),
        }
    }

    fn classify(&self, block: &[f32], silence_rms: f32) -> Class {
        let energy: f32 = block.iter().map(|x| x * x).sum();
        let n = block.len() as f32;
        if (energy / n).sqrt() < silence_rms {
            return Class::Silence;
        }
        // A pure sine of amplitude A gives |X|² = (A·N/2)² and an energy of
        // A²·N/2, so this share is 1 for a tone exactly at the filter and
        // small for speech, whose energy is spread over many frequencies.
        let share = |g: &Goertzel| 2.0 * g.power(block) / (n * energy);
        // The stronger of a pair, and whether it is the higher one.
        let best = |gs: &[Goertzel; 2]| {
            let (low, high) = (share(&gs[0]), share(&gs[1]));
            (low.max(high), high > low)
        };
        let (low, mid) = (best(&self.sit_low), best(&self.sit_mid));
        if share(&self.cng) > TONE {
            Class::Cng
        } else if share(&self.ced) > TONE {
            Class::Ced
        } else if low.0 > TONE {
            Class::SitLow { high: low.1 }
        } else if mid.0 > TONE {
            Class::SitMid { high: mid.1 }
        } else if share(&self.sit_high) > TONE {
            Class::SitHigh
        } else {
            Class::Speech
        }
    }
}

/// A stretch of blocks of one class.
#[derive(Debug, Clone, Copy)]
struct Run {
    class: Class,
    blocks: u32,
}

/// Where the greeting heuristic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeting {
    /// Not answered yet: no greeting to judge.
    NotAnswered,
    /// Answered `since` blocks ago counting from the answer; nobody spoke yet.
    Waiting,
    /// Speech began at block `start` (counted from the answer); `quiet` blocks
    /// of silence since the last speech.
    Speaking { start: u32, quiet: u32 },
}

/// Classifies audio as it comes and reports one [`Progress`].
pub struct ProgressDetector {
    config: CpdConfig,
    filters: Filters,
    block: Vec<f32>,
    /// The current run and the last runs long enough to count (for SIT).
    run: Run,
    earlier: [Option<Run>; 2],
    greeting: Greeting,
    /// Blocks since the answer.
    answered_blocks: u32,
    verdict: Option<Progress>,
}

impl ProgressDetector {
    pub fn new(config: CpdConfig) -> Self {
        Self {
            config,
            filters: Filters::new(),
            block: Vec::with_capacity(BLOCK),
            run: Run {
                class: Class::Silence,
                blocks: 0,
            },
            earlier: [None, None],
            greeting: Greeting::NotAnswered,
            answered_blocks: 0,
            verdict: None,
        }
    }

    /// The call was answered: the greeting heuristic starts from here.
    pub fn answered(&mut self) {
        if self.greeting == Greeting::NotAnswered {
            self.greeting = Greeting::Waiting;
            self.answered_blocks = 0;
        }
    }

    /// The verdict, once there is one.
    pub fn verdict(&self) -> Option<Progress> {
        self.verdict
    }

    /// Milliseconds of answered audio analysed so far.
    pub fn answered_ms(&self) -> u32 {
        self.answered_blocks * BLOCK_MS
    }

    /// Takes more audio; returns the verdict the first time there is one.
    pub fn push(&mut self, samples: &[i16]) -> Option<Progress> {
        if self.verdict.is_some() {
            return None;
        }
        for &s in samples {
            self.block.push(f32::from(s));
            if self.block.len() == BLOCK {
                let class = self.filters.classify(&self.block, self.config.silence_rms);
                self.block.clear();
                if let Some(found) = self.step(class) {
                    self.verdict = Some(found);
                    return Some(found);
                }
            }
        }
        None
    }

    fn step(&mut self, class: Class) -> Option<Progress> {
        if class == self.run.class {
            self.run.blocks += 1;
        } else {
            // Runs of a block or two are a tone's edges or a click: they
            // neither count for SIT nor split the run around them from
            // the one before.
            if self.run.blocks > 2 {
                self.earlier = [self.earlier[1], Some(self.run)];
            }
            self.run = Run { class, blocks: 1 };
        }
        if let Some(found) = self.tones() {
            return Some(found);
        }
        self.greeting(class)
    }

    fn tones(&self) -> Option<Progress> {
        let fax = blocks(self.config.fax_tone);
        match self.run.class {
            Class::Cng if self.run.blocks >= fax => return Some(Progress::Fax(FaxTone::Cng)),
            Class::Ced if self.run.blocks >= fax => return Some(Progress::Fax(FaxTone::Ced)),
            _ => {}
        }
        let seg = blocks(self.config.sit_segment);
        if self.run.class != Class::SitHigh || self.run.blocks < seg {
            return None;
        }
        let long = |r: Option<Run>| r.filter(|r| r.blocks >= seg).map(|r| r.class);
        match (long(self.earlier[0]), long(self.earlier[1])) {
            (Some(Class::SitLow { high: first }), Some(Class::SitMid { high: second })) => {
                Some(Progress::SpecialInfo(Sit::from_tones(first, second)))
            }
            _ => None,
        }
    }

    fn greeting(&mut self, class: Class) -> Option<Progress> {
        if self.greeting == Greeting::NotAnswered {
            return None;
        }
        self.answered_blocks += 1;
        let now = self.answered_blocks;
        let speech = class == Class::Speech;
        self.greeting = match (self.greeting, speech) {
            (Greeting::Waiting, true) => Greeting::Speaking {
                start: now,
                quiet: 0,
            },
            (Greeting::Speaking { start, .. }, true) => Greeting::Speaking { start, quiet: 0 },
            (Greeting::Speaking { start, quiet }, false) => Greeting::Speaking {
                start,
                quiet: quiet + 1,
            },
            (g, _) => g,
        };
        if let Greeting::Speaking { start, quiet } = self.greeting {
            let spoken = now - start + 1 - quiet;
            if spoken > blocks(self.config.max_greeting) {
                return Some(Progress::Machine);
            }
            if quiet >= blocks(self.config.end_of_greeting) {
                return Some(Progress::Person);
            }
        }
        (now >= blocks(self.config.decide_within)).then_some(Progress::Person)
    }
}

/// Where a call's detection starts from ([`crate::Call::detect_progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Dialled: early media may carry a fax tone or an announcement.
    Early,
    /// Answered: the greeting heuristic starts (a detector is started
    /// here if there was none).
    Answered,
}

/// A leg's detector after `stage`.
pub(crate) fn apply(detector: &mut Option<ProgressDetector>, stage: Stage) {
    let d = detector.get_or_insert_with(|| ProgressDetector::new(CpdConfig::default()));
    if stage == Stage::Answered {
        d.answered();
    }
}

/// Whole blocks in `ms` milliseconds, rounded up.
fn blocks(ms: u32) -> u32 {
    ms.div_ceil(BLOCK_MS)
}

#[cfg(test)]
#[path = "cpd_tests.rs"]
mod tests;
