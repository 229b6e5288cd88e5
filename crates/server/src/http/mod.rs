//! The HTTP edge: two listeners split by a security boundary.
//!
//! * **Public** (`public_router`): only what a visitor needs: the widget, the
//!   visitor WebSocket and, with `--demo`, the demo merchant pages.
//! * **Agent** (`agent_router`): consoles, supervisor and admin pages, the REST
//!   API under `/api/v1`, `/metrics`.
//!
//! Each listener has its own router, so a staff route cannot leak onto the
//! public side by a routing mistake; a test walks every staff route on the
//! public listener and expects 404.

mod admin;
mod admin_config;
mod admin_webhooks;
pub mod assets;
mod callback_page;
mod callbacks;
mod calls;
mod crm;
pub mod error;
pub mod limit;
pub mod openapi;
mod phone;
mod public;
mod records;
mod reports;
pub mod serve;
pub mod staff;
pub mod state;
mod supervise;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    routing::{get, post},
};
use tower_http::set_header::SetResponseHeaderLayer;

/// Request bodies above this are refused before they are read.
const MAX_BODY: usize = 64 * 1024;

/// What staff pages and the widget's own call window may load: only their
/// own files, nothing inline (so an injected `<script>` or `onclick` does not
/// run), recordings and calls' media as blobs, and they may not be framed.
const OWN_PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn common_layers(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/healthz", get(healthz))
        .layer(axum::middleware::from_fn(assets::negotiate))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// The headers of a page of ours that nobody else should frame or script.
fn own_page_layers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(OWN_PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(
                "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()",
            ),
        ))
}

/// The customer-facing listener.
pub fn public_router(state: AppState) -> Router {
    // The widget's own files (its call window among them) are ours alone;
    // the loader is a script merchants' pages include, so it gets none.
    let widget = own_page_layers(Router::new().route("/widget/{*path}", get(public::widget_asset)));
    let router = Router::new()
        .route("/widget.js", get(public::widget_loader))
        .merge(widget)
        .route("/ws/visitor", get(crate::ws::visitor::upgrade))
        .merge(own_page_layers(
            Router::new()
                .route("/callback/{token}", get(callback_page::show))
                .route(
                    "/callback/{token}/reschedule",
                    post(callback_page::reschedule),
                )
                .route("/callback/{token}/cancel", post(callback_page::cancel)),
        ))
        .route("/ws/cobrowse", get(crate::cobrowse::visitor_upgrade));
    let router = if state.demo {
        router
            .route("/demo", get(public::demo_redirect))
            .route("/demo/", get(public::demo_index))
            .route("/demo/{*path}", get(public::demo_asset))
    } else {
        router
    };
    common_layers(router).with_state(state)
}

/// The staff-facing listener.
pub fn agent_router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login-hint", get(staff::login_hint))
        .route("/login", post(staff::login))
        .route("/logout", post(staff::logout))
        .route("/me", get(staff::me))
        .route("/directory", get(crate::directory::http::list))
        .route("/directory/events", get(crate::directory::http::events))
        .route(
            "/directory/heartbeat",
            post(crate::directory::http::heartbeat),
        )
        .route(
            "/directory/calls",
            post(crate::directory::calls_http::place),
        )
        .route(
            "/directory/calls/{id}/accept",
            post(crate::directory::calls_http::accept),
        )
        .route(
            "/directory/calls/{id}/decline",
            post(crate::directory::calls_http::decline),
        )
        .route(
            "/directory/calls/{id}/hangup",
            post(crate::directory::calls_http::hangup),
        )
        .route(
            "/directory/settings",
            get(crate::directory::calls_http::settings)
                .put(crate::directory::calls_http::set_settings),
        )
        .route("/mailbox", get(crate::directory::calls_http::messages))
        .route(
            "/mailbox/{id}",
            axum::routing::delete(crate::directory::calls_http::delete_message),
        )
        .route(
            "/mailbox/{id}/{part}",
            get(crate::directory::calls_http::message_file),
        )
        .route(
            "/members",
            get(crate::directory::http::admin_list).post(crate::directory::http::admin_create),
        )
        .route(
            "/numbers/{number}/move",
            post(crate::directory::http::admin_move),
        )
        .route("/openapi.json", get(openapi::document))
        .route("/contacts", get(records::list))
        .route("/contacts.csv", get(records::csv))
        .route("/contacts/{id}", get(records::one))
        .route("/contacts/{id}/events", get(admin::contact_events))
        .route("/contacts/{id}/recordings/{party}", get(calls::recording))
        .route("/callbacks", get(callbacks::list))
        .route("/callbacks/{id}/cancel", post(callbacks::cancel))
        .route("/callbacks/{id}/reschedule", post(callbacks::reschedule))
        .route("/callbacks/{id}/take", post(callbacks::take))
        .route("/calls/lookup", get(phone::lookup))
        .route("/calls/{id}/listen", post(calls::listen))
        .route(
            "/calls/{id}/listen/{leg}",
            axum::routing::delete(calls::stop_listening),
        )
        .route("/customers", get(crm::customers))
        .route(
            "/customers/{external_id}",
            get(crm::customer)
                .put(crm::put_customer)
                .delete(crm::delete_customer),
        )
        .route(
            "/customers/{external_id}/entitlements/{name}",
            axum::routing::put(crm::put_entitlement).delete(crm::delete_entitlement),
        )
        .route(
            "/customers/{external_id}/tickets/{reference}",
            axum::routing::put(crm::put_ticket).delete(crm::delete_ticket),
        )
        .route("/links", get(admin::links))
        .route("/reports/intervals", get(reports::intervals))
        .route("/reports/intervals.csv", get(reports::intervals_csv))
        .route("/live", get(admin::live))
        .route("/agents/{name}/state", post(supervise::set_agent_state))
        .route("/contacts/{id}/move", post(supervise::move_contact))
        .route("/live/events", get(admin::live_events))
        .route(
            "/api-keys",
            get(admin::api_keys).post(admin::create_api_key),
        )
        .route(
            "/api-keys/{id}",
            axum::routing::delete(admin::delete_api_key),
        )
        .route("/users", get(admin::users))
        .route("/users/{name}/disable", post(admin::disable_user))
        .route("/users/{name}/enable", post(admin::enable_user))
        .route("/webhooks/deliveries", get(admin_webhooks::deliveries))
        .route(
            "/tenant/config",
            get(admin_config::config).put(admin_config::put_config),
        )
        .route("/audit", get(admin_config::audit))
        .fallback(api_not_found);
    let router = Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .route("/ws/agent", get(crate::ws::agent::upgrade))
        .route("/ws/supervisor", get(crate::ws::supervisor::upgrade))
        .route("/ws/cobrowse", get(crate::cobrowse::agent_upgrade))
        .route("/cobrowse/frame", get(crate::cobrowse::frame_page))
        .route("/cobrowse/asset", get(crate::cobrowse::asset_page))
        .route("/", get(|| async { assets::serve("console/index.html") }))
        .route("/{*path}", get(staff_asset));
    own_page_layers(common_layers(router))
        // Staff pages open no window that needs them (the widget's call
        // window does: it tells the merchant's page through `opener`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .with_state(state)
}

/// `GET /healthz` (both listeners): `ok` when the database answers.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, error::ApiError> {
    state.store.ping().await?;
    Ok("ok")
}

/// `GET /metrics`: Prometheus text.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    state.metrics.render()
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::not_found()
}

/// Staff pages: console at `/`, `/supervisor/`, `/admin/`, shared `/common/`.
async fn staff_asset(
    axum::extract::Path(path): axum::extract::Path<String>,
) -> axum::response::Response {
    let top = path.split('/').next().unwrap_or_default();
    // `widget/` too: the console shares the call window's WebRTC helpers.
    if !matches!(
        top,
        "console" | "supervisor" | "admin" | "common" | "widget" | "directory"
    ) {
        // The console's own files are addressed from the root (`/app.js`).
        return assets::serve(&format!("console/{path}"));
    }
    if path.ends_with('/') || !path.contains('.') {
        let dir = path.trim_end_matches('/');
        return assets::serve(&format!("{dir}/index.html"));
    }
    assets::serve(&path)
}
pub use admin::{check_scopes as admin_check_scopes, new_api_key as admin_new_api_key};
pub use limit::LoginSettings;
pub use state::{AppState, Limits};
