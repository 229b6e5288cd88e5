//! A browser's media in the server's phone tests: an in-process WebRTC peer
//! playing an Opus tone and telling which tone it hears.
#![allow(dead_code)]

use std::time::Duration;

use media::testclient::{ClientEvent, Shape, TestClient};
use opus_rs::{Application, OpusDecoder, OpusEncoder};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{
    common::{WAIT, Ws},
    phone::{self, RtpPhone},
};

/// A browser's media: a WebRTC peer sending an Opus tone and telling which
/// tone it receives.
pub struct Browser {
    pub client: TestClient,
    events: mpsc::Receiver<ClientEvent>,
    encoder: OpusEncoder,
    decoder: OpusDecoder,
    sent: u64,
    pub heard: Vec<Option<u32>>,
}

impl Browser {
    pub async fn new() -> (Browser, String) {
        let (client, offer, events) = TestClient::with_channel(Shape::Party { video: false })
            .await
            .unwrap();
        let encoder = OpusEncoder::new(8000, 1, Application::Voip).unwrap();
        let decoder = OpusDecoder::new(8000, 1).unwrap();
        let browser = Browser {
            client,
            events,
            encoder,
            decoder,
            sent: 0,
            heard: Vec::new(),
        };
        (browser, offer)
    }

    /// Takes the server's `call_answer` frame and waits for the media.
    pub async fn answered(&mut self, call_answer: &Value) {
        self.client
            .accept_answer(call_answer["sdp"].as_str().unwrap())
            .await
            .unwrap();
        self.connected().await;
    }

    pub async fn connected(&mut self) {
        loop {
            let event = tokio::time::timeout(WAIT, self.events.recv())
                .await
                .expect("browser media connects")
                .expect("peer running");
            if matches!(event, ClientEvent::Connected) {
                return;
            }
        }
    }

    /// Sends 20 ms of `hz` and takes in what arrived meanwhile.
    pub async fn tick(&mut self, hz: f64) {
        let pcm: Vec<i16> = (0..160)
            .map(|i| {
                let t = (self.sent * 160 + i) as f64 / 8000.0;
                ((2.0 * std::f64::consts::PI * hz * t).sin() * 8000.0) as i16
            })
            .collect();
        self.sent += 1;
        let mut out = vec![0u8; 400];
        let n = self.encoder.encode_i16(&pcm, 160, &mut out).unwrap();
        self.client.send_audio(out[..n].to_vec()).await;
        let until = tokio::time::Instant::now() + Duration::from_millis(20);
        while let Ok(Some(event)) = tokio::time::timeout_at(until, self.events.recv()).await {
            if let ClientEvent::Audio { data, .. } = event {
                // Up to 120 ms at 8 kHz; samples come as floats in -1..1.
                let mut pcm = vec![0f32; 960];
                if let Ok(n) = self.decoder.decode(&data, 960, &mut pcm) {
                    let samples: Vec<f64> =
                        pcm[..n].iter().map(|s| f64::from(*s) * 32768.0).collect();
                    self.heard.push(phone::dominant_tone(&samples));
                }
            }
        }
    }

    /// Plays `hz` (as a browser does from the moment its media is up) until
    /// `ws` brings a frame `pred` accepts.
    pub async fn talk_until_frame(
        &mut self,
        hz: f64,
        ws: &mut Ws,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.tick(hz).await;
            if let Ok(frame) = tokio::time::timeout(Duration::from_millis(1), ws.next()).await
                && pred(&frame)
            {
                return frame;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no such frame within the wait"
            );
        }
    }

    /// Plays `hz` until `consecutive` received frames carry `want`.
    pub async fn talk_until_hears(&mut self, hz: f64, want: u32, consecutive: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            self.tick(hz).await;
            if self
                .heard
                .windows(consecutive)
                .any(|w| w.iter().all(|t| *t == Some(want)))
            {
                return;
            }
        }
        panic!("the browser never heard {want} Hz; heard {:?}", self.heard);
    }

    /// Goes on playing `hz` until `phone` has heard it in `consecutive`
    /// frames in a row (a browser does not fall silent while it waits).
    pub async fn talk_until_phone_hears(&mut self, hz: f64, phone: &RtpPhone, consecutive: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !phone
            .wait_for_tone(hz as u32, consecutive, Duration::ZERO)
            .await
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the phone never heard the browser's {hz} Hz"
            );
            self.tick(hz).await;
        }
    }
}

/// The agent takes the offered contact and joins its media from a browser.
pub async fn agent_joins(console: &mut Ws, contact: i64) -> Browser {
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    console.until_type("assigned").await;
    let (mut agent, sdp) = Browser::new().await;
    console
        .send(json!({"type": "call_sdp", "contact": contact, "sdp": sdp}))
        .await;
    let answer = console.until_type("call_answer").await;
    agent.answered(&answer).await;
    agent
}
