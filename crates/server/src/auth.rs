//! Credentials: argon2 password hashes, random tokens (sessions, API keys, resume
//! tokens, stored only as SHA-256 hashes) and merchant-signed visitor identities.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("identity token rejected: {0}")]
    Identity(String),
}

/// Hashes a password with argon2id (default parameters). CPU-heavy: call it
/// from a blocking task.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Checks a password against a stored hash; a corrupt hash is a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash that costs what a real verification costs, so an unknown user name
/// takes as long to refuse as a wrong password (no user enumeration by timing).
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// 32 random bytes, URL-safe base64: session tokens, CSRF tokens, resume tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A readable random password for `user add` without stdin.
pub fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are high-entropy, so a fast hash is enough to keep them useless if
/// the database leaks (unlike passwords, which need argon2).
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Compares secrets in constant time.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The claims a merchant's server signs for a visitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityClaims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// The tenant's slug: a token signed for one tenant is no good at another
    /// that happens to share its secret.
    pub aud: String,
    /// When it was signed (Unix seconds).
    pub iat: u64,
    /// When it stops being good (Unix seconds), at most
    /// [`MAX_IDENTITY_LIFETIME_SECS`] after `iat`.
    pub exp: u64,
}

/// The longest an identity token may be good for: a stolen page (with its
/// token) is no use for longer than a day.
pub const MAX_IDENTITY_LIFETIME_SECS: u64 = 86_400;

/// The shortest widget secret trusted to sign identities (a shorter one is
/// refused by `tenant apply`, and a short one already stored verifies nobody).
pub const MIN_WIDGET_SECRET_BYTES: usize = 32;

/// Clock skew allowed between the merchant's server and ours.
const IDENTITY_LEEWAY_SECS: u64 = 30;

impl IdentityClaims {
    /// Claims for `sub` at `tenant`, signed now and good for `ttl_secs`.
    pub fn new(tenant: &str, sub: impl Into<String>, ttl_secs: u64) -> Self {
        let now = unix_now();
        IdentityClaims {
            sub: sub.into(),
            name: None,
            email: None,
            entitlements: Vec::new(),
            aud: tenant.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl_secs),
        }
    }
}

fn unix_now() -> u64 {
    u64::try_from(crate::store::now_ms() / 1000).unwrap_or(0)
}

/// Verifies an HS256 identity token with the tenant's secret: signed for
/// `tenant` (`aud`), not yet expired, not signed in the future, and good for
/// at most a day (30 s leeway for clock skew).
pub fn verify_identity(
    token: &str,
    secret: &str,
    tenant: &str,
) -> Result<IdentityClaims, AuthError> {
    if token.len() > 4096 {
        return Err(AuthError::Identity("token too long".into()));
    }
    if secret.len() < MIN_WIDGET_SECRET_BYTES {
        return Err(AuthError::Identity(
            "the tenant's widget secret is too short to trust".into(),
        ));
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = IDENTITY_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "sub", "aud", "iat"]);
    validation.set_audience(&[tenant]);
    let claims = jsonwebtoken::decode::<IdentityClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|e| AuthError::Identity(e.to_string()))?;
    if claims.iat > unix_now() + IDENTITY_LEEWAY_SECS {
        return Err(AuthError::Identity("signed in the future (iat)".into()));
    }
    if claims.exp.saturating_sub(claims.iat) > MAX_IDENTITY_LIFETIME_SECS {
        return Err(AuthError::Identity(format!(
            "good for more than {MAX_IDENTITY_LIFETIME_SECS} s (exp - iat)"
        )));
    }
    Ok(claims)
}

/// Signs identity claims (what a merchant's server does; used by the demo page,
/// the CLI's `tenant sign` and tests).
pub fn sign_identity(claims: &IdentityClaims, secret: &str) -> Result<String, AuthError> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| AuthError::Identity(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "a widget secret of thirty-two bytes or more";
    const K2: &str = "another widget secret, also long enough";

    fn claims(exp: u64) -> IdentityClaims {
        IdentityClaims {
            name: Some("Dana".into()),
            entitlements: vec!["gold".into()],
            exp,
            ..IdentityClaims::new("acme", "c-1", 0)
        }
    }

    fn far_future() -> u64 {
        unix_now() + 3600
    }

    #[test]
    fn password_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn identity_verifies_with_right_secret_only() {
        let token = sign_identity(&claims(far_future()), K1).unwrap();
        assert_eq!(verify_identity(&token, K1, "acme").unwrap().sub, "c-1");
        assert!(verify_identity(&token, K2, "acme").is_err());
    }

    #[test]
    fn expired_identity_is_rejected() {
        let mut old = claims(1_000);
        old.iat = 900;
        let token = sign_identity(&old, K1).unwrap();
        assert!(verify_identity(&token, K1, "acme").is_err());
    }

    #[test]
    fn garbage_identity_is_rejected() {
        for bad in ["", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", &"x".repeat(5000)] {
            assert!(verify_identity(bad, K1, "acme").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_short_widget_secret_verifies_nobody() {
        let token = sign_identity(&claims(far_future()), "short").unwrap();
        assert!(verify_identity(&token, "short", "acme").is_err());
        assert!(verify_identity(&token, "", "acme").is_err());
    }

    #[test]
    fn identity_for_another_tenant_is_rejected() {
        let token = sign_identity(&claims(far_future()), K1).unwrap();
        let err = verify_identity(&token, K1, "other").unwrap_err();
        assert!(err.to_string().contains("Audience"), "{err}");
    }

    #[test]
    fn identity_without_iat_or_aud_is_rejected() {
        // Signed by hand, as an older merchant integration would have.
        for claims in [
            serde_json::json!({"sub": "c-1", "aud": "acme", "exp": far_future()}),
            serde_json::json!({"sub": "c-1", "iat": unix_now(), "exp": far_future()}),
        ] {
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(K1.as_bytes()),
            )
            .unwrap();
            assert!(verify_identity(&token, K1, "acme").is_err(), "{claims}");
        }
    }

    #[test]
    fn identity_good_for_more_than_a_day_or_signed_later_is_rejected() {
        let mut long = claims(0);
        long.exp = long.iat + MAX_IDENTITY_LIFETIME_SECS + 1;
        let token = sign_identity(&long, K1).unwrap();
        assert!(verify_identity(&token, K1, "acme").is_err());
        let mut day = claims(0);
        day.exp = day.iat + MAX_IDENTITY_LIFETIME_SECS;
        let token = sign_identity(&day, K1).unwrap();
        assert!(verify_identity(&token, K1, "acme").is_ok());
        let mut future = claims(0);
        future.iat = unix_now() + 3600;
        future.exp = future.iat + 60;
        let token = sign_identity(&future, K1).unwrap();
        assert!(verify_identity(&token, K1, "acme").is_err());
    }

    #[test]
    fn token_hash_is_stable_and_distinct() {
        assert_eq!(token_hash("a"), token_hash("a"));
        assert_ne!(token_hash("a"), token_hash("b"));
        assert_ne!(random_token(), random_token());
    }
}
