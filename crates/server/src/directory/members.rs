//! Enrolling members, giving out and taking back numbers, SIP passwords.

use std::time::Duration;

use crate::ids::{TenantId, UserId};
use crate::store::{Claim, Member, MemberId, Store, StoreError};

use super::number::{NumberFormatError, PermanentNumber};

/// How long a released number rests before anyone may get it again, unless
/// configured otherwise (`--quarantine-days`).
pub const DEFAULT_QUARANTINE: Duration = Duration::from_hours(90 * 24);

/// Numbers a member may hold at once.
pub const MAX_NUMBERS_PER_MEMBER: usize = 8;
/// Random draws before giving up (each is free with odds near 1 unless the
/// space is almost full, which 8 * 10^11 numbers make unlikely).
const DRAWS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Format(#[from] NumberFormatError),
    #[error("number {0} is not available")]
    Unavailable(PermanentNumber),
    #[error("no free number found; try again")]
    Exhausted,
    #[error("no member {0:?} in this tenant")]
    NoMember(String),
    #[error("this tenant holds no number {0}")]
    NoNumber(PermanentNumber),
    #[error("a member holds at most {MAX_NUMBERS_PER_MEMBER} numbers")]
    TooManyNumbers,
    #[error(
        "a member name is 1-64 letters, digits, '.', '-' or '_', starting with a letter, and not all digits"
    )]
    BadName,
    #[error("a SIP password has at least 8 characters")]
    WeakPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What number a member asks for.
#[derive(Debug, Clone)]
pub enum NumberRequest {
    /// The next free one (drawn at random).
    Any,
    /// This one, if it is free (002, Fig. 13).
    Vanity(PermanentNumber),
}

/// The directory's rules over the store.
#[derive(Clone)]
pub struct Directory {
    store: Store,
    /// How long a released number rests before anyone may get it again.
    quarantine: Duration,
}

/// A name is a SIP user part and a sign-in name: no spaces or '@', and
/// never twelve digits (that would read as a number).
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl Directory {
    pub fn new(store: Store, quarantine: Duration) -> Self {
        Directory { store, quarantine }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Enrols a member (a staff user when `user` is set, else a customer).
    pub async fn enrol(
        &self,
        tenant: TenantId,
        name: &str,
        display_name: &str,
        user: Option<UserId>,
        listed: bool,
    ) -> Result<MemberId, DirectoryError> {
        if !valid_name(name) {
            return Err(DirectoryError::BadName);
        }
        Ok(self
            .store
            .create_member(tenant, name, display_name.trim(), user, listed)
            .await?)
    }

    pub async fn member(&self, tenant: TenantId, name: &str) -> Result<Member, DirectoryError> {
        self.store
            .member_by_name(tenant, name)
            .await?
            .ok_or_else(|| DirectoryError::NoMember(name.to_owned()))
    }

    /// Gives the member a number: drawn at random, or the vanity number asked
    /// for when it is free and not in quarantine.
    pub async fn assign(
        &self,
        tenant: TenantId,
        member_name: &str,
        request: NumberRequest,
    ) -> Result<PermanentNumber, DirectoryError> {
        let member = self.member(tenant, member_name).await?;
        if member.numbers.len() >= MAX_NUMBERS_PER_MEMBER {
            return Err(DirectoryError::TooManyNumbers);
        }
        let quarantine = i64::try_from(self.quarantine.as_millis()).unwrap_or(i64::MAX);
        match request {
            NumberRequest::Vanity(number) => {
                match self
                    .store
                    .claim_number(tenant, member.id, number.digits(), true, quarantine)
                    .await?
                {
                    Claim::Claimed => Ok(number),
                    Claim::Unavailable => Err(DirectoryError::Unavailable(number)),
                }
            }
            NumberRequest::Any => {
                for _ in 0..DRAWS {
                    let number = PermanentNumber::random(&mut rand::rng());
                    let claim = self
                        .store
                        .claim_number(tenant, member.id, number.digits(), false, quarantine)
                        .await?;
                    if claim == Claim::Claimed {
                        return Ok(number);
                    }
                }
                Err(DirectoryError::Exhausted)
            }
        }
    }

    /// Takes a number back; it rests in quarantine.
    pub async fn release(
        &self,
        tenant: TenantId,
        number: &PermanentNumber,
    ) -> Result<(), DirectoryError> {
        if self.store.release_number(tenant, number.digits()).await? {
            Ok(())
        } else {
            Err(DirectoryError::NoNumber(number.clone()))
        }
    }

    /// Moves a number to another member of the tenant (an admin's act).
    pub async fn move_number(
        &self,
        tenant: TenantId,
        number: &PermanentNumber,
        to_member: &str,
    ) -> Result<(), DirectoryError> {
        let to = self.member(tenant, to_member).await?;
        if to.numbers.len() >= MAX_NUMBERS_PER_MEMBER {
            return Err(DirectoryError::TooManyNumbers);
        }
        if self
            .store
            .move_number(tenant, number.digits(), to.id)
            .await?
        {
            Ok(())
        } else {
            Err(DirectoryError::NoNumber(number.clone()))
        }
    }

    /// Sets the member's SIP password: stores HA1 for their name and each
    /// number they hold now (see `sip::registrar` on why HA1 and not the
    /// password). A number given later signs in once the password is set again.
    pub async fn set_sip_password(
        &self,
        tenant: TenantId,
        member_name: &str,
        password: &str,
    ) -> Result<(), DirectoryError> {
        if password.chars().count() < 8 {
            return Err(DirectoryError::WeakPassword);
        }
        let member = self.member(tenant, member_name).await?;
        let secrets: Vec<(String, String, String)> = std::iter::once(member.name.clone())
            .chain(member.numbers.iter().cloned())
            .map(|user| {
                let md5 = sip::registrar::ha1_md5(&user, password);
                let sha256 = sip::registrar::ha1_sha256(&user, password);
                (user, md5, sha256)
            })
            .collect();
        self.store
            .set_sip_credentials(tenant, member.id, &secrets)
            .await?;
        Ok(())
    }

    /// Every tenant's SIP accounts, for the registrar.
    pub async fn sip_accounts(&self) -> Result<Vec<sip::registrar::SipAccount>, DirectoryError> {
        Ok(self
            .store
            .all_sip_credentials()
            .await?
            .into_iter()
            .map(|c| sip::registrar::SipAccount {
                tenant: c.tenant.into(),
                domain: c.tenant_slug,
                member: c.member.0,
                username: c.username,
                ha1_md5: c.ha1_md5,
                ha1_sha256: c.ha1_sha256,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn member_names() {
        for ok in ["alice", "a", "dana.demo", "bob_2", "x-y"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "2alice",
            "234512345678",
            "al ice",
            "al@ice",
            "ü",
            &"a".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
