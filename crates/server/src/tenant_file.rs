//! Tenant setup from a TOML file (`switchboard tenant apply FILE`, and the demo
//! seed): links, queues, skills, agents and their skills, allowed widget origins,
//! wrap-up codes and CRM customers. Applying the same file twice changes nothing.
//!
//! Errors name the line and the field, because an operator edits this by hand.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use crate::{
    auth,
    ids::TenantId,
    phone::TenantPhone,
    routing::{
        AgentRouting, CapacityDoc, CenterDoc, ClassDoc, MediaName, MediaRuleDoc, Names,
        OverflowDoc, PolicyName, QueueInput, QueueRouting, StrategyName, TenantRouting,
        WallboardThresholds, build_setup,
    },
    secret::Secret,
    store::{
        CallMedia, CallRoute, CallbackSettings, ContextShare, CustomerInput, LinkCalls, Role,
        Store, StoreError, TenantCalls,
    },
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub tenant: TenantSection,
    #[serde(default)]
    pub queues: Vec<QueueSection>,
    #[serde(default)]
    pub links: Vec<LinkSection>,
    #[serde(default)]
    pub agents: Vec<AgentSection>,
    #[serde(default)]
    pub customers: Vec<CustomerSection>,
    #[serde(default)]
    pub centers: Vec<CenterDoc>,
    #[serde(default)]
    pub classes: Vec<ClassDoc>,
    #[serde(default)]
    pub media_rules: Vec<MediaRuleDoc>,
    /// Tenant-wide call settings; defaults when absent.
    #[serde(default)]
    pub calls: Option<TenantCalls>,
    /// Trunks, numbers, caller ids and push codes; none when absent.
    #[serde(default)]
    pub phone: Option<TenantPhone>,
    /// Cookies and form fields the widget shares; none when absent.
    #[serde(default)]
    pub context: Option<ContextShare>,
    /// Signed webhook endpoints (`crate::webhooks`); none when absent.
    #[serde(default)]
    pub webhooks: Vec<crate::webhooks::EndpointSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub slug: Spanned<String>,
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<Spanned<String>>>,
    pub wrapup_codes: Option<Vec<String>>,
    /// The HS256 secret for visitor identities; generated when the tenant is new
    /// and none is given.
    pub widget_secret: Option<Secret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    pub name: Spanned<String>,
    /// The skill an agent needs for this queue (created if new), at any level.
    pub skill: Spanned<String>,
    /// Further skills with minimum levels (1-10), e.g. `{ french = 5 }`.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub strategy: StrategyName,
    #[serde(default)]
    pub centers: Vec<String>,
    #[serde(default)]
    pub center_policy: PolicyName,
    #[serde(default)]
    pub overflow: Vec<OverflowDoc>,
    pub preferred_agent_wait_secs: Option<u64>,
    pub offer_timeout_secs: Option<u64>,
    pub wrap_up_secs: Option<u64>,
    /// Wallboard alert limits (`[queues.wallboard]`).
    pub wallboard: Option<WallboardThresholds>,
}

impl QueueSection {
    /// The rules stored with the queue. The fields are spelled out here rather
    /// than flattened from `QueueRouting`: serde's `flatten` does not combine
    /// with `deny_unknown_fields` (a typo would pass silently) nor keep the
    /// spans that give errors their line.
    pub fn routing(&self) -> QueueRouting {
        QueueRouting {
            skills: self.skills.clone(),
            priority: self.priority,
            strategy: self.strategy,
            centers: self.centers.clone(),
            center_policy: self.center_policy,
            overflow: self.overflow.clone(),
            preferred_agent_wait_secs: self.preferred_agent_wait_secs,
            offer_timeout_secs: self.offer_timeout_secs,
            wrap_up_secs: self.wrap_up_secs,
            wallboard: self.wallboard.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    pub slug: Spanned<String>,
    pub name: String,
    pub queue: Spanned<String>,
    /// Media the widget offers besides chat: "voice", "video".
    #[serde(default)]
    pub calls: Vec<CallMedia>,
    /// Record this link's calls (the visitor is told before connecting).
    #[serde(default)]
    pub record_calls: bool,
    /// "agents" (default) or "phone": calls go to the queue's centers by
    /// their phone numbers over a trunk.
    #[serde(default)]
    pub route_calls_to: CallRoute,
    /// Offer a reserved number to call from the visitor's own phone.
    #[serde(default)]
    pub dial_in: bool,
    /// How the server dials callbacks (`store::CallbackSettings`).
    #[serde(default)]
    pub callback: CallbackSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    pub name: Spanned<String>,
    pub display_name: Option<String>,
    #[serde(default = "default_role")]
    pub role: Spanned<String>,
    /// Skill names (level 5), or a table of skill name to level 1-10.
    #[serde(default)]
    pub skills: AgentSkills,
    #[serde(default = "default_max_chats")]
    pub max_chats: u32,
    /// The center the agent works in; the tenant's first when absent.
    pub center: Option<Spanned<String>>,
    /// Media the agent takes; all when absent.
    pub media: Option<Vec<MediaName>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AgentSkills {
    // No spans here: an untagged enum buffers its input, which loses them;
    // errors point at the agent instead.
    Names(Vec<String>),
    Levels(BTreeMap<String, u8>),
}

impl Default for AgentSkills {
    fn default() -> Self {
        AgentSkills::Names(Vec::new())
    }
}

/// The level a skill listed without one gets.
const DEFAULT_LEVEL: u8 = 5;

impl AgentSection {
    /// Skill names with levels.
    fn skill_levels(&self) -> Vec<(String, u8)> {
        match &self.skills {
            AgentSkills::Names(names) => names.iter().map(|n| (n.clone(), DEFAULT_LEVEL)).collect(),
            AgentSkills::Levels(levels) => levels.iter().map(|(n, l)| (n.clone(), *l)).collect(),
        }
    }

    fn capacity(&self) -> CapacityDoc {
        let takes = |m: MediaName| self.media.as_ref().is_none_or(|list| list.contains(&m));
        CapacityDoc {
            chat: if takes(MediaName::Chat) {
                self.max_chats
            } else {
                0
            },
            voice: u32::from(takes(MediaName::Voice)),
            video: u32::from(takes(MediaName::Video)),
            callback: u32::from(takes(MediaName::Callback)),
        }
    }
}

fn default_role() -> Spanned<String> {
    Spanned::new(0..0, "agent".to_owned())
}

fn default_max_chats() -> u32 {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSection {
    pub external_id: Spanned<String>,
    #[serde(flatten)]
    pub record: CustomerInput,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantFileError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

/// What applying a file did; passwords are those generated for new users.
#[derive(Debug, Default)]
pub struct Applied {
    pub tenant: Option<TenantId>,
    pub created_tenant: bool,
    pub new_users: Vec<(String, String)>,
    pub links: usize,
    pub queues: usize,
    pub customers: usize,
}

/// "line L, column C: message" for a TOML error, from its byte span.
pub fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => format!("{}: {}", position(text, span.start), err.message().trim()),
        None => err.message().trim().to_owned(),
    }
}

fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, str::len) + 1;
    format!("line {line}, column {column}")
}

/// Names operators type (slugs, skills, user names): short, lowercase-safe.
fn check_name(text: &str, field: &str, value: &Spanned<String>) -> Result<(), TenantFileError> {
    let v = value.get_ref();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(TenantFileError::Invalid(format!(
            "{}: {field} {v:?} must be 1-64 characters of letters, digits, '-', '_' or '.'",
            position(text, value.span().start)
        )))
    }
}

pub fn parse(text: &str) -> Result<TenantFile, TenantFileError> {
    let file: TenantFile = toml::from_str(text)
        .map_err(|e| TenantFileError::Invalid(describe_toml_error(text, &e)))?;
    check_name(text, "tenant.slug", &file.tenant.slug)?;
    for origin in file.tenant.allowed_origins.iter().flatten() {
        let valid = url::Url::parse(origin.get_ref()).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && !origin.get_ref().ends_with('/')
        });
        if !valid {
            return Err(TenantFileError::Invalid(format!(
                "{}: tenant.allowed_origins entry {:?} must look like https://shop.example.com (scheme, host, optional port, nothing else)",
                position(text, origin.span().start),
                origin.get_ref()
            )));
        }
    }
    if let Some(calls) = &file.calls {
        calls.check().map_err(TenantFileError::Invalid)?;
    }
    crate::webhooks::check_endpoints(&file.webhooks).map_err(TenantFileError::Invalid)?;
    if let Some(secret) = &file.tenant.widget_secret
        && secret.expose().len() < auth::MIN_WIDGET_SECRET_BYTES
    {
        return Err(TenantFileError::Invalid(format!(
            "tenant.widget_secret must be at least {} bytes (it is {}): anyone who guesses it can sign a verified identity; leave it out to have one made, or use e.g. `openssl rand -base64 32`",
            auth::MIN_WIDGET_SECRET_BYTES,
            secret.expose().len()
        )));
    }
    for q in &file.queues {
        check_name(text, "queues.name", &q.name)?;
        check_name(text, "queues.skill", &q.skill)?;
    }
    for l in &file.links {
        check_name(text, "links.slug", &l.slug)?;
        if !file
            .queues
            .iter()
            .any(|q| q.name.get_ref() == l.queue.get_ref())
        {
            return Err(TenantFileError::Invalid(format!(
                "{}: links.queue {:?} is not one of the [[queues]] in this file",
                position(text, l.queue.span().start),
                l.queue.get_ref()
            )));
        }
    }
    for a in &file.agents {
        check_name(text, "agents.name", &a.name)?;
        if let Err(e) = a.role.get_ref().parse::<Role>() {
            return Err(TenantFileError::Invalid(format!(
                "{}: agents.role: {e}",
                position(text, a.role.span().start)
            )));
        }
        for (skill, level) in a.skill_levels() {
            let at = || position(text, a.name.span().start);
            check_name(
                text,
                "agents.skills",
                &Spanned::new(a.name.span(), skill.clone()),
            )?;
            if !(1..=10).contains(&level) {
                return Err(TenantFileError::Invalid(format!(
                    "{}: agents.skills of {:?}: level {level} of {skill:?} is outside 1-10",
                    at(),
                    a.name.get_ref()
                )));
            }
        }
        if let Some(center) = &a.center
            && !file.centers.iter().any(|c| &c.name == center.get_ref())
            && !(file.centers.is_empty() && center.get_ref() == crate::routing::DEFAULT_CENTER)
        {
            return Err(TenantFileError::Invalid(format!(
                "{}: agents.center {:?} is not one of the [[centers]] in this file",
                position(text, center.span().start),
                center.get_ref()
            )));
        }
    }
    check_routing(&file)?;
    check_phone(&file)?;
    if let Some(share) = &file.context {
        share.check().map_err(TenantFileError::Invalid)?;
    }
    for c in &file.customers {
        if c.external_id.get_ref().is_empty() || c.external_id.get_ref().len() > 200 {
            return Err(TenantFileError::Invalid(format!(
                "{}: customers.external_id must be 1-200 characters",
                position(text, c.external_id.span().start)
            )));
        }
    }
    Ok(file)
}

impl TenantFile {
    /// The tenant-wide routing rules as stored.
    pub fn routing(&self) -> TenantRouting {
        TenantRouting {
            centers: self.centers.clone(),
            classes: self.classes.clone(),
            media_rules: self.media_rules.clone(),
        }
    }
}

/// Builds the routing core's setup from the file alone, with stand-in ids, so a
/// bad rule is refused before anything is written. Skills are those the file's
/// queues and agents name.
fn check_routing(file: &TenantFile) -> Result<(), TenantFileError> {
    let mut names = Names::default();
    let mut next = 0_i64;
    let mut skill = |names: &mut Names, name: &str| {
        if !names.skills.contains_key(name) {
            next += 1;
            names.skills.insert(name.to_owned(), acd::SkillId(next));
        }
    };
    for q in &file.queues {
        skill(&mut names, q.skill.get_ref());
        if let Some(limits) = &q.wallboard {
            limits.check().map_err(|e| {
                TenantFileError::Invalid(format!("queue {:?} wallboard: {e}", q.name.get_ref()))
            })?;
        }
    }
    for a in &file.agents {
        for (name, _) in a.skill_levels() {
            skill(&mut names, &name);
        }
    }
    let routings: Vec<QueueRouting> = file.queues.iter().map(QueueSection::routing).collect();
    let mut queues = Vec::new();
    for (i, (q, routing)) in file.queues.iter().zip(&routings).enumerate() {
        let id = acd::QueueId(i64::try_from(i).unwrap_or(i64::MAX) + 1);
        names.queues.insert(q.name.get_ref().clone(), id);
        queues.push(QueueInput {
            id,
            name: q.name.get_ref(),
            skill: q.skill.get_ref(),
            routing,
        });
    }
    let agents: Vec<AgentRouting> = file
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| AgentRouting {
            agent: acd::AgentId(i64::try_from(i).unwrap_or(i64::MAX) + 1),
            center: a.center.as_ref().map(|c| c.get_ref().clone()),
            skills: Vec::new(),
            capacity: a.capacity(),
        })
        .collect();
    build_setup(acd::TenantId(1), &file.routing(), &queues, &agents, &names)
        .map(|_| ())
        .map_err(|e| TenantFileError::Invalid(format!("routing: {e}")))
}

/// The telephone settings against each other and the rest of the file:
/// centers' numbers and trunks, links sent to phone centers.
fn check_phone(file: &TenantFile) -> Result<(), TenantFileError> {
    let invalid = |m: String| Err(TenantFileError::Invalid(m));
    let none = TenantPhone::default();
    let phone = file.phone.as_ref().unwrap_or(&none);
    let links: Vec<&str> = file
        .links
        .iter()
        .map(|l| l.slug.get_ref().as_str())
        .collect();
    phone.check(&links).map_err(TenantFileError::Invalid)?;
    for c in &file.centers {
        match (&c.phone, &c.trunk) {
            (None, None) => {}
            (Some(number), Some(trunk)) => {
                if !sip::is_e164(number) {
                    return invalid(format!(
                        "centers {:?}: phone {number:?} must be E.164, like +15125550100",
                        c.name
                    ));
                }
                if phone.trunk(trunk).is_none() {
                    return invalid(format!(
                        "centers {:?}: trunk {trunk:?} is not one of the [[phone.trunks]]",
                        c.name
                    ));
                }
                if !phone.may_dial(number) {
                    return invalid(format!(
                        "centers {:?}: phone {number:?} is not under phone.allowed_destinations",
                        c.name
                    ));
                }
            }
            _ => {
                return invalid(format!("centers {:?}: phone and trunk go together", c.name));
            }
        }
    }
    for l in &file.links {
        if let Err(e) = l.callback.validate() {
            return invalid(format!("links {:?}: {e}", l.slug.get_ref()));
        }
        if l.dial_in && phone.routing_points.is_empty() {
            return invalid(format!(
                "links {:?}: dial_in needs phone.routing_points (numbers to reserve)",
                l.slug.get_ref()
            ));
        }
        if l.route_calls_to != CallRoute::Phone {
            continue;
        }
        if l.calls != [CallMedia::Voice] {
            return invalid(format!(
                "links {:?}: calls routed to phone centers must be calls = [\"voice\"]",
                l.slug.get_ref()
            ));
        }
        let queue = file
            .queues
            .iter()
            .find(|q| q.name.get_ref() == l.queue.get_ref());
        let allowed = queue.map(|q| q.centers.clone()).unwrap_or_default();
        let reachable = file
            .centers
            .iter()
            .any(|c| c.phone.is_some() && (allowed.is_empty() || allowed.contains(&c.name)));
        if !reachable {
            return invalid(format!(
                "links {:?}: route_calls_to = \"phone\" but no center of its queue has a phone",
                l.slug.get_ref()
            ));
        }
        let trunk_numbers = file
            .centers
            .iter()
            .filter(|c| c.phone.is_some() && (allowed.is_empty() || allowed.contains(&c.name)))
            .all(|c| {
                c.trunk
                    .as_ref()
                    .and_then(|t| phone.trunk(t))
                    .is_none_or(|t| t.caller_id.is_some())
            });
        if phone.caller_ids.is_empty() && !trunk_numbers {
            return invalid(format!(
                "links {:?}: calls to phone centers need phone.caller_ids (one per live call) \
                 or a caller_id on every trunk they use",
                l.slug.get_ref()
            ));
        }
    }
    Ok(())
}

/// Applies a parsed file. `passwords` gives known passwords for new users (the
/// demo seed); other new users get a generated one, returned in `Applied`.
pub async fn apply(
    store: &Store,
    file: &TenantFile,
    passwords: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Applied, TenantFileError> {
    let mut applied = Applied::default();
    let slug = file.tenant.slug.get_ref();
    // Before anything is written: a trunk on another tenant's address must
    // be told apart from theirs by called number.
    if let Some(phone) = &file.phone {
        for (other, theirs) in store.other_tenants_phone(slug).await? {
            phone
                .check_shared_addresses(&other, &theirs)
                .map_err(TenantFileError::Invalid)?;
        }
    }
    let tenant = if let Some(t) = store.tenant_by_slug(slug).await? {
        t
    } else {
        let secret = file
            .tenant
            .widget_secret
            .clone()
            .unwrap_or_else(|| Secret::new(auth::random_token()));
        applied.created_tenant = true;
        store
            .create_tenant(slug, file.tenant.name.as_deref().unwrap_or(slug), &secret)
            .await?
    };
    applied.tenant = Some(tenant.id);
    let origins: Option<Vec<String>> = file
        .tenant
        .allowed_origins
        .as_ref()
        .map(|o| o.iter().map(|s| s.get_ref().clone()).collect());
    store
        .update_tenant_settings(
            tenant.id,
            file.tenant.name.as_deref(),
            origins.as_deref(),
            file.tenant.wrapup_codes.as_deref(),
            file.tenant.widget_secret.as_ref(),
        )
        .await?;

    store.set_tenant_routing(tenant.id, &file.routing()).await?;
    store
        .set_tenant_calls(tenant.id, &file.calls.clone().unwrap_or_default())
        .await?;
    store
        .set_tenant_phone(tenant.id, &file.phone.clone().unwrap_or_default())
        .await?;
    store
        .set_tenant_share(tenant.id, &file.context.clone().unwrap_or_default())
        .await?;
    crate::webhooks::apply_endpoints(store, tenant.id, &file.webhooks).await?;
    let mut queues = HashMap::new();
    for q in &file.queues {
        let skill = store.ensure_skill(tenant.id, q.skill.get_ref()).await?;
        let id = store
            .upsert_queue(tenant.id, q.name.get_ref(), skill, &q.routing())
            .await?;
        queues.insert(q.name.get_ref().as_str(), id);
        applied.queues += 1;
    }
    for l in &file.links {
        // parse() checked every link names a queue of this file.
        let Some(queue) = queues.get(l.queue.get_ref().as_str()) else {
            continue;
        };
        let link = store
            .upsert_link(tenant.id, l.slug.get_ref(), &l.name, *queue)
            .await?;
        let calls = LinkCalls {
            media: l.calls.clone(),
            record: l.record_calls,
            route_to: l.route_calls_to,
            dial_in: l.dial_in,
            callback: l.callback,
        };
        store.set_link_calls(tenant.id, link, &calls).await?;
        applied.links += 1;
    }
    for a in &file.agents {
        let name = a.name.get_ref();
        // parse() above validated the role.
        let role: Role = a.role.get_ref().parse().unwrap_or(Role::Agent);
        let display = a.display_name.clone().unwrap_or_else(|| name.clone());
        let user = if let Some(u) = store.user_by_name(tenant.id, name).await? {
            store
                .update_user_profile(tenant.id, u.id, &display, role, a.max_chats)
                .await?;
            u.id
        } else {
            let (password, generated) = match passwords(name) {
                Some(p) => (p, false),
                None => (auth::random_password(), true),
            };
            let hash = hash_blocking(password.clone()).await?;
            let id = store
                .create_user(tenant.id, name, &display, role, &hash)
                .await?;
            store
                .update_user_profile(tenant.id, id, &display, role, a.max_chats)
                .await?;
            if generated {
                applied.new_users.push((name.clone(), password));
            }
            id
        };
        let mut skills = Vec::new();
        for (name, level) in a.skill_levels() {
            skills.push((store.ensure_skill(tenant.id, &name).await?, level));
        }
        store.set_user_skills(tenant.id, user, &skills).await?;
        store
            .set_user_routing(
                tenant.id,
                user,
                a.center.as_ref().map(|c| c.get_ref().as_str()),
                &a.capacity(),
            )
            .await?;
    }
    for c in &file.customers {
        store
            .upsert_customer(tenant.id, c.external_id.get_ref(), &c.record)
            .await?;
        applied.customers += 1;
    }
    Ok(applied)
}

/// Argon2 off the async threads.
pub async fn hash_blocking(password: String) -> Result<String, auth::AuthError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| auth::AuthError::Hash(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_field_reports_line() {
        let e = err("[tenant]\nslug = \"a\"\n\n[[links]]\nslug = \"s\"\nnmae = \"x\"\n");
        assert!(e.contains("line 6"), "{e}");
        assert!(e.contains("nmae"), "{e}");
    }

    #[test]
    fn a_short_or_empty_widget_secret_is_refused() {
        for secret in ["", "hunter2", &"x".repeat(31)] {
            let e = err(&format!(
                "[tenant]\nslug = \"a\"\nwidget_secret = \"{secret}\"\n"
            ));
            assert!(e.contains("at least 32 bytes"), "{e}");
            assert!(e.contains(&format!("(it is {})", secret.len())), "{e}");
        }
        assert!(
            parse(&format!(
                "[tenant]\nslug = \"a\"\nwidget_secret = \"{}\"\n",
                "x".repeat(32)
            ))
            .is_ok()
        );
    }

    #[test]
    fn link_to_missing_queue_reports_line_and_field() {
        let e = err(
            "[tenant]\nslug = \"a\"\n[[links]]\nslug = \"s\"\nname = \"S\"\nqueue = \"nope\"\n",
        );
        assert!(e.contains("line 6") && e.contains("links.queue"), "{e}");
    }

    #[test]
    fn bad_role_and_bad_origin_are_named() {
        let e = err("[tenant]\nslug = \"a\"\n[[agents]]\nname = \"x\"\nrole = \"boss\"\n");
        assert!(e.contains("line 5") && e.contains("agents.role"), "{e}");
        let e = err("[tenant]\nslug = \"a\"\nallowed_origins = [\"https://x.example/path\"]\n");
        assert!(e.contains("line 3") && e.contains("allowed_origins"), "{e}");
    }

    #[test]
    fn bad_slug_is_refused() {
        let e = err("[tenant]\nslug = \"a b\"\n");
        assert!(e.contains("tenant.slug"), "{e}");
    }

    #[test]
    fn shared_names_are_checked() {
        let e = err("[tenant]\nslug = \"a\"\n[context]\ncookies = [\"a b\"]\n");
        assert!(
            e.contains("context.cookies") && e.contains("\"a b\""),
            "{e}"
        );
        let e = err("[tenant]\nslug = \"a\"\n[context]\nfields = [\"x\", \"x\"]\n");
        assert!(e.contains("listed twice"), "{e}");
        let e = err("[tenant]\nslug = \"a\"\n[context]\nlocalStorage = [\"x\"]\n");
        assert!(e.contains("localStorage"), "{e}");
        let ok = parse("[tenant]\nslug = \"a\"\n[context]\nfields = [\"order[id]\"]\n").unwrap();
        assert_eq!(ok.context.unwrap().fields, ["order[id]"]);
    }

    #[test]
    fn demo_file_parses() {
        parse(crate::demo::DEMO_TENANT).unwrap();
    }
}
