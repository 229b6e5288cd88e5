//! Fuzz entry points for the server's untrusted text: the visitor's and the
//! agent's WebSocket frames and the merchant-signed identity token. Shared by
//! the fuzz binaries in `fuzz/` and the corpus replay test
//! (`crates/server/tests/fuzz_corpora.rs`); a panic is a bug in the code under
//! them, never in the input.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use switchboard::auth;
use switchboard::protocol::{self, AgentFrame, VisitorFrame};

/// The widget secret the identity target signs and verifies with (a real
/// one is at least 32 bytes).
pub const SECRET: &str = "fuzz-widget-secret-of-32-bytes-or-more";

/// The tenant the identity target's tokens are for (`aud`).
pub const TENANT: &str = "fuzz";

/// A visitor's text frame: [`protocol::parse`], then the checks the desk runs
/// on the fields of what parsed.
pub fn visitor_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        // A WebSocket text frame is UTF-8 by then.
        return;
    };
    let Ok(frame) = protocol::parse::<VisitorFrame>(text, protocol::VISITOR_FRAME_TYPES) else {
        return;
    };
    match frame {
        VisitorFrame::Hello {
            identity: Some(token),
            ..
        } => {
            let _ = auth::verify_identity(&token, SECRET, TENANT);
        }
        VisitorFrame::Start { text: Some(text) } | VisitorFrame::Message { text } => {
            let _ = protocol::chat_text(&text);
        }
        VisitorFrame::Callback { phone, .. } => {
            let _ = protocol::phone_number(&phone);
        }
        VisitorFrame::Call { sdp, .. } => {
            let _ = protocol::sdp_offer(&sdp);
        }
        VisitorFrame::Dtmf { digits } => {
            let _ = protocol::dtmf_digits(&digits);
        }
        VisitorFrame::MediaControlResult { applied, .. } => {
            let _ = applied.check();
        }
        _ => {}
    }
}

/// An agent console's text frame: [`protocol::parse`] and the chat text check.
pub fn agent_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = protocol::parse::<AgentFrame>(text, protocol::AGENT_FRAME_TYPES) else {
        return;
    };
    if let AgentFrame::Message { text, .. } = frame {
        let _ = protocol::chat_text(&text);
    }
}

/// The identity token, through [`auth::verify_identity`]'s public signature.
///
/// The first byte picks how the rest is read: even, the rest is the token as
/// the widget sent it (the signature almost never holds, so this tries the
/// token's framing and header); odd, the rest is `header JSON` and `claims
/// JSON` separated by the first newline (or the claims alone, under a plain
/// HS256 header), signed here with [`SECRET`] so the claims reach the checks
/// that come after the signature.
pub fn identity_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        token.to_owned()
    } else {
        let (header, claims) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], rest),
        };
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let Ok(signature) = jsonwebtoken::crypto::sign(
            signed.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        ) else {
            return;
        };
        format!("{signed}.{signature}")
    };
    if let Ok(claims) = auth::verify_identity(&token, SECRET, TENANT) {
        // What verifies was signed with the secret and has not expired.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(
            claims.exp.saturating_add(30) >= now,
            "an expired token verified: {claims:?}"
        );
        // For this tenant, and good for a day at most.
        assert_eq!(claims.aud, TENANT, "another tenant's token verified");
        assert!(
            claims.exp.saturating_sub(claims.iat) <= auth::MAX_IDENTITY_LIFETIME_SECS,
            "a token good for more than a day verified: {claims:?}"
        );
        // A wrong secret, or another tenant, never verifies it.
        assert!(
            auth::verify_identity(&token, "another-secret-also-32-bytes-long!!", TENANT).is_err()
        );
        assert!(auth::verify_identity(&token, SECRET, "other").is_err());
    }
}
