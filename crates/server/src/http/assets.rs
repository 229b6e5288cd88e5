//! The web front ends, embedded with rust-embed (read from disk in debug builds,
//! compiled in for release).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(rust_embed::Embed)]
#[folder = "../../web/"]
struct Web;

/// Serves `web/<path>`, or 404.
pub fn serve(path: &str) -> Response {
    serve_with(path, |bytes| bytes)
}

/// Serves `web/<path>` after `transform` (used to fill the demo page's identity).
pub fn serve_with(path: &str, transform: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Response {
    if path.split('/').any(|seg| seg == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(file) = Web::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = file.metadata.mimetype().to_owned();
    let mut response = transform(file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether an asset exists (tests use it to walk every file).
pub fn exists(path: &str) -> bool {
    Web::get(path).is_some()
}
