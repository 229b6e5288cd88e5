//! Public listener pages: the widget loader and app, and the demo shop.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};

use super::{AppState, assets};

/// `GET /widget.js`: the loader merchants embed.
pub async fn widget_loader() -> Response {
    cross_origin(assets::serve("widget/widget.js"))
}

/// Merchant pages on other origins import the widget app as a module, which
/// needs CORS; these files are public and carry no credentials.
fn cross_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        axum::http::HeaderValue::from_static("*"),
    );
    response
}

/// `GET /widget/{path}`: the lazily loaded widget app.
pub async fn widget_asset(Path(path): Path<String>) -> Response {
    cross_origin(assets::serve(&format!("widget/{path}")))
}

/// `GET /demo`
pub async fn demo_redirect() -> Redirect {
    Redirect::permanent("/demo/")
}

/// `GET /demo/`: the demo shop's front page.
pub async fn demo_index(state: State<AppState>) -> Response {
    demo_page(&state, "index.html").await
}

/// `GET /demo/{path}`
pub async fn demo_asset(state: State<AppState>, Path(path): Path<String>) -> Response {
    demo_page(&state, &path).await
}

/// Demo pages carry a freshly signed identity for the demo customer, as a
/// merchant's server would render one into its page.
async fn demo_page(state: &AppState, path: &str) -> Response {
    let identity = match state.store.tenant_by_slug("demo").await {
        Ok(Some(tenant)) => crate::demo::demo_identity(&tenant).unwrap_or_default(),
        Ok(None) => String::new(),
        Err(e) => return super::error::ApiError::from(e).into_response(),
    };
    assets::serve_with(&format!("demo/{path}"), |bytes| {
        if std::path::Path::new(path)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("html"))
        {
            String::from_utf8_lossy(&bytes)
                .replace("__SB_DEMO_IDENTITY__", &identity)
                .into_bytes()
        } else {
            bytes
        }
    })
}
