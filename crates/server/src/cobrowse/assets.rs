//! `GET /cobrowse/asset?session=S&url=U` (agent listener): stylesheets and
//! fonts of a shared page that the agent's browser cannot load itself (a font
//! whose CORS names only the merchant's site, a stylesheet the mirror's origin
//! may not read), fetched by the server and served from the console's origin
//! (docs/cobrowse.md, "Assets the view cannot load").
//!
//! Only for a staff member who sees that session (its agent, or a supervisor
//! of its tenant), only from the tenant's allowed origins, never from
//! loopback, private or link-local addresses (the webhooks' address guard,
//! checked on every address a name resolves to; `[webhooks]
//! allow_private_addresses` lifts it, as for deliveries), only `text/css` and
//! fonts, at most [`MAX_ASSET`] bytes within [`FETCH_TIMEOUT`], no redirects,
//! no cookies. Answers are cached for [`CACHE_TTL`], [`CACHE_BYTES`] in all.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;

use super::Hub;
use crate::{
    http::{error::ApiError, staff::session_user, state::AppState},
    store::Role,
    webhooks::address::{GuardedResolver, check_literal},
};

/// Largest stylesheet or font served.
pub const MAX_ASSET: usize = 2 * 1024 * 1024;
/// Longest a fetch may take, connect to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched asset is served again without asking.
pub const CACHE_TTL: Duration = Duration::from_mins(10);
/// Bytes the cache holds in all; past it the oldest go.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct Cached {
    body: Bytes,
    content_type: HeaderValue,
    at: Instant,
}

/// The fetcher and its cache; one per hub.
pub struct Assets {
    /// None when the TLS backend could not start: every fetch fails.
    client: Option<reqwest::Client>,
    allow_private: bool,
    cache: Mutex<HashMap<String, Cached>>,
}

/// Why an asset was not served (said to the agent's browser, never logged
/// with its URL).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    #[error("only http(s) URLs of the tenant's allowed origins are fetched")]
    NotAllowed,
    #[error("private, loopback and internal addresses are not fetched")]
    Private,
    #[error("only stylesheets and fonts are fetched")]
    WrongType,
    #[error("the asset is larger than {MAX_ASSET} bytes")]
    TooLarge,
    #[error("the site did not answer with the asset")]
    Failed,
}

impl Assets {
    pub fn new(allow_private: bool) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::shared(allow_private))
            // A redirect could lead anywhere, past the origin and address checks.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent("Switchboard-Cobrowse/1")
            .build()
            .inspect_err(|e| tracing::warn!(error = %e, "co-browse asset fetcher not started"))
            .ok();
        Self {
            client,
            allow_private,
            cache: Mutex::default(),
        }
    }

    fn cached(&self, url: &str) -> Option<Cached> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(url)
            .filter(|c| c.at.elapsed() < CACHE_TTL)
            .cloned()
    }

    fn keep(&self, url: String, asset: Cached) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|_, c| c.at.elapsed() < CACHE_TTL);
        let mut total: usize = cache.values().map(|c| c.body.len()).sum();
        while total + asset.body.len() > CACHE_BYTES {
            let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            total -= cache.remove(&oldest).map_or(0, |c| c.body.len());
        }
        cache.insert(url, asset);
    }

    /// Fetches `url` (already checked against the tenant's origins).
    async fn fetch(&self, url: &url::Url) -> Result<Cached, AssetError> {
        if let Some(hit) = self.cached(url.as_str()) {
            return Ok(hit);
        }
        let host = url.host().ok_or(AssetError::NotAllowed)?;
        check_literal(&host, self.allow_private).map_err(|_| AssetError::Private)?;
        let client = self.client.as_ref().ok_or(AssetError::Failed)?;
        let mut response = client.get(url.clone()).send().await.map_err(|e| {
            if e.is_connect() && !self.allow_private {
                // The guard refuses by failing the name's resolution.
                AssetError::Private
            } else {
                AssetError::Failed
            }
        })?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(AssetError::Failed);
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let is_font = content_type.starts_with("font/")
            || content_type.starts_with("application/font-")
            || content_type.starts_with("application/x-font-")
            || content_type == "application/vnd.ms-fontobject";
        if content_type != "text/css" && !is_font {
            return Err(AssetError::WrongType);
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ASSET as u64)
        {
            return Err(AssetError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| AssetError::Failed)? {
            if body.len() + chunk.len() > MAX_ASSET {
                return Err(AssetError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let asset = Cached {
            body: Bytes::from(body),
            content_type: HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("text/css")),
            at: Instant::now(),
        };
        self.keep(url.to_string(), asset.clone());
        metrics::counter!("switchboard_cobrowse_assets_fetched_total").increment(1);
        Ok(asset)
    }
}

/// Whether `url` is http(s) on one of `origins` (`scheme://host[:port]`).
pub fn allowed(url: &url::Url, origins: &[String]) -> bool {
    matches!(url.scheme(), "http" | "https")
        && origins
            .iter()
            .any(|o| o.trim_end_matches('/') == url.origin().ascii_serialization())
}

/// Pictures a stylesheet names: made absolute and left to load straight from
/// their site (the view may load images from anywhere; the route serves only
/// stylesheets and fonts).
const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp",
];

/// Rewrites a fetched stylesheet's references so they load in the view:
/// every `url(...)` and `@import "..."` is made absolute, and those of
/// `origins` that are not pictures (imported stylesheets, fonts) point back at
/// this route; `data:` URLs and fragments stay as they are.
pub fn rewrite_css(css: &str, base: &url::Url, session: &str, origins: &[String]) -> String {
    let target = |raw: &str| -> Option<String> {
        let raw = raw.trim().trim_matches(|c| c == '"' || c == '\'');
        if raw.starts_with("data:") || raw.starts_with('#') {
            return None;
        }
        let abs = base.join(raw).ok()?;
        let picture = abs
            .path()
            .rsplit_once('.')
            .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
        Some(if !picture && allowed(&abs, origins) {
            asset_path(session, abs.as_str())
        } else {
            abs.to_string()
        })
    };
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    loop {
        let next_url = rest.find("url(");
        let next_import = find_import_string(rest);
        match (next_url, next_import) {
            (Some(at), import) if import.is_none_or(|(i, _, _)| at < i) => {
                let (head, tail) = rest.split_at(at + 4);
                out.push_str(head);
                let Some(end) = tail.find(')') else {
                    rest = tail;
                    break;
                };
                match target(&tail[..end]) {
                    Some(t) => {
                        out.push('"');
                        out.push_str(&t);
                        out.push('"');
                    }
                    None => out.push_str(&tail[..end]),
                }
                rest = &tail[end..];
            }
            (_, Some((_, open, close))) => {
                // `@import "a.css"` becomes `@import url("...")`.
                out.push_str(&rest[..open]);
                match target(&rest[open..close]) {
                    Some(t) => {
                        out.push_str("url(\"");
                        out.push_str(&t);
                        out.push_str("\")");
                    }
                    None => out.push_str(&rest[open..close]),
                }
                rest = &rest[close..];
            }
            _ => break,
        }
    }
    out.push_str(rest);
    out
}

/// The first `@import` naming a quoted string (not `url(...)`, which the
/// `url(` pass takes): (where `@import` starts, the string's start and end,
/// quotes included).
fn find_import_string(css: &str) -> Option<(usize, usize, usize)> {
    let mut from = 0;
    while let Some(found) = css[from..].find("@import") {
        let at = from + found;
        let after = at + "@import".len();
        let spaces = css[after..].len() - css[after..].trim_start().len();
        let open = after + spaces;
        if let Some(quote @ ('"' | '\'')) = css[open..].chars().next()
            && let Some(len) = css[open + 1..].find(quote)
        {
            return Some((at, open, open + 1 + len + 1));
        }
        from = after;
    }
    None
}

/// The path of an asset of `session` through this route.
pub fn asset_path(session: &str, url: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("session", session)
        .append_pair("url", url)
        .finish();
    format!("/cobrowse/asset?{query}")
}

#[derive(Deserialize)]
pub struct AssetQuery {
    #[serde(default)]
    session: String,
    #[serde(default)]
    url: String,
}

/// `GET /cobrowse/asset?session=S&url=U`: a stylesheet or font of a shared
/// page, for its agent's (or a supervisor's) view.
pub async fn asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AssetQuery>,
) -> Response {
    let user = match session_user(&state, &headers).await {
        Ok(Some((session, _))) => session.user,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    let hub: &Hub = &state.cobrowse;
    let page_origin = (q.session.len() <= 64)
        .then(|| {
            hub.page_origin(
                user.tenant,
                user.id,
                user.role >= Role::Supervisor,
                &q.session,
            )
        })
        .flatten();
    let Some(page_origin) = page_origin else {
        return ApiError::not_found().into_response();
    };
    if !hub.asset_budget(user.tenant, user.id) {
        return ApiError::too_many().into_response();
    }
    let mut origins = match state.store.tenant(user.tenant).await {
        Ok(Some(t)) => t.allowed_origins,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The shared page's own origin passed the tenant's origin check when it
    // connected (its own listener's pages do without being listed).
    origins.push(page_origin);
    let refused = |e: AssetError| (StatusCode::FORBIDDEN, e.to_string()).into_response();
    let Ok(url) = url::Url::parse(&q.url) else {
        return refused(AssetError::NotAllowed);
    };
    if q.url.len() > super::frames::MAX_URL || !allowed(&url, &origins) {
        return refused(AssetError::NotAllowed);
    }
    let asset = match hub.assets.fetch(&url).await {
        Ok(a) => a,
        Err(e @ AssetError::Failed) => {
            return (StatusCode::BAD_GATEWAY, e.to_string()).into_response();
        }
        Err(e) => return refused(e),
    };
    let body = if asset.content_type == "text/css" {
        Bytes::from(rewrite_css(
            &String::from_utf8_lossy(&asset.body),
            &url,
            &q.session,
            &origins,
        ))
    } else {
        asset.body
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, asset.content_type);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=600"),
    );
    response
}

impl Hub {
    /// The shared page's origin, if this staff member sees session `id`:
    /// its agent, or a supervisor of its tenant, while it is shared.
    pub(super) fn page_origin(
        &self,
        tenant: crate::ids::TenantId,
        user: crate::ids::UserId,
        supervisor: bool,
        id: &str,
    ) -> Option<String> {
        self.lock()
            .by_id
            .get(id)
            .filter(|s| {
                s.tenant == tenant
                    && s.sharing
                    && (supervisor || s.agent.as_ref().is_some_and(|a| a.user == user))
            })
            .map(|s| s.origin.clone())
    }

    /// Asset fetches per staff member: a page's stylesheets and fonts, not a
    /// crawler.
    pub(super) fn asset_budget(
        &self,
        tenant: crate::ids::TenantId,
        user: crate::ids::UserId,
    ) -> bool {
        self.asset_fetches
            .check(&format!("{}:{}", tenant.0, user.0), Instant::now())
    }
}

/// A shared handle for the hub.
pub(super) fn shared(allow_private: bool) -> Arc<Assets> {
    Arc::new(Assets::new(allow_private))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tenants_origins_over_http_are_allowed() {
        let origins = vec![
            "https://shop.example".to_owned(),
            "http://localhost:8080/".to_owned(),
        ];
        for ok in [
            "https://shop.example/a.css",
            "http://localhost:8080/f.woff2",
        ] {
            assert!(allowed(&url::Url::parse(ok).unwrap(), &origins), "{ok}");
        }
        for bad in [
            "https://cdn.example/a.css",
            "http://shop.example/a.css",
            "https://shop.example:444/a.css",
            "ftp://shop.example/a.css",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(&url::Url::parse(bad).unwrap(), &origins), "{bad}");
        }
    }

    #[test]
    fn a_stylesheets_urls_come_back_through_the_route() {
        let base = url::Url::parse("https://shop.example/css/site.css").unwrap();
        let origins = [
            "https://shop.example".to_owned(),
            "https://cdn.shop.example".to_owned(),
        ];
        let css = "@import 'print.css' print;@import url(https://cdn.shop.example/c.css);\
            @import \"https://elsewhere.example/x.css\";\
            @font-face{src:url(../f/a.woff2) format('woff2')}\
            b{background:url( 'data:image/png;base64,xx' )}i{background:url(\"/i.png\")}";
        let out = rewrite_css(css, &base, "s1", &origins);
        let through = |u: &str| asset_path("s1", u);
        for expected in [
            format!(
                "@import url(\"{}\") print;",
                through("https://shop.example/css/print.css")
            ),
            format!(
                "@import url(\"{}\");",
                through("https://cdn.shop.example/c.css")
            ),
            // Not an allowed origin: absolute, straight from its site.
            "@import url(\"https://elsewhere.example/x.css\");".to_owned(),
            format!("url(\"{}\")", through("https://shop.example/f/a.woff2")),
            "url( 'data:image/png;base64,xx' )".to_owned(),
            // A picture loads straight from its site.
            "url(\"https://shop.example/i.png\")".to_owned(),
        ] {
            assert!(out.contains(&expected), "{expected} not in {out}");
        }
    }
}
