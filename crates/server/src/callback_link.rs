//! The link a visitor keeps to change or cancel their callback without an
//! account (issue 14): `/callback/{token}` on the public listener.
//!
//! The token is the callback's tenant, its contact id and an expiry, signed
//! with HMAC-SHA256 under a server key (`store::server_keys`, kept across
//! restarts). Whoever holds the link may move or cancel that one callback
//! until it expires, and nothing else: the desk still checks that the
//! contact is a live callback of that tenant.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::{ContactId, TenantId};

/// What the MAC covers besides the fields, so a MAC made for anything else
/// under the same key never passes as a manage link.
const DOMAIN: &[u8] = b"switchboard callback manage v1\0";
/// The fields: tenant, contact, expiry (Unix ms), 8 bytes each, big-endian.
const FIELDS: usize = 24;
/// Bytes of the MAC kept: 128 bits is beyond guessing, and the link stays
/// short enough to read aloud.
const MAC_BYTES: usize = 16;
/// How long a link outlives the callback's time: long enough for the
/// visitor to look after the call was made, short enough to go stale.
pub const VALID_AFTER_MS: i64 = 2 * 86_400_000;
/// The server key's name in `server_keys`.
pub const KEY_NAME: &str = "callback_links";

/// What a valid token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManageToken {
    pub tenant: TenantId,
    pub contact: ContactId,
    pub expires_ms: i64,
}

/// Why a token is refused; the messages are what the visitor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not valid; use the link from your confirmation as it was sent")]
    Invalid,
    #[error("this link has expired; please ask for a new callback")]
    Expired,
}

/// Signs and checks manage links with one key.
#[derive(Clone)]
pub struct LinkKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

impl LinkKey {
    pub fn new(key: &[u8]) -> Self {
        Self(key.into())
    }

    fn mac(&self, fields: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(DOMAIN);
        mac.update(fields);
        mac
    }

    /// The token for `token`'s callback.
    pub fn sign(&self, token: ManageToken) -> String {
        let mut bytes = Vec::with_capacity(FIELDS + MAC_BYTES);
        bytes.extend_from_slice(&token.tenant.0.to_be_bytes());
        bytes.extend_from_slice(&token.contact.0.to_be_bytes());
        bytes.extend_from_slice(&token.expires_ms.to_be_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `text` names, if this key signed it and it has not expired at
    /// `now_ms`. The MAC is checked before the expiry is read, so a
    /// tampered token never learns more than "not valid".
    pub fn verify(&self, text: &str, now_ms: i64) -> Result<ManageToken, LinkError> {
        if text.len() > 64 {
            return Err(LinkError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| LinkError::Invalid)?;
        if bytes.len() != FIELDS + MAC_BYTES {
            return Err(LinkError::Invalid);
        }
        let (fields, tag) = bytes.split_at(FIELDS);
        self.mac(fields)
            .verify_truncated_left(tag)
            .map_err(|_| LinkError::Invalid)?;
        let field = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&fields[i * 8..i * 8 + 8]);
            i64::from_be_bytes(b)
        };
        let token = ManageToken {
            tenant: TenantId(field(0)),
            contact: ContactId(field(1)),
            expires_ms: field(2),
        };
        if now_ms >= token.expires_ms {
            return Err(LinkError::Expired);
        }
        Ok(token)
    }
}

/// A number as the manage page shows it: the country code and the last two
/// digits, so the visitor recognises it and a stranger learns little.
pub fn masked(number: &str) -> String {
    let code = crate::phone::country::country_code(number).unwrap_or("+");
    let rest = &number[code.len().min(number.len())..];
    let shown = rest.len().saturating_sub(2);
    format!("{code} {}{}", "•".repeat(shown), &rest[shown..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> ManageToken {
        ManageToken {
            tenant: TenantId(7),
            contact: ContactId(4242),
            expires_ms: 10_000,
        }
    }

    #[test]
    fn a_signed_token_reads_back_until_it_expires() {
        let key = LinkKey::new(b"k1");
        let text = key.sign(token());
        assert_eq!(key.verify(&text, 9_999), Ok(token()));
        assert_eq!(key.verify(&text, 10_000), Err(LinkError::Expired));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_invalid() {
        let key = LinkKey::new(b"k1");
        let text = key.sign(token());
        assert_eq!(
            LinkKey::new(b"k2").verify(&text, 0),
            Err(LinkError::Invalid)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
        bytes[15] ^= 1; // another contact
        assert_eq!(
            key.verify(&URL_SAFE_NO_PAD.encode(&bytes), 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(key.verify("not a token", 0), Err(LinkError::Invalid));
        assert_eq!(key.verify(&"A".repeat(500), 0), Err(LinkError::Invalid));
    }

    #[test]
    fn numbers_are_masked_but_recognisable() {
        assert_eq!(masked("+442079460123"), "+44 ••••••••23");
        assert_eq!(masked("+15125550100"), "+1 ••••••••00");
    }
}
