//! The registrar: REGISTER with digest authentication, bindings with expiry.
//!
//! Sans-IO like the rest of the gate: [`Registrar::register`] takes a parsed
//! request, its source and the time, changes the bindings and says what to
//! answer; [`Registrar::expire`] drops bindings whose time has passed. The
//! agent calls both under a lock from its receive path and a one-second timer,
//! and forwards the [`Registration`] changes to the server (presence).
//!
//! ## Credentials without passwords
//!
//! A digest response is `H(HA1:nonce:...:H(method:uri))` with
//! `HA1 = H(username:realm:password)`. Checking it needs HA1, not the password,
//! so HA1 is all the server stores and hands us: one per digest user name and
//! algorithm (MD5, and SHA-256 from RFC 8760). HA1 is still a password
//! equivalent *for this realm*, so it is a secret, but a leaked table gives no
//! password for anything else. The realm is one fixed string ([`REALM`]) so
//! that the HA1s stay valid; a change of realm would need every password set
//! again. A member signs in with their name (and their tenant's slug as the
//! SIP domain) or any number they held when their password was set.
//!
//! ## No enumeration
//!
//! An unknown user, an unknown tenant and a wrong password get the same 403,
//! after the same hashing work; a REGISTER without credentials gets the same
//! challenge whoever it names. Failed attempts are counted per source address
//! and per account name, and over the limit every attempt from that source or
//! for that name gets 503 with Retry-After, right or wrong, known or not.
//!
//! ## No replay
//!
//! A nonce is bound to the source address and lives
//! [`RegistrarConfig::nonce_lifetime`]. Within that life each accepted
//! response spends its nonce count: with `qop=auth` the next request must
//! carry a higher `nc`, without qop the nonce is good once. A replayed
//! response gets a fresh challenge (`stale=true`, so an honest device simply
//! answers it) and counts as a failure of its source. Only nonces of accepted
//! responses are remembered, at most [`RegistrarConfig::max_tracked_nonces`]
//! and for no longer than their life; when that many are live, new sign-ins
//! get 503 until some lapse.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::validate::Parsed;
use crate::{TenantId, Transport};

/// The digest realm of every challenge.
pub const REALM: &str = "switchboard";

/// Hex of MD5 over `input`.
fn md5_hex(input: &str) -> String {
    hex(&Md5::digest(input.as_bytes()))
}

fn sha256_hex(input: &str) -> String {
    hex(&Sha256::digest(input.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `HA1 = MD5(username:realm:password)`.
pub fn ha1_md5(username: &str, password: &str) -> String {
    md5_hex(&format!("{username}:{REALM}:{password}"))
}

/// `HA1 = SHA-256(username:realm:password)` (RFC 7616 / RFC 8760).
pub fn ha1_sha256(username: &str, password: &str) -> String {
    sha256_hex(&format!("{username}:{REALM}:{password}"))
}

/// One digest user name of one member, as the server stores it.
#[derive(Clone, Debug)]
pub struct SipAccount {
    pub tenant: TenantId,
    /// The tenant's slug: the SIP domain a name-based AoR is under.
    pub domain: String,
    /// The server's member id.
    pub member: i64,
    /// The member's name, or one of their twelve-digit numbers.
    pub username: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// A digest hash a challenge offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    fn token(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RegistrarConfig {
    /// Challenges offered, in this order. RFC 8760 clients take the first
    /// they support, but many devices do not: sipp 3.6 reads only the first
    /// challenge, and baresip 1.0 (Debian's) gives up when any challenge
    /// names an algorithm it lacks. So the default offers MD5 alone, as
    /// Kamailio and Asterisk do; a deployment whose devices speak SHA-256
    /// lists it (first, or alone).
    pub algorithms: Vec<DigestAlgorithm>,
    /// Shorter asked expiries get 423 Interval Too Brief.
    pub min_expires: u32,
    /// Longer asked expiries are cut to this.
    pub max_expires: u32,
    /// When a REGISTER names none.
    pub default_expires: u32,
    /// Contacts one member may have; a new one beyond replaces the oldest.
    pub max_contacts_per_member: usize,
    /// Bindings in all; beyond, new ones get 503.
    pub max_bindings: usize,
    /// Failed authentications per source address per 10 s before 503.
    pub failures_per_source: u32,
    /// Failed authentications per account name per 10 s before 503.
    pub failures_per_account: u32,
    /// How long a nonce is taken; after, the device is asked again (`stale`).
    pub nonce_lifetime: Duration,
    /// Spent nonces remembered at most (each for its life).
    pub max_tracked_nonces: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            algorithms: vec![DigestAlgorithm::Md5],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts_per_member: 5,
            max_bindings: 100_000,
            failures_per_source: 10,
            failures_per_account: 10,
            nonce_lifetime: Duration::from_mins(5),
            max_tracked_nonces: 100_000,
        }
    }
}

/// A member's set of bindings changed: how many contacts they have now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub tenant: TenantId,
    pub member: i64,
    pub contacts: usize,
}

/// Where a registered device is reached.
#[derive(Clone, Debug)]
pub struct Binding {
    pub contact: String,
    /// The address the REGISTER came from (behind NAT, the one to use).
    pub source: SocketAddr,
    pub transport: Transport,
    pub expires_at: Instant,
    registered_at: Instant,
    call_id: String,
    cseq: u32,
}

/// What to answer a REGISTER with.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub reason: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn plain(code: u16, reason: &'static str) -> Self {
        Reply {
            code,
            reason,
            headers: Vec::new(),
        }
    }
}

/// Failures per key in fixed 10-second windows, with a bounded table.
struct FailureCount<K> {
    limit: u32,
    cap: usize,
    windows: HashMap<K, (Instant, u32)>,
}

const FAILURE_WINDOW: Duration = Duration::from_secs(10);
/// Keys tracked per failure table at most.
const MAX_TRACKED: usize = 4096;

impl<K: std::hash::Hash + Eq + Clone> FailureCount<K> {
    fn new(limit: u32) -> Self {
        FailureCount {
            limit: limit.max(1),
            cap: MAX_TRACKED,
            windows: HashMap::new(),
        }
    }

    fn over(&self, key: &K, now: Instant) -> bool {
        self.windows.get(key).is_some_and(|(start, n)| {
            now.saturating_duration_since(*start) < FAILURE_WINDOW && *n >= self.limit
        })
    }

    fn fail(&mut self, key: K, now: Instant) {
        if !self.windows.contains_key(&key) && self.windows.len() >= self.cap {
            self.windows
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < FAILURE_WINDOW);
            if self.windows.len() >= self.cap {
                // A many-source flood: forget one window rather than grow.
                if let Some(k) = self.windows.keys().next().cloned() {
                    self.windows.remove(&k);
                }
            }
        }
        let entry = self.windows.entry(key).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= FAILURE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Accounts, bindings and the throttles.
pub struct Registrar {
    config: RegistrarConfig,
    /// Keyed by a bare number, or `name@domain`.
    accounts: HashMap<String, SipAccount>,
    bindings: HashMap<(TenantId, i64), Vec<Binding>>,
    total: usize,
    epoch: Instant,
    secret: [u8; 32],
    source_failures: FailureCount<IpAddr>,
    account_failures: FailureCount<String>,
    /// Nonces of accepted responses: the highest nonce count spent, and when
    /// the nonce was issued (seconds from `epoch`).
    spent: HashMap<String, (u64, u64)>,
    /// Makes every challenge's nonce its own (two devices behind one address
    /// challenged in the same second must not share a nonce count).
    issued: std::sync::atomic::AtomicU64,
}

/// A twelve-digit permanent number, as a SIP user part.
fn is_number(user: &str) -> bool {
    user.len() == 12 && user.bytes().all(|b| b.is_ascii_digit()) && !user.starts_with(['0', '1'])
}

fn account_key(user: &str, domain: &str) -> String {
    if is_number(user) {
        user.to_owned()
    } else {
        format!("{user}@{}", domain.to_ascii_lowercase())
    }
}

/// `user` and `host` of a `sip:`/`sips:` URI in a header value
/// (`"Name" <sip:user@host:port;params>` or a bare URI).
fn uri_parts(value: &str) -> Option<(String, String)> {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        (None, None) => value.split(';').next()?.trim(),
        _ => return None,
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.split([';', '?']).next()?;
    let (user, host) = rest.rsplit_once('@')?;
    let user = user.split(':').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    if user.is_empty() || host.is_empty() {
        return None;
    }
    Some((user.to_owned(), host.to_owned()))
}

/// One Contact entry: the URI as written (without `<>`) and its `expires` param.
struct ContactEntry {
    uri: String,
    expires: Option<u32>,
}

/// Splits Contact header values at commas outside quotes and angle brackets.
fn contact_entries(values: &[&str]) -> Result<Vec<ContactEntry>, ()> {
    let mut out = Vec::new();
    for value in values {
        let mut depth_angle = false;
        let mut quoted = false;
        let mut start = 0;
        let bytes = value.as_bytes();
        let mut parts = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' if !depth_angle => quoted = !quoted,
                b'<' if !quoted => depth_angle = true,
                b'>' if !quoted => depth_angle = false,
                b',' if !quoted && !depth_angle => {
                    parts.push(&value[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&value[start..]);
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                return Err(());
            }
            let (uri, params) = match (part.find('<'), part.rfind('>')) {
                (Some(a), Some(b)) if a < b => (&part[a + 1..b], &part[b + 1..]),
                (None, None) => match part.split_once(';') {
                    Some((u, p)) => (u, p),
                    None => (part, ""),
                },
                _ => return Err(()),
            };
            let uri = uri.trim();
            if !(uri.starts_with("sip:") || uri.starts_with("sips:")) || uri.len() > 512 {
                return Err(());
            }
            let mut expires = None;
            for p in params.split(';') {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("expires")
                {
                    expires = Some(v.trim().parse::<u32>().map_err(|_| ())?);
                }
            }
            out.push(ContactEntry {
                uri: uri.to_owned(),
                expires,
            });
        }
    }
    Ok(out)
}

/// The parameters of a `Digest` Authorization header.
#[derive(Default)]
struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: String,
    qop: Option<String>,
    nc: String,
    cnonce: String,
}

fn parse_credentials(value: &str) -> Option<Credentials> {
    let (scheme, params) = value.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut c = Credentials {
        algorithm: "MD5".into(),
        ..Credentials::default()
    };
    for (k, v) in crate::digest::split_params(params) {
        match k.to_ascii_lowercase().as_str() {
            "username" => c.username = v,
            "realm" => c.realm = v,
            "nonce" => c.nonce = v,
            "uri" => c.uri = v,
            "response" => c.response = v.to_ascii_lowercase(),
            "algorithm" => c.algorithm = v.to_ascii_uppercase(),
            "qop" => c.qop = Some(v.to_ascii_lowercase()),
            "nc" => c.nc = v,
            "cnonce" => c.cnonce = v,
            _ => {}
        }
    }
    let complete = !c.username.is_empty()
        && !c.nonce.is_empty()
        && !c.uri.is_empty()
        && !c.response.is_empty()
        && c.username.len() <= 256;
    complete.then_some(c)
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

enum NonceCheck {
    /// Issued at this many seconds from the epoch.
    Fresh(u64),
    Stale,
    Bad,
}

impl Registrar {
    pub fn new(config: RegistrarConfig, now: Instant) -> Self {
        Registrar {
            source_failures: FailureCount::new(config.failures_per_source),
            account_failures: FailureCount::new(config.failures_per_account),
            config,
            accounts: HashMap::new(),
            bindings: HashMap::new(),
            total: 0,
            epoch: now,
            secret: rand::random(),
            spent: HashMap::new(),
            issued: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Replaces the accounts. Bindings of members who lost every account stay
    /// until they expire or unregister; they are not renewed.
    pub fn set_accounts(&mut self, accounts: Vec<SipAccount>) {
        self.accounts = accounts
            .into_iter()
            .map(|a| (account_key(&a.username, &a.domain), a))
            .collect();
    }

    /// The live bindings of one member.
    pub fn bindings(&self, tenant: TenantId, member: i64) -> &[Binding] {
        self.bindings
            .get(&(tenant, member))
            .map_or(&[], Vec::as_slice)
    }

    fn nonce(&self, ip: IpAddr, now: Instant) -> String {
        let t = now.saturating_duration_since(self.epoch).as_secs();
        let n = self
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{t:x}.{n:x}.{}", self.nonce_mac(t, n, ip))
    }

    fn nonce_mac(&self, t: u64, n: u64, ip: IpAddr) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(t.to_be_bytes());
        h.update(n.to_be_bytes());
        h.update(ip.to_string().as_bytes());
        hex(&h.finalize()[..16])
    }

    fn check_nonce(&self, nonce: &str, ip: IpAddr, now: Instant) -> NonceCheck {
        let mut parts = nonce.splitn(3, '.');
        let (Some(t), Some(n), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return NonceCheck::Bad;
        };
        let (Ok(t), Ok(n)) = (u64::from_str_radix(t, 16), u64::from_str_radix(n, 16)) else {
            return NonceCheck::Bad;
        };
        if !same(mac, &self.nonce_mac(t, n, ip)) {
            return NonceCheck::Bad;
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .saturating_sub(t);
        if age > self.config.nonce_lifetime.as_secs() {
            NonceCheck::Stale
        } else {
            NonceCheck::Fresh(t)
        }
    }

    /// 401 with a challenge per configured algorithm, in its order.
    fn challenge(&self, ip: IpAddr, now: Instant, stale: bool) -> Reply {
        let nonce = self.nonce(ip, now);
        let stale = if stale { ", stale=true" } else { "" };
        let header = |alg: &str| {
            format!(
                "Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}"
            )
        };
        Reply {
            code: 401,
            reason: "Unauthorized",
            headers: self
                .config
                .algorithms
                .iter()
                .map(|a| ("WWW-Authenticate", header(a.token())))
                .collect(),
        }
    }

    fn throttled() -> Reply {
        Reply {
            code: 503,
            reason: "Service Unavailable",
            headers: vec![("Retry-After", FAILURE_WINDOW.as_secs().to_string())],
        }
    }

    /// Handles one REGISTER that passed validation. Returns the answer and,
    /// when the member's bindings changed, the change.
    pub fn register(
        &mut self,
        msg: &Parsed<'_>,
        source: SocketAddr,
        transport: Transport,
        now: Instant,
    ) -> (Reply, Option<Registration>) {
        let ip = source.ip();
        let Some((aor_user, aor_host)) = msg.one("to").and_then(uri_parts) else {
            return (Reply::plain(400, "Bad To Header"), None);
        };
        let authorization = msg.one("authorization");
        let Some(authorization) = authorization else {
            return (self.challenge(ip, now, false), None);
        };
        let Some(creds) = parse_credentials(authorization) else {
            return (Reply::plain(400, "Bad Authorization Header"), None);
        };
        let key = account_key(&creds.username, &aor_host);
        if self.source_failures.over(&ip, now) || self.account_failures.over(&key, now) {
            return (Self::throttled(), None);
        }
        let issued = match self.check_nonce(&creds.nonce, ip, now) {
            NonceCheck::Fresh(t) => t,
            NonceCheck::Stale => return (self.challenge(ip, now, true), None),
            NonceCheck::Bad => {
                self.source_failures.fail(ip, now);
                return (self.challenge(ip, now, false), None);
            }
        };
        let account = self.accounts.get(&key);
        let offered = |a: DigestAlgorithm| self.config.algorithms.contains(&a);
        let (ha1, hash): (&str, fn(&str) -> String) = match creds.algorithm.as_str() {
            "MD5" if offered(DigestAlgorithm::Md5) => {
                (account.map_or("", |a| a.ha1_md5.as_str()), md5_hex)
            }
            "SHA-256" if offered(DigestAlgorithm::Sha256) => {
                (account.map_or("", |a| a.ha1_sha256.as_str()), sha256_hex)
            }
            _ => return (Reply::plain(400, "Unsupported Digest Algorithm"), None),
        };
        let ha2 = hash(&format!("REGISTER:{}", creds.uri));
        let expected = match creds.qop.as_deref() {
            Some("auth") => hash(&format!(
                "{ha1}:{}:{}:{}:auth:{ha2}",
                creds.nonce, creds.nc, creds.cnonce
            )),
            Some(_) => return (Reply::plain(400, "Unsupported qop"), None),
            None => hash(&format!("{ha1}:{}:{ha2}", creds.nonce)),
        };
        // An unknown account was hashed like a known one (with an empty HA1)
        // and fails here like a wrong password.
        let Some(account) = account.filter(|_| {
            creds.realm == REALM && !ha1.is_empty() && same(&expected, &creds.response)
        }) else {
            self.source_failures.fail(ip, now);
            self.account_failures.fail(key, now);
            return (Reply::plain(403, "Forbidden"), None);
        };
        // The AoR must be the authenticated member's own (their name or a number).
        let (tenant, member) = (account.tenant, account.member);
        if let Err(reply) = self.spend(&creds, issued, ip, now) {
            return (reply, None);
        }
        let owner = self.accounts.get(&account_key(&aor_user, &aor_host));
        if !owner.is_some_and(|o| o.tenant == tenant && o.member == member) {
            return (Reply::plain(403, "Forbidden: not your address"), None);
        }
        self.apply(msg, tenant, member, source, transport, now)
    }

    /// Spends the nonce count of an accepted response; a replay, or no room
    /// to remember one more nonce, is the answer to give instead.
    fn spend(
        &mut self,
        creds: &Credentials,
        issued: u64,
        ip: IpAddr,
        now: Instant,
    ) -> Result<(), Reply> {
        let count = if creds.qop.is_some() {
            match u64::from_str_radix(&creds.nc, 16) {
                Ok(n) if n > 0 && creds.nc.len() <= 8 => n,
                _ => return Err(Reply::plain(400, "Bad Nonce Count")),
            }
        } else {
            // Without qop a nonce is good once.
            1
        };
        match self.spent.get_mut(&creds.nonce) {
            Some((spent, _)) if *spent >= count => {
                self.source_failures.fail(ip, now);
                return Err(self.challenge(ip, now, true));
            }
            Some((spent, _)) => *spent = count,
            None => {
                if self.spent.len() >= self.config.max_tracked_nonces {
                    self.forget_lapsed_nonces(now);
                }
                if self.spent.len() >= self.config.max_tracked_nonces {
                    return Err(Self::throttled());
                }
                self.spent.insert(creds.nonce.clone(), (count, issued));
            }
        }
        Ok(())
    }

    /// Lapsed nonces are refused as stale anyway: no need to remember them.
    fn forget_lapsed_nonces(&mut self, now: Instant) {
        let age_now = now.saturating_duration_since(self.epoch).as_secs();
        let life = self.config.nonce_lifetime.as_secs();
        self.spent
            .retain(|_, (_, issued)| age_now.saturating_sub(*issued) <= life);
    }

    fn apply(
        &mut self,
        msg: &Parsed<'_>,
        tenant: TenantId,
        member: i64,
        source: SocketAddr,
        transport: Transport,
        now: Instant,
    ) -> (Reply, Option<Registration>) {
        let header_expires = match msg.one("expires").map(|v| v.trim().parse::<u32>()) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return (Reply::plain(400, "Bad Expires"), None),
        };
        let call_id = msg.one("call-id").unwrap_or_default().to_owned();
        let cseq = msg
            .one("cseq")
            .and_then(|c| c.split_ascii_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        let values: Vec<&str> = msg.all("contact").collect();
        let before = self.bindings(tenant, member).len();
        if values.iter().any(|v| v.trim() == "*") {
            // RFC 3261 §10.3 step 6: `*` only alone and with Expires: 0.
            if values.len() != 1 || header_expires != Some(0) {
                return (Reply::plain(400, "Bad Wildcard Contact"), None);
            }
            if let Some(list) = self.bindings.remove(&(tenant, member)) {
                self.total -= list.len();
            }
            return self.answer(tenant, member, before, now);
        }
        let Ok(entries) = contact_entries(&values) else {
            return (Reply::plain(400, "Bad Contact Header"), None);
        };
        if entries.len() > self.config.max_contacts_per_member {
            return (Reply::plain(403, "Too Many Contacts"), None);
        }
        // Check every entry before changing anything (§10.3 step 7 is atomic).
        let mut wanted = Vec::with_capacity(entries.len());
        for e in entries {
            let asked = e
                .expires
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            if asked != 0 && asked < self.config.min_expires {
                let mut reply = Reply::plain(423, "Interval Too Brief");
                reply
                    .headers
                    .push(("Min-Expires", self.config.min_expires.to_string()));
                return (reply, None);
            }
            let existing = self
                .bindings(tenant, member)
                .iter()
                .find(|b| b.contact == e.uri);
            if let Some(b) = existing
                && b.call_id == call_id
                && b.cseq >= cseq
            {
                return (Reply::plain(500, "Out Of Order Request"), None);
            }
            wanted.push((e.uri, asked.min(self.config.max_expires)));
        }
        let new = wanted
            .iter()
            .filter(|(uri, secs)| {
                *secs > 0
                    && !self
                        .bindings(tenant, member)
                        .iter()
                        .any(|b| &b.contact == uri)
            })
            .count();
        if new > 0 && self.total + new > self.config.max_bindings {
            return (
                Reply {
                    code: 503,
                    reason: "Service Unavailable",
                    headers: vec![("Retry-After", "60".into())],
                },
                None,
            );
        }
        let list = self.bindings.entry((tenant, member)).or_default();
        for (uri, secs) in wanted {
            list.retain(|b| b.contact != uri);
            if secs > 0 {
                list.push(Binding {
                    contact: uri,
                    source,
                    transport,
                    expires_at: now + Duration::from_secs(u64::from(secs)),
                    registered_at: now,
                    call_id: call_id.clone(),
                    cseq,
                });
            }
        }
        // The newest devices win: beyond the cap the oldest go.
        list.sort_by_key(|b| b.registered_at);
        let excess = list
            .len()
            .saturating_sub(self.config.max_contacts_per_member);
        list.drain(..excess);
        let after = list.len();
        if after == 0 {
            self.bindings.remove(&(tenant, member));
        }
        // `before` was part of `total`, so this cannot underflow.
        self.total = self.total + after - before;
        self.answer(tenant, member, before, now)
    }

    /// 200 OK listing every current binding with its remaining time.
    fn answer(
        &self,
        tenant: TenantId,
        member: i64,
        before: usize,
        now: Instant,
    ) -> (Reply, Option<Registration>) {
        let list = self.bindings(tenant, member);
        let headers = list
            .iter()
            .map(|b| {
                let left = b.expires_at.saturating_duration_since(now).as_secs();
                ("Contact", format!("<{}>;expires={left}", b.contact))
            })
            .collect();
        let change = (list.len() != before).then_some(Registration {
            tenant,
            member,
            contacts: list.len(),
        });
        (
            Reply {
                code: 200,
                reason: "OK",
                headers,
            },
            change,
        )
    }

    /// Drops bindings whose time has passed; one change per member affected.
    pub fn expire(&mut self, now: Instant) -> Vec<Registration> {
        self.forget_lapsed_nonces(now);
        let mut changes = Vec::new();
        let mut dropped = 0;
        self.bindings.retain(|&(tenant, member), list| {
            let before = list.len();
            list.retain(|b| b.expires_at > now);
            if list.len() != before {
                dropped += before - list.len();
                changes.push(Registration {
                    tenant,
                    member,
                    contacts: list.len(),
                });
            }
            !list.is_empty()
        });
        self.total -= dropped.min(self.total);
        changes
    }

    /// Bindings held in all.
    pub fn binding_count(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
#[path = "registrar_tests.rs"]
mod tests;

#[path = "registrar_gate.rs"]
pub(crate) mod gate;

/// The registrar's accounts and bindings, apart from the agent.
#[derive(Clone)]
pub struct RegistrarHandle(pub(crate) std::sync::Arc<gate::Slot>);

impl RegistrarHandle {
    /// Replaces the digest accounts (all tenants).
    pub fn set_accounts(&self, accounts: Vec<SipAccount>) {
        self.0.set_accounts(accounts);
    }

    /// Where a member's SIP devices are registered now.
    pub fn bindings(&self, tenant: TenantId, member: i64) -> Vec<Binding> {
        self.0.bindings(tenant, member)
    }
}
