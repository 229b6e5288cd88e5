//! The fuzz target for a browser's SDP offer (`fuzz/`, and the corpus replay
//! in `tests/fuzz_corpora.rs`): the offer is parsed as `Call::add_webrtc`
//! parses it, then answered by a fresh leg as the call task answers it. A
//! panic here is a bug in the code under it, never in the input.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::leg::{LegSetup, WebrtcLeg, parse_offer};
use crate::{LegId, LegRole};

/// Parses `data` as an offer and, when it parses, answers it.
pub fn webrtc_offer(data: &[u8]) {
    static SETUP: OnceLock<Option<LegSetup>> = OnceLock::new();
    let Ok(sdp) = std::str::from_utf8(data) else {
        // It arrives inside a JSON string.
        return;
    };
    let Ok(offer) = parse_offer(sdp) else {
        return;
    };
    let setup = SETUP.get_or_init(|| LegSetup::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 9))));
    let Some(setup) = setup else {
        return;
    };
    let _ = WebrtcLeg::from_offer(
        setup,
        LegId(1),
        LegRole::Visitor,
        offer,
        Duration::from_secs(10),
        Instant::now(),
    );
}
