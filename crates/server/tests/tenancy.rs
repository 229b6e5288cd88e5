//! Tenant isolation: a user or API key of tenant A gets 404/403 for every
//! tenant-B object, and lists never include B's rows.

mod common;

use common::{Tenant, TestServer};
use reqwest::Method;
use serde_json::json;
use switchboard::{store::Role, tenant_file};

async fn second_tenant(server: &TestServer) {
    let acme = Tenant::new("acme")
        .queue("help", |q| q)
        .link("help", "help")
        .customer("acme-1", |c| c.name("Acme Customer"));
    let file = tenant_file::parse(&acme.to_string()).unwrap();
    tenant_file::apply(&server.store, &file, &|_| None)
        .await
        .unwrap();
    let tenant = server.store.tenant_by_slug("acme").await.unwrap().unwrap();
    let hash = switchboard::auth::hash_password("acme-admin-pw").unwrap();
    server
        .store
        .create_user(tenant.id, "root", "Acme Root", Role::Admin, &hash)
        .await
        .unwrap();
}

/// A finished demo contact with a transcript; returns its id.
async fn demo_contact(server: &TestServer) -> i64 {
    let (_alice, mut console) = server.ready_agent("alice").await;
    let _visitor = server.open_chat("sales", "private words").await;
    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    console.until_type("assigned").await;
    contact
}

#[tokio::test]
async fn tenant_a_cannot_reach_tenant_b_objects() {
    let server = TestServer::start().await;
    second_tenant(&server).await;
    let contact = demo_contact(&server).await;
    let acme = server.staff("acme", "root", "acme-admin-pw").await;

    let (status, _) = acme.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(status, 404, "contact/transcript of another tenant");
    let (_, list) = acme.get("/api/v1/contacts").await;
    assert_eq!(list["total"], 0);
    let (_, csv) = acme.get_text("/api/v1/contacts.csv").await;
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    let (status, _) = acme.get("/api/v1/customers/cust-1001").await;
    assert_eq!(status, 404, "customer of another tenant");
    let (_, customers) = acme.get("/api/v1/customers").await;
    let ids: Vec<_> = customers["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["external_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("acme-1")]);
    let (_, links) = acme.get("/api/v1/links").await;
    assert_eq!(links["links"].as_array().unwrap().len(), 1);
    assert_eq!(
        links["public_url"], server.public,
        "embed snippets point at the public listener"
    );
    let (_, live) = acme.get("/api/v1/live").await;
    assert!(
        live["agents"].as_array().unwrap().is_empty(),
        "demo agents invisible"
    );

    // Writing a customer with B's external id creates A's own record; B's is untouched.
    let (status, _) = acme
        .send(
            Method::PUT,
            "/api/v1/customers/cust-1001",
            json!({"name": "Impostor"}),
        )
        .await;
    assert_eq!(status, 200);
    let demo_tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    let dana = server
        .store
        .customer(demo_tenant.id, "cust-1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dana.name, "Dana Demo");

    // The demo tenant's API key sees demo records, acme's sees none of them.
    let ada = server.demo_staff("ada").await;
    let (_, key) = ada
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "crm"}))
        .await;
    let key = key["key"].as_str().unwrap().to_owned();
    let (_, acme_key) = acme
        .send(Method::POST, "/api/v1/api-keys", json!({"name": "crm"}))
        .await;
    let acme_key = acme_key["key"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let get = |k: String, path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .bearer_auth(k)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        get(
            key.clone(),
            format!("{}/api/v1/contacts/{contact}", server.agent)
        )
        .await,
        200
    );
    assert_eq!(
        get(
            acme_key.clone(),
            format!("{}/api/v1/contacts/{contact}", server.agent)
        )
        .await,
        404
    );
    assert_eq!(
        get(
            acme_key,
            format!("{}/api/v1/customers/cust-1001", server.agent)
        )
        .await,
        200,
        "acme's own impostor record"
    );
    assert_eq!(
        get(
            "sbk_wrong".into(),
            format!("{}/api/v1/contacts", server.agent)
        )
        .await,
        401
    );
    server.stop().await;
}

#[tokio::test]
async fn agents_see_only_their_own_records() {
    let server = TestServer::start().await;
    let contact = demo_contact(&server).await;
    let bob = server.demo_staff("bob").await;
    let (status, _) = bob.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(status, 404);
    let (_, list) = bob.get("/api/v1/contacts").await;
    assert_eq!(list["total"], 0);
    let alice = server.demo_staff("alice").await;
    let (status, one) = alice.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["transcript"][0]["text"], "private words");
    let (status, _) = alice.get("/api/v1/live").await;
    assert_eq!(status, 403, "agents have no supervisor view");
    let (status, _) = alice.get("/api/v1/customers").await;
    assert_eq!(status, 403);
    server.stop().await;
}

/// A tenant with a DID on link "desk" and a trunk at the carrier address
/// 192.0.2.7, listing `trunk_numbers`.
fn carrier_tenant(slug: &str, did: &str, trunk_numbers: &[&str]) -> Tenant {
    Tenant::new(slug)
        .queue("sales", |q| q)
        .link_with("desk", "sales", |l| l.calls(&["voice"]))
        .phone(|p| {
            p.number(did, "desk").trunk("carrier", |t| {
                let t = t.host("192.0.2.7");
                if trunk_numbers.is_empty() {
                    t
                } else {
                    t.numbers(trunk_numbers)
                }
            })
        })
}

#[tokio::test]
async fn a_trunk_on_another_tenants_address_needs_its_own_numbers() {
    let first = carrier_tenant("firstco", "+4930111111", &["+4930111111"]);
    let server = TestServer::builder().tenant(&first).start().await;
    let apply = |tenant: Tenant| {
        let store = server.store.clone();
        async move {
            let file = tenant_file::parse(&tenant.to_string()).unwrap();
            tenant_file::apply(&store, &file, &|_| None).await
        }
    };

    // Same address, nothing to tell the calls apart: refused, naming the
    // other tenant, and nothing of the second tenant is stored.
    let err = apply(carrier_tenant("secondco", "+4930222222", &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"firstco\"") && err.contains("192.0.2.7"),
        "{err}"
    );
    assert!(err.contains("must list the called numbers"), "{err}");
    assert!(
        server
            .store
            .tenant_by_slug("secondco")
            .await
            .unwrap()
            .is_none()
    );
    // Listing a number the other trunk lists too is no better.
    let mut both = carrier_tenant("secondco", "+4930222222", &["+4930222222"]);
    both = both.phone(|p| {
        p.number("+4930111111", "desk")
            .trunk("carrier", |t| t.numbers(&["+4930222222", "+4930111111"]))
    });
    let err = apply(both).await.unwrap_err().to_string();
    assert!(err.contains("both list +4930111111"), "{err}");

    // Its own numbers: accepted.
    apply(carrier_tenant("secondco", "+4930222222", &["+4930222222"]))
        .await
        .unwrap();
    server.stop().await;
}
