//! Entry points for the fuzz targets in `fuzz/` and for the test that replays
//! their corpora (`tests/fuzz_corpora.rs`). Each takes arbitrary bytes and
//! runs them down the path a received datagram or body takes; a panic here is
//! a bug in the code under it, never in the input.

use std::net::{Ipv4Addr, SocketAddr};

use rsipstack::sip::SipMessage;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::stream::{SipCodec, SipCodecType};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use sip::canonical;
use sip::sdp::{self, LocalMedia};
use sip::validate::{self, Kind, Verdict};

/// Bytes from a trunk, the ways the agent reads them: as one UDP datagram, and
/// as a TCP stream cut into messages by rsipstack's codec.
pub fn sip_message(data: &[u8]) {
    datagram(data);
    stream(data);
    // Everything we send goes through this.
    let _ = canonical::strip_synthetic_tag(data);
}

/// What the agent's gate does with one message (`Gate::judge` in `agent.rs`):
/// [`validate::check`], then the stateless answer, or rsipstack's parser (as
/// is, or after [`canonical::canonical`]) and what its transport and
/// transaction layers read from the message first.
fn datagram(data: &[u8]) {
    if data.iter().all(u8::is_ascii_whitespace) {
        // A keepalive: the stack's business.
        return;
    }
    match validate::check(data) {
        Verdict::Drop => {}
        Verdict::Reply {
            code,
            reason,
            extra,
        } => {
            let _ = validate::build_response(data, code, reason, &extra, "fuzz");
        }
        Verdict::Pass { len, message } => {
            // `check` promises a prefix of the datagram.
            let data = &data[..len];
            if let Kind::Request { .. } = message {
                // The gate's own answers to strangers (403, 481, 200 to OPTIONS).
                let _ = validate::build_response(data, 481, "No Dialog", &[], "");
            }
            if let Some(msg) = stack_parse(data) {
                stack_reads(msg, &message);
            } else if let Some(plain) = canonical::canonical(data)
                && let Some(msg) = stack_parse(&plain)
            {
                stack_reads(msg, &message);
            }
        }
    }
}

/// The TCP reader (`tcp.rs`): rsipstack's codec frames the stream, and each
/// message it yields goes through the gate as its bytes.
fn stream(data: &[u8]) {
    let mut codec = SipCodec::new();
    let mut buf = BytesMut::from(data);
    // As the reader does: a message the codec cannot frame safely ends the stream.
    while validate::stream_length_ok(&buf)
        && let Ok(Some(item)) = codec.decode(&mut buf)
    {
        if let SipCodecType::Message(msg) = item {
            datagram(&msg.to_bytes());
        }
    }
}

fn stack_parse(data: &[u8]) -> Option<SipMessage> {
    SipMessage::try_from(data).ok()
}

/// What rsipstack's UDP transport and endpoint do with a parsed message.
fn stack_reads(msg: SipMessage, kind: &Kind) {
    let from = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 5060));
    let Ok(msg) = rsipstack::transport::connection::SipConnection::update_msg_received(
        msg,
        from,
        rsipstack::sip::Transport::Udp,
    ) else {
        return;
    };
    let _ = msg.cseq_header().map(|c| c.value().to_string());
    match &msg {
        SipMessage::Request(req) => {
            let _ = req.top_via_header().map(|v| v.typed());
            let _ = req.from_header().map(rsipstack::sip::From::tag);
            let _ = req.to_header().map(rsipstack::sip::To::tag);
            let _ = req.cseq_header().map(ToTypedHeader::typed);
            let _ = req.contact_header().map(ToTypedHeader::typed);
            let _ = TransactionKey::from_request(req, TransactionRole::Server);
            let _ = rsipstack::dialog::DialogId::try_from((req, TransactionRole::Server));
            if matches!(kind, Kind::Request { method, .. } if method == "INVITE") {
                let _ = sdp::parse(&req.body);
            }
        }
        SipMessage::Response(resp) => {
            let _ = TransactionKey::from_response(resp, TransactionRole::Client);
            let _ = resp.to_header().map(rsipstack::sip::To::tag);
            let _ = rsipstack::dialog::DialogId::try_from((resp, TransactionRole::Client));
            let _ = sdp::parse(&resp.body);
        }
    }
}

/// An SDP body from a trunk: [`sdp::parse`], and the answer built from what it
/// picked.
pub fn sdp(data: &[u8]) {
    if let Ok(remote) = sdp::parse(data) {
        let local = LocalMedia {
            addr: SocketAddr::from((Ipv4Addr::new(192, 0, 2, 9), 40_000)),
        };
        let answer = sdp::answer(local, 1, &remote);
        // Our own answer must read back as what we chose.
        let back = sdp::parse(answer.as_bytes()).expect("our answer parses");
        assert_eq!(back.codec, remote.codec);
        assert_eq!(back.payload_type, remote.payload_type);
        assert_eq!(back.dtmf_payload_type, remote.dtmf_payload_type);
    }
}
