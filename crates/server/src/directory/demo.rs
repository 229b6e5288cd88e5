//! The demo tenant's directory: alice and bob (its agents) and Dana Demo (a
//! customer), with fixed numbers and SIP passwords listed in the README.
//! Demo only: these passwords are public.

use std::time::Duration;

use super::{Directory, DirectoryError, NumberRequest, PermanentNumber};
use crate::ids::TenantId;
use crate::store::Store;

/// (name, display name, staff user, number, SIP password).
pub const DEMO_MEMBERS: [(&str, &str, Option<&str>, &str, &str); 3] = [
    (
        "alice",
        "Alice",
        Some("alice"),
        "2000 0000 0001",
        "demo-sip-alice",
    ),
    ("bob", "Bob", Some("bob"), "2000 0000 0002", "demo-sip-bob"),
    ("dana", "Dana Demo", None, "2000 0000 0003", "demo-sip-dana"),
];

/// Enrols the demo members if they are not there yet, and sets their numbers
/// and passwords again (a restart of the demo gives the same ones).
pub async fn seed(store: &Store, tenant: TenantId) -> Result<(), DirectoryError> {
    let directory = Directory::new(store.clone(), Duration::ZERO);
    for (name, display, staff, number, password) in DEMO_MEMBERS {
        let member = if let Some(m) = store.member_by_name(tenant, name).await? {
            m
        } else {
            let user = match staff {
                Some(staff) => store.user_by_name(tenant, staff).await?.map(|u| u.id),
                None => None,
            };
            directory.enrol(tenant, name, display, user, true).await?;
            directory.member(tenant, name).await?
        };
        let number = PermanentNumber::parse(number)?;
        if !member.numbers.iter().any(|n| n == number.digits()) {
            directory
                .assign(tenant, name, NumberRequest::Vanity(number))
                .await?;
        }
        directory.set_sip_password(tenant, name, password).await?;
    }
    Ok(())
}
