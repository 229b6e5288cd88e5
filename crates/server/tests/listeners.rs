//! The security boundary between the two listeners: the public one serves only
//! what visitors need; every staff route is 404 there.

mod common;

use common::TestServer;

/// Every staff-side route, as a client would request it.
const STAFF_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/console.js"),
    ("GET", "/supervisor/"),
    ("GET", "/admin/"),
    ("GET", "/common/api.js"),
    ("GET", "/metrics"),
    ("GET", "/ws/agent"),
    ("GET", "/api/v1/login-hint"),
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/logout"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/contacts"),
    ("GET", "/api/v1/contacts.csv"),
    ("GET", "/api/v1/contacts/1"),
    ("GET", "/api/v1/customers"),
    ("GET", "/api/v1/customers/cust-1001"),
    ("PUT", "/api/v1/customers/cust-1001"),
    ("GET", "/api/v1/links"),
    ("GET", "/api/v1/live"),
    ("POST", "/api/v1/api-keys"),
    ("GET", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/1"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users/alice/disable"),
    ("POST", "/api/v1/users/alice/enable"),
    ("GET", "/api/v1/contacts/1/recordings/visitor"),
    ("POST", "/api/v1/calls/1/listen"),
    ("DELETE", "/api/v1/calls/1/listen/1"),
    ("GET", "/api/v1/openapi.json"),
];

#[tokio::test]
async fn staff_routes_are_404_on_the_public_listener() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    for (method, path) in STAFF_ROUTES {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let public = client
            .request(method.clone(), format!("{}{path}", server.public))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            public.status(),
            404,
            "{method} {path} on the public listener"
        );
        // ...and they do exist on the agent listener.
        let agent = client
            .request(method.clone(), format!("{}{path}", server.agent))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_ne!(agent.status(), 404, "{method} {path} on the agent listener");
    }
    server.stop().await;
}

#[tokio::test]
async fn public_listener_serves_the_visitor_side() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/widget.js", "/widget/app.js", "/demo/"] {
        let r = reqwest::get(format!("{}{path}", server.public))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let demo = reqwest::get(format!("{}/demo/", server.public))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!demo.contains("__SB_DEMO_IDENTITY__"), "identity filled in");
    let r = reqwest::get(format!("{}/healthz", server.agent))
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    let metrics = reqwest::get(format!("{}/metrics", server.agent))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn demo_pages_exist_only_with_demo() {
    let server = TestServer::builder().without_demo().start().await;
    let r = reqwest::get(format!("{}/demo/", server.public))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let hint: serde_json::Value = reqwest::get(format!("{}/api/v1/login-hint", server.agent))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hint["tenant"].is_null(), "no tenant seeded without --demo");
    server.stop().await;
}

#[tokio::test]
async fn widget_loader_is_within_budget() {
    use std::io::Read;
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/widget.js", server.public);
    let get = |accept: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client
                .get(&url)
                .header("accept-encoding", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let headers = response.headers().clone();
            (headers, response.bytes().await.unwrap())
        }
    };
    let (plain_headers, plain) = get("identity").await;
    assert!(!plain_headers.contains_key("content-encoding"));
    let (gz_headers, gz) = get("gzip, deflate").await;
    let (br_headers, br) = get("gzip, deflate, br").await;
    assert_eq!(gz_headers["content-encoding"], "gzip");
    assert_eq!(br_headers["content-encoding"], "br");
    for headers in [&plain_headers, &gz_headers, &br_headers] {
        assert_eq!(headers["vary"], "accept-encoding");
        assert_eq!(headers["cache-control"], "public, max-age=300");
    }
    // Each encoding decodes to the same script.
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    // The budget (DESIGN.md): at most 5 KB on the wire, as browsers ask for it.
    assert!(
        br.len() <= 5 * 1024,
        "widget.js is {} bytes in brotli",
        br.len()
    );
    assert!(
        gz.len() <= 5 * 1024,
        "widget.js is {} bytes gzipped",
        gz.len()
    );
    // A repeat view sends its ETag back and gets a 304 without a body.
    let etag = br_headers["etag"].clone();
    assert_ne!(etag, gz_headers["etag"], "encodings share an ETag");
    let repeat = client
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), 304);
    assert_eq!(repeat.headers()["etag"], etag);
    assert_eq!(repeat.headers()["cache-control"], "public, max-age=300");
    assert!(repeat.bytes().await.unwrap().is_empty());
    // A stale or foreign tag gets the script again.
    let other = client
        .get(&url)
        .header("if-none-match", "\"0000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.bytes().await.unwrap(), plain);
    server.stop().await;
}

/// The other static files are compressed and revalidated the same way.
#[tokio::test]
async fn static_files_are_compressed_and_revalidated() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    for url in [
        format!("{}/widget/app.js", server.public),
        format!("{}/console.js", server.agent),
    ] {
        let first = client
            .get(&url)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200, "{url}");
        assert_eq!(first.headers()["content-encoding"], "gzip", "{url}");
        assert_eq!(first.headers()["cache-control"], "no-cache", "{url}");
        let etag = first.headers()["etag"].clone();
        let repeat = client
            .get(&url)
            .header("accept-encoding", "gzip")
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(repeat.status(), 304, "{url}");
    }
    server.stop().await;
}

/// Staff pages and the widget's own pages say what may run in them and that
/// nobody may frame them; every response says not to sniff its type.
#[tokio::test]
async fn pages_carry_the_security_headers() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let headers = |url: String| {
        let client = client.clone();
        async move { client.get(&url).send().await.unwrap().headers().clone() }
    };
    for path in ["/", "/admin/", "/supervisor/", "/api/v1/me"] {
        let h = headers(format!("{}{path}", server.agent)).await;
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
        assert!(h.contains_key("permissions-policy"), "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
    // The call window: its own page, not framed, but it keeps its opener.
    let h = headers(format!("{}/widget/call.html", server.public)).await;
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(!h.contains_key("cross-origin-opener-policy"));
    // The loader runs inside merchants' pages: their policy, not ours.
    let h = headers(format!("{}/widget.js", server.public)).await;
    assert!(!h.contains_key("content-security-policy"));
    assert_eq!(h["x-content-type-options"], "nosniff");
}
