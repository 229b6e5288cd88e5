//! The detector on synthesized audio: tones as the standards give them,
//! speech as voiced sound with a wandering pitch and noise.

use super::*;

const RATE: f32 = SAMPLE_RATE as f32;

fn ms(n: u32) -> usize {
    (n * SAMPLE_RATE / 1000) as usize
}

fn tone(freqs: &[f32], millis: u32, amplitude: f32) -> Vec<i16> {
    (0..ms(millis))
        .map(|i| {
            let t = i as f32 / RATE;
            let v: f32 = freqs
                .iter()
                .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                .sum();
            (amplitude * v / freqs.len() as f32) as i16
        })
        .collect()
}

fn silence(millis: u32) -> Vec<i16> {
    vec![0; ms(millis)]
}

/// Speech-like sound: a glottal pitch wandering between 100 and 220 Hz
/// with its harmonics, plus noise, loud enough to be heard.
fn speech(millis: u32, seed: u32) -> Vec<i16> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut phase = 0.0f32;
    (0..ms(millis))
        .map(|i| {
            let t = i as f32 / RATE;
            let pitch = 160.0 + 60.0 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            phase += 2.0 * std::f32::consts::PI * pitch / RATE;
            let voiced: f32 = (1..=12).map(|h| (phase * h as f32).sin() / h as f32).sum();
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state as f32 / u32::MAX as f32) - 0.5;
            (3_000.0 * voiced + 2_000.0 * noise) as i16
        })
        .collect()
}

fn run(detector: &mut ProgressDetector, parts: &[Vec<i16>]) -> Option<(Progress, usize)> {
    let mut fed = 0;
    for part in parts {
        // Odd slice sizes: the detector must not care how audio is cut.
        for chunk in part.chunks(97) {
            fed += chunk.len();
            if let Some(p) = detector.push(chunk) {
                return Some((p, fed));
            }
        }
    }
    None
}

fn detector() -> ProgressDetector {
    ProgressDetector::new(CpdConfig::default())
}

#[test]
fn goertzel_picks_out_its_frequency() {
    let block: Vec<f32> = tone(&[1100.0], 20, 10_000.0)
        .into_iter()
        .map(f32::from)
        .collect();
    let at = Goertzel::new(1100.0).power(&block);
    let off = Goertzel::new(2100.0).power(&block);
    assert!(at > 1000.0 * off, "at {at}, off {off}");
}

#[test]
fn a_calling_fax_is_heard_by_its_1100_hz_tone_on_early_media() {
    let mut d = detector();
    let (found, fed) = run(&mut d, &[tone(&[1100.0], 500, 8_000.0)]).expect("a verdict");
    assert_eq!(found, Progress::Fax(FaxTone::Cng));
    assert!(fed <= ms(440), "decided after {fed} samples");
}

#[test]
fn an_answering_fax_is_heard_by_its_2100_hz_tone_after_the_answer() {
    let mut d = detector();
    d.answered();
    let found = run(&mut d, &[silence(300), tone(&[2100.0], 3_000, 8_000.0)]);
    assert_eq!(found.map(|f| f.0), Some(Progress::Fax(FaxTone::Ced)));
}

#[test]
fn a_quiet_fax_tone_still_counts() {
    // -26 dBFS, as a fax may arrive over a long line.
    let mut d = detector();
    let found = run(&mut d, &[tone(&[2100.0], 1_000, 1_600.0)]);
    assert_eq!(found.map(|f| f.0), Some(Progress::Fax(FaxTone::Ced)));
}

#[test]
fn special_information_tones_are_three_rising_segments() {
    let mut d = detector();
    let sit = [
        tone(&[913.8], 274, 8_000.0),
        tone(&[1370.6], 274, 8_000.0),
        tone(&[1776.7], 380, 8_000.0),
    ];
    assert_eq!(
        run(&mut d, &sit).map(|f| f.0),
        Some(Progress::SpecialInfo(Sit::Intercept))
    );
    // The other frequency variants too, each telling its cause.
    let mut d = detector();
    let sit = [
        tone(&[985.2], 380, 8_000.0),
        tone(&[1428.5], 380, 8_000.0),
        tone(&[1776.7], 380, 8_000.0),
    ];
    assert_eq!(
        run(&mut d, &sit).map(|f| f.0),
        Some(Progress::SpecialInfo(Sit::NoCircuit))
    );
    for (first, second, sit) in [
        (985.2, 1370.6, Sit::VacantCode),
        (913.8, 1428.5, Sit::Reorder),
    ] {
        let mut d = detector();
        let parts = [
            tone(&[first], 380, 8_000.0),
            tone(&[second], 274, 8_000.0),
            tone(&[1776.7], 380, 8_000.0),
        ];
        assert_eq!(
            run(&mut d, &parts).map(|f| f.0),
            Some(Progress::SpecialInfo(sit))
        );
        assert_eq!(sit.number_invalid(), sit == Sit::VacantCode);
    }
}

#[test]
fn the_tones_out_of_order_are_no_announcement() {
    let mut d = detector();
    let parts = [
        tone(&[1776.7], 380, 8_000.0),
        tone(&[1370.6], 380, 8_000.0),
        tone(&[913.8], 380, 8_000.0),
        silence(500),
    ];
    assert_eq!(run(&mut d, &parts), None);
}

#[test]
fn ringback_and_busy_tones_decide_nothing() {
    let mut d = detector();
    let parts = [
        tone(&[440.0, 480.0], 2_000, 8_000.0),
        silence(4_000),
        tone(&[480.0, 620.0], 500, 8_000.0),
        silence(500),
        tone(&[425.0], 1_000, 8_000.0),
    ];
    assert_eq!(run(&mut d, &parts), None);
}

#[test]
fn a_short_hello_then_silence_is_a_person() {
    let mut d = detector();
    d.answered();
    let (found, fed) = run(&mut d, &[silence(400), speech(800, 1), silence(2_000)]).unwrap();
    assert_eq!(found, Progress::Person);
    // Decided at the end of the greeting's silence, not at the deadline.
    assert!(fed < ms(1_900), "decided after {fed} samples");
}

#[test]
fn a_long_greeting_with_short_pauses_is_a_machine() {
    let mut d = detector();
    d.answered();
    let parts = [
        speech(900, 2),
        silence(250),
        speech(900, 3),
        silence(300),
        speech(1_500, 4),
        silence(2_000),
    ];
    let (found, fed) = run(&mut d, &parts).unwrap();
    assert_eq!(found, Progress::Machine);
    assert!(fed <= ms(3_200), "decided after {fed} samples");
    assert!(d.answered_ms() >= 2_500);
}

#[test]
fn nobody_speaking_counts_as_a_person_by_the_deadline() {
    let mut d = detector();
    d.answered();
    let (found, fed) = run(&mut d, &[silence(10_000)]).unwrap();
    assert_eq!(found, Progress::Person);
    // Audio comes in slices of 97 samples: the verdict is in the slice
    // that holds the 6 s mark.
    assert!((ms(6_000)..ms(6_000) + 97).contains(&fed), "{fed}");
}

#[test]
fn speech_before_the_answer_is_no_greeting() {
    // Early media may carry an operator's message: only a fax or SIT
    // decides anything before the answer.
    let mut d = detector();
    assert_eq!(run(&mut d, &[speech(5_000, 5)]), None);
}

#[test]
fn a_short_burst_of_fax_frequency_in_speech_is_no_fax() {
    let mut d = detector();
    d.answered();
    let parts = [
        speech(500, 6),
        tone(&[1100.0], 200, 8_000.0),
        speech(500, 7),
        silence(1_000),
    ];
    assert_eq!(run(&mut d, &parts).map(|f| f.0), Some(Progress::Person));
}

#[test]
fn one_verdict_only() {
    let mut d = detector();
    assert!(run(&mut d, &[tone(&[1100.0], 600, 8_000.0)]).is_some());
    assert_eq!(d.push(&tone(&[2100.0], 1_000, 8_000.0)), None);
    assert_eq!(d.verdict(), Some(Progress::Fax(FaxTone::Cng)));
}
