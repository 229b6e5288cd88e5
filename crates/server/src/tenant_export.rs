//! `switchboard tenant export`: a tenant's current setup as a tenant file
//! that `tenant apply` accepts, and that applied again changes nothing.
//!
//! Everything the file can say is written except CRM customers (`[[customers]]`:
//! pushed by the merchant's systems through the API, possibly many) and the
//! widget secret unless asked for (absent in a file means "keep it").

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::{
    ids::TenantId,
    phone::TenantPhone,
    routing::{CenterDoc, ClassDoc, MediaRuleDoc},
    store::{ContextShare, Store, StoreError, TenantCalls},
};

/// The file, in the order `demo.toml` uses; empty parts are left out.
#[derive(Serialize)]
struct Export {
    tenant: TenantPart,
    #[serde(skip_serializing_if = "Option::is_none")]
    calls: Option<TenantCalls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ContextShare>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<TenantPhone>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    centers: Vec<CenterDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    classes: Vec<ClassDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media_rules: Vec<MediaRuleDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    queues: Vec<toml::Table>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<toml::Table>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    agents: Vec<toml::Table>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<toml::Table>,
}

#[derive(Serialize)]
struct TenantPart {
    slug: String,
    name: String,
    allowed_origins: Vec<String>,
    wrapup_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    widget_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no tenant {0}")]
    NoTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the setup could not be written as TOML: {0}")]
    Toml(String),
}

/// What to leave out of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Everything, widget secret included (the operator's `tenant export`).
    Include,
    /// No widget secret (a file without it keeps the current one).
    WithoutWidgetSecret,
    /// No widget secret, and webhook secrets and trunk passwords as `***`
    /// (the audit log: a record of what changed, not a copy of the keys).
    Masked,
}

fn table<T: Serialize>(value: &T) -> Result<toml::Table, ExportError> {
    match toml::Value::try_from(value).map_err(|e| ExportError::Toml(e.to_string()))? {
        toml::Value::Table(t) => Ok(t),
        other => Err(ExportError::Toml(format!("expected a table, got {other}"))),
    }
}

/// The tenant `tenant`'s setup as tenant-file TOML.
pub async fn export(
    store: &Store,
    tenant: TenantId,
    secrets: Secrets,
) -> Result<String, ExportError> {
    let t = store
        .tenant(tenant)
        .await?
        .ok_or_else(|| ExportError::NoTenant(tenant.0.to_string()))?;
    let inputs = store.routing_inputs(tenant, None).await?;
    let skill_names: HashMap<i64, String> = inputs
        .skills
        .iter()
        .map(|(name, id)| (id.0, name.clone()))
        .collect();

    let mut queues = Vec::new();
    for q in &inputs.queues {
        let mut entry = toml::Table::new();
        entry.insert("name".into(), q.name.clone().into());
        entry.insert("skill".into(), q.skill.clone().into());
        let mut routing = table(&q.routing)?;
        // Defaults left out keep the file short, as a person writes it.
        if routing
            .get("skills")
            .and_then(toml::Value::as_table)
            .is_some_and(toml::Table::is_empty)
        {
            routing.remove("skills");
        }
        for list in ["centers", "overflow"] {
            if routing
                .get(list)
                .and_then(toml::Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                routing.remove(list);
            }
        }
        entry.extend(routing);
        queues.push(entry);
    }

    let mut links = Vec::new();
    for l in &inputs.links {
        let mut entry = toml::Table::new();
        entry.insert("slug".into(), l.slug.clone().into());
        entry.insert("name".into(), l.name.clone().into());
        entry.insert("queue".into(), l.queue_name.clone().into());
        let calls = table(&l.calls)?;
        for (from, to) in [
            ("media", "calls"),
            ("record", "record_calls"),
            ("route_to", "route_calls_to"),
            ("dial_in", "dial_in"),
            ("callback", "callback"),
        ] {
            if let Some(value) = calls.get(from) {
                entry.insert(to.into(), value.clone());
            }
        }
        links.push(entry);
    }

    let routing_of: HashMap<i64, &crate::routing::AgentRouting> =
        inputs.agents.iter().map(|a| (a.agent.0, a)).collect();
    let mut agents = Vec::new();
    for user in store.users(tenant).await? {
        let mut entry = toml::Table::new();
        entry.insert("name".into(), user.name.clone().into());
        entry.insert("display_name".into(), user.display_name.clone().into());
        entry.insert("role".into(), user.role.as_str().into());
        entry.insert("max_chats".into(), i64::from(user.max_chats).into());
        if let Some(routing) = routing_of.get(&user.id.0) {
            let levels: BTreeMap<String, toml::Value> = routing
                .skills
                .iter()
                .filter_map(|(id, level)| {
                    Some((skill_names.get(&id.0)?.clone(), i64::from(*level).into()))
                })
                .collect();
            if !levels.is_empty() {
                entry.insert(
                    "skills".into(),
                    toml::Value::Table(levels.into_iter().collect()),
                );
            }
            if let Some(center) = &routing.center {
                entry.insert("center".into(), center.clone().into());
            }
            let c = &routing.capacity;
            let media: Vec<toml::Value> = [
                ("chat", c.chat > 0),
                ("voice", c.voice > 0),
                ("video", c.video > 0),
                ("callback", c.callback > 0),
            ]
            .into_iter()
            .filter(|(_, takes)| *takes)
            .map(|(m, _)| m.into())
            .collect();
            if media.len() < 4 {
                entry.insert("media".into(), toml::Value::Array(media));
            }
        }
        agents.push(entry);
    }

    let mut webhooks = Vec::new();
    for hook in store.webhook_endpoints(tenant).await? {
        let mut entry = toml::Table::new();
        entry.insert("url".into(), hook.url.into());
        let secret = if secrets == Secrets::Masked {
            "***"
        } else {
            hook.secret.expose()
        };
        entry.insert("secret".into(), secret.into());
        entry.insert(
            "events".into(),
            toml::Value::Array(hook.events.into_iter().map(Into::into).collect()),
        );
        webhooks.push(entry);
    }

    let mut phone = inputs.phone;
    if secrets == Secrets::Masked {
        for trunk in &mut phone.trunks {
            if trunk.password.is_some() {
                trunk.password = Some(crate::secret::Secret::new("***"));
            }
        }
    }
    let phone = (phone != TenantPhone::default()).then_some(phone);
    let export = Export {
        tenant: TenantPart {
            slug: t.slug,
            name: t.name,
            allowed_origins: t.allowed_origins,
            wrapup_codes: t.wrapup_codes,
            widget_secret: (secrets == Secrets::Include)
                .then(|| t.widget_secret.expose().to_owned()),
        },
        calls: (t.calls != TenantCalls::default()).then_some(t.calls),
        context: (t.share != ContextShare::default()).then_some(t.share),
        phone,
        centers: inputs.routing.centers,
        classes: inputs.routing.classes,
        media_rules: inputs.routing.media_rules,
        queues,
        links,
        agents,
        webhooks,
    };
    toml::to_string(&export).map_err(|e| ExportError::Toml(e.to_string()))
}
