//! The published OpenAPI document and the router agree: every `/api/v1`
//! route the agent router registers is documented with its methods, every
//! documented route exists, and the running server answers each documented
//! route with something other than "no such route".

mod common;

use std::collections::BTreeSet;

use common::TestServer;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `(method, path)` of every route in the agent router's `/api/v1` block,
/// read from the router's source: axum cannot list a router's routes, and
/// reading the very lines that register them is what keeps a new route from
/// going undocumented.
fn routed() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs"))
        .expect("the router's source");
    let start = source
        .find("let api = Router::new()")
        .expect("the /api/v1 router");
    let end = start
        + source[start..]
            .find(".fallback(")
            .expect("the /api/v1 router's fallback");
    let mut routes = BTreeSet::new();
    for chunk in source[start..end].split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("a quoted path");
        let mut found = false;
        for (at, _) in chunk.match_indices('(') {
            let before = &chunk[..at];
            let ident_start = before
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let ident = &before[ident_start..];
            if METHODS.contains(&ident) {
                routes.insert((ident.to_owned(), format!("/api/v1{path}")));
                found = true;
            }
        }
        assert!(found, "no method found for route {path}");
    }
    routes
}

fn document() -> Value {
    serde_json::from_str(switchboard::http::openapi::DOCUMENT).expect("the document is JSON")
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let routed = routed();
    assert!(
        routed.len() > 20,
        "the parse found too few routes: {routed:?}"
    );
    let documented = documented(&document());
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "openapi.json names routes that do not exist: {extra:?}"
    );
}

/// The served document is the one in the source, and each documented route
/// reaches a handler on the running server (never the API's 404 for unknown
/// paths nor 405): without credentials, 401 exactly where the document
/// names a security scheme.
#[tokio::test]
async fn the_server_serves_the_document_and_every_documented_route() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/api/v1/openapi.json", server.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, document());

    for (method, path) in documented(&served) {
        let secured = !served["paths"][&path][&method]["security"]
            .as_array()
            .expect("security")
            .is_empty();
        let url = format!(
            "{}{}",
            server.agent,
            path.replace("{id}", "1")
                .replace("{leg}", "1")
                .replace("{party}", "visitor")
                .replace("{external_id}", "cust-1")
                .replace("{name}", "nobody")
                .replace("{number}", "234567891011")
        );
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = client.request(method.clone(), &url);
        if method != reqwest::Method::GET {
            request = request
                .header("content-type", "application/json")
                .body("{}");
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert!(
            ![404, 405].contains(&status),
            "{method} {path}: {status} (no such route on the server)"
        );
        // What the document says about authentication is what the server does.
        assert_eq!(
            status == 401,
            secured,
            "{method} {path}: {status} without credentials, documented secured: {secured}"
        );
    }
    // The probe can tell: an undocumented path is the API's 404.
    let status = client
        .get(format!("{}/api/v1/no-such-route", server.agent))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    server.stop().await;
}
