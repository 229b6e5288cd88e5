//! What the agent sees before answering: who the visitor is (verified or not),
//! their CRM record, the page they are on, how they got there and their earlier
//! contacts.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    auth,
    ids::ContactId,
    protocol::{Attributes, PageContext},
    store::{ContextShare, Link, Store, StoreError, Tenant},
};

/// The visitor's identity as established at hello.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Identity {
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub entitlements: Vec<String>,
}

/// Longest name/email we keep from a visitor's own claims.
const MAX_ATTRIBUTE: usize = 200;

fn clip(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().chars().take(MAX_ATTRIBUTE).collect::<String>())
        .filter(|s| !s.is_empty())
}

impl Identity {
    /// A valid signed token wins; otherwise the unsigned attributes, marked
    /// unverified. A bad token is not an error to the visitor: they simply are
    /// not verified (the reason is logged at debug, without the token).
    pub fn establish(tenant: &Tenant, token: Option<&str>, attributes: Option<Attributes>) -> Self {
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            match auth::verify_identity(token, tenant.widget_secret.expose()) {
                Ok(claims) => {
                    return Identity {
                        verified: true,
                        sub: Some(claims.sub),
                        name: clip(claims.name),
                        email: clip(claims.email),
                        entitlements: claims.entitlements,
                    };
                }
                Err(e) => {
                    tracing::debug!(tenant = %tenant.slug, error = %e, "identity token rejected");
                }
            }
        }
        let attributes = attributes.unwrap_or_default();
        Identity {
            verified: false,
            sub: None,
            name: clip(attributes.name),
            email: clip(attributes.email),
            entitlements: Vec::new(),
        }
    }
}

/// Keeps the page context within sane bounds before it is stored or shown,
/// and only the cookies and form fields the tenant allowed.
pub fn bounded_context(mut context: PageContext, share: &ContextShare) -> PageContext {
    fn cut(s: &mut String, max: usize) {
        if s.len() > max {
            let end = (0..=max)
                .rev()
                .find(|i| s.is_char_boundary(*i))
                .unwrap_or(0);
            s.truncate(end);
        }
    }
    cut(&mut context.url, 2048);
    cut(&mut context.title, 300);
    cut(&mut context.referrer, 2048);
    cut(&mut context.language, 35);
    cut(&mut context.timezone, 64);
    let keep_from = context.pages.len().saturating_sub(50);
    context.pages.drain(..keep_from);
    for p in &mut context.pages {
        cut(&mut p.url, 2048);
        cut(&mut p.title, 300);
    }
    let keep = |values: &mut BTreeMap<String, String>, allowed: &[String]| {
        values.retain(|name, _| allowed.contains(name));
        for value in values.values_mut() {
            cut(value, ContextShare::MAX_VALUE);
        }
    };
    keep(&mut context.shared.cookies, &share.cookies);
    keep(&mut context.shared.fields, &share.fields);
    context
}

/// Builds the screen pop for a new contact.
pub async fn build(
    store: &Store,
    tenant: &Tenant,
    link: &Link,
    contact: ContactId,
    identity: &Identity,
    context: &PageContext,
) -> Result<Value, StoreError> {
    let (customer, previous) = match (&identity.sub, identity.verified) {
        (Some(sub), true) => (
            store.customer(tenant.id, sub).await?,
            store.previous_contacts(tenant.id, sub, contact, 10).await?,
        ),
        _ => (None, Vec::new()),
    };
    Ok(json!({
        "contact": contact.0,
        "link": link.slug,
        "link_name": link.name,
        "identity": identity,
        "customer": customer,
        "page": {"url": context.url, "title": context.title, "referrer": context.referrer},
        "pages": context.pages,
        "language": context.language,
        "timezone": context.timezone,
        "shared": context.shared,
        "previous": previous,
    }))
}

/// The same screen pop after the visitor moved to another page.
pub fn with_page(mut screenpop: Value, context: &PageContext) -> Value {
    screenpop["page"] =
        json!({"url": context.url, "title": context.title, "referrer": context.referrer});
    screenpop["pages"] = json!(context.pages);
    screenpop["shared"] = json!(context.shared);
    screenpop
}
