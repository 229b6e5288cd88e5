//! The demo tenant: seeded by `serve --demo`, never otherwise. Its passwords are
//! public (README) and exist only when the operator asks for the demo.

use crate::{
    auth::{self, IdentityClaims},
    store::{Store, Tenant},
    tenant_file::{self, TenantFileError},
};

pub const DEMO_TENANT: &str = include_str!("demo.toml");

/// The demo customer the demo page signs in as.
pub const DEMO_CUSTOMER: &str = "cust-1001";

fn demo_password(user: &str) -> Option<String> {
    matches!(user, "alice" | "bob" | "sam" | "ada").then(|| format!("demo-{user}"))
}

/// Creates (or refreshes) the demo tenant.
pub async fn seed(store: &Store) -> Result<(), TenantFileError> {
    let file = tenant_file::parse(DEMO_TENANT)?;
    let applied = tenant_file::apply(store, &file, &demo_password).await?;
    if let Some(tenant) = applied.tenant {
        crate::directory::demo::seed(store, tenant)
            .await
            .map_err(|e| TenantFileError::Invalid(format!("demo directory: {e}")))?;
    }
    Ok(())
}

/// A fresh identity token for the demo customer, as a merchant's server would
/// sign it, valid for a day.
pub fn demo_identity(tenant: &Tenant) -> Result<String, auth::AuthError> {
    auth::sign_identity(
        &IdentityClaims {
            name: Some("Dana Demo".to_owned()),
            email: Some("dana@example.com".to_owned()),
            entitlements: vec!["gold".to_owned()],
            ..IdentityClaims::new(
                &tenant.slug,
                DEMO_CUSTOMER,
                auth::MAX_IDENTITY_LIFETIME_SECS,
            )
        },
        tenant.widget_secret.expose(),
    )
}
