//! The phone side of a live call: its SIP dialog, its RTP leg in the media
//! call, and what its record says. Calls (`calls.rs`) hold one; the phone
//! (`phone.rs`) and routing points (`dial_in.rs`) make and run them.

use std::net::SocketAddr;

use media::{G711, LegId, RtpPeer};

use crate::{phone::codes::Keyed, store::PhoneRecord};

/// A live call's phone side.
pub(super) struct PhoneLeg {
    /// The SIP dialog, once dialled (outbound) or from the start (inbound).
    pub(super) sip: Option<sip::SipCallId>,
    /// The RTP leg in the media call.
    pub(super) leg: LegId,
    /// Our RTP address, announced in SDP.
    pub(super) local: SocketAddr,
    pub(super) record: PhoneRecord,
    /// The pooled caller id this call presents (outbound), released at the end.
    pub(super) caller_id: Option<String>,
    pub(super) keyed: Keyed,
    /// The far end answered (outbound), or we answered (inbound).
    pub(super) answered: bool,
    /// The caller's media from their INVITE (inbound), used when we answer.
    pub(super) remote: Option<sip::RemoteMedia>,
}

impl PhoneLeg {
    /// A caller's leg (a DID or a routing point): answered later, with the
    /// media their INVITE offered.
    pub(super) fn inbound(
        call: sip::SipCallId,
        leg: LegId,
        local: SocketAddr,
        record: PhoneRecord,
        media: sip::RemoteMedia,
    ) -> Self {
        Self {
            sip: Some(call),
            leg,
            local,
            record,
            caller_id: None,
            keyed: Keyed::default(),
            answered: false,
            remote: Some(media),
        }
    }
}

/// Where and how to send a phone's RTP, from the SDP its SIP answer or offer
/// carried.
pub(super) fn rtp_peer(media: &sip::RemoteMedia) -> RtpPeer {
    RtpPeer {
        addr: media.addr,
        codec: match media.codec {
            sip::Codec::Pcmu => G711::Pcmu,
            sip::Codec::Pcma => G711::Pcma,
        },
        payload_type: media.payload_type,
        dtmf_payload_type: media.dtmf_payload_type,
    }
}
