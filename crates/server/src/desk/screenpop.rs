//! What the agent sees before answering: who the visitor is (verified or not),
//! their CRM record, the page they are on, how they got there and their earlier
//! contacts.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    auth,
    ids::{ContactId, TenantId, UserId},
    protocol::{Attributes, PageContext},
    store::{ContextShare, Customer, Link, PreviousContact, StoreError, Tenant},
};

/// The visitor's identity as established at hello. The default is a
/// stranger: unverified, nothing known.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
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
            match auth::verify_identity(token, tenant.widget_secret.expose(), &tenant.slug) {
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
                    metrics::counter!("switchboard_identity_tokens_rejected_total").increment(1);
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

/// What the store knows of a verified visitor: their CRM record, earlier
/// contacts and the agent who served them last. It is read before a contact
/// starts (by the visitor's connection task, or at rebuild), never inside the
/// desk's loop.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    pub customer: Option<Customer>,
    pub previous: Vec<PreviousContact>,
    pub last_agent: Option<UserId>,
}

impl Profile {
    /// The profile of a verified visitor; `None` for anyone else. `except` is
    /// left out of the earlier contacts (the contact being rebuilt).
    pub(crate) async fn load(
        store: &dyn super::storage::DeskReads,
        tenant: TenantId,
        identity: &Identity,
        except: ContactId,
    ) -> Result<Option<Profile>, StoreError> {
        let (Some(sub), true) = (&identity.sub, identity.verified) else {
            return Ok(None);
        };
        Ok(Some(Profile {
            customer: store.customer(tenant, sub).await?,
            previous: store.previous_contacts(tenant, sub, except, 10).await?,
            last_agent: store.last_agent_for(tenant, sub).await?,
        }))
    }
}

/// Builds the screen pop for a new contact.
pub fn build(
    link: &Link,
    contact: ContactId,
    identity: &Identity,
    context: &PageContext,
    profile: Option<&Profile>,
) -> Value {
    let (customer, previous) = profile.map_or((None, &[][..]), |p| {
        (p.customer.as_ref(), p.previous.as_slice())
    });
    json!({
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
    })
}

/// The same screen pop after the visitor moved to another page.
pub fn with_page(mut screenpop: Value, context: &PageContext) -> Value {
    screenpop["page"] =
        json!({"url": context.url, "title": context.title, "referrer": context.referrer});
    screenpop["pages"] = json!(context.pages);
    screenpop["shared"] = json!(context.shared);
    screenpop
}
