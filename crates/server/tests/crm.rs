//! The CRM data API (SQLite, or PostgreSQL with `SWITCHBOARD_TEST_POSTGRES`):
//! customers with several phone numbers, one entitlement or one ticket at a
//! time, delete; numbers matched as an inbound caller is; bad input refused
//! with its reason; another tenant's key finds nothing and changes nothing.

mod common;

use common::{TestServer, tenant::Tenant};
use reqwest::Method;
use serde_json::{Value, json};

struct Key<'a> {
    server: &'a TestServer,
    key: &'static str,
}

impl Key<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.server.agent))
            .bearer_auth(self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn setup() -> TestServer {
    let server = TestServer::builder()
        .without_demo()
        .tenant(&Tenant::help_desk("acme").supervisor("sam"))
        .tenant(&Tenant::help_desk("other"))
        .start()
        .await;
    for (slug, key) in [("acme", "sbk_acme-crm"), ("other", "sbk_other-crm")] {
        let tenant = server.store.tenant_by_slug(slug).await.unwrap().unwrap();
        server
            .store
            .create_api_key(
                tenant.id,
                "crm",
                &switchboard::auth::token_hash(key),
                None,
                &[],
            )
            .await
            .unwrap();
    }
    server
}

#[tokio::test]
async fn customers_entitlements_and_tickets_round_trip() {
    let server = setup().await;
    let acme = Key {
        server: &server,
        key: "sbk_acme-crm",
    };
    let (status, pat) = acme
        .send(
            Method::PUT,
            "/customers/cust-1",
            Some(json!({
                "name": "Pat Customer", "email": "pat@example.com", "tier": "gold",
                "phone": "+1 (512) 555-0100", "phones": ["+44 20 7946 0000"],
                "entitlements": ["gold-support"],
                "tickets": [{"reference": "T-1", "subject": "Late delivery", "status": "open"}],
            })),
        )
        .await;
    assert_eq!(status, 200, "{pat}");
    assert_eq!(pat["phone"], "+15125550100");
    assert_eq!(pat["phones"], json!(["+15125550100", "+442079460000"]));

    // One entitlement and one ticket at a time.
    let (_, pat) = acme
        .send(Method::PUT, "/customers/cust-1/entitlements/returns", None)
        .await;
    assert_eq!(pat["entitlements"], json!(["gold-support", "returns"]));
    let (_, pat) = acme
        .send(
            Method::DELETE,
            "/customers/cust-1/entitlements/gold-support",
            None,
        )
        .await;
    assert_eq!(pat["entitlements"], json!(["returns"]));
    let (status, pat) = acme
        .send(
            Method::PUT,
            "/customers/cust-1/tickets/T-2",
            Some(json!({"subject": "Refund", "status": "open"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(pat["tickets"].as_array().unwrap().len(), 2);
    let (_, pat) = acme
        .send(
            Method::PUT,
            "/customers/cust-1/tickets/T-1",
            Some(json!({"subject": "Late delivery", "status": "closed"})),
        )
        .await;
    let t1 = pat["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["reference"] == "T-1")
        .cloned()
        .unwrap();
    assert_eq!(t1["status"], "closed");
    let (_, pat) = acme
        .send(Method::DELETE, "/customers/cust-1/tickets/T-2", None)
        .await;
    assert_eq!(pat["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(
        acme.send(Method::DELETE, "/customers/cust-1/tickets/T-2", None)
            .await
            .0,
        404
    );

    // Either number finds Pat, as an inbound call from it would; a number
    // two customers share finds nobody.
    let (_, found) = acme
        .send(Method::GET, "/customers?phone=%2B442079460000", None)
        .await;
    assert_eq!(found["customers"][0]["external_id"], "cust-1");
    acme.send(
        Method::PUT,
        "/customers/cust-2",
        Some(json!({"name": "Sam Shared", "phone": "+442079460000"})),
    )
    .await;
    let (_, found) = acme
        .send(Method::GET, "/customers?phone=%2B442079460000", None)
        .await;
    assert_eq!(found["customers"], json!([]));
    let tenant = server
        .store
        .tenant_by_slug("acme")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        server
            .store
            .customer_ref_by_phone(tenant, "+15125550100")
            .await
            .unwrap()
            .as_deref(),
        Some("cust-1")
    );

    // The list pages; a supervisor reads it too.
    let (_, list) = acme
        .send(Method::GET, "/customers?per_page=1&page=2", None)
        .await;
    assert_eq!(list["customers"].as_array().unwrap().len(), 1);
    let sam = server.staff("acme", "sam", "pw-sam").await;
    assert_eq!(sam.get("/api/v1/customers/cust-1").await.0, 200);
    // ... but may not change it: admins and API keys only.
    assert_eq!(
        sam.send(Method::DELETE, "/api/v1/customers/cust-1", json!({}))
            .await
            .0,
        403
    );

    assert_eq!(
        acme.send(Method::DELETE, "/customers/cust-1", None).await.0,
        204
    );
    assert_eq!(
        acme.send(Method::GET, "/customers/cust-1", None).await.0,
        404
    );
    assert_eq!(
        server
            .store
            .customer_ref_by_phone(tenant, "+15125550100")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        acme.send(Method::DELETE, "/customers/cust-1", None).await.0,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_its_reason() {
    let server = setup().await;
    let acme = Key {
        server: &server,
        key: "sbk_acme-crm",
    };
    for (body, why) in [
        (json!({"name": "Pat", "phone": "555-0100"}), "E.164"),
        (json!({"name": "Pat", "phones": ["+1 abc"]}), "E.164"),
        (json!({"name": ""}), "name must be"),
        (json!({"name": "Pat", "email": "nope"}), "email"),
        (
            json!({"name": "Pat", "tickets": [{"reference": "", "subject": "x", "status": "open"}]}),
            "reference",
        ),
    ] {
        let (status, answer) = acme
            .send(Method::PUT, "/customers/cust-9", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(why),
            "{body}: {answer}"
        );
    }
    // A field the API does not know is refused as unprocessable.
    let (status, answer) = acme
        .send(
            Method::PUT,
            "/customers/cust-9",
            Some(json!({"name": "Pat", "colour": "blue"})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`")
    );
    let (status, _) = acme
        .send(
            Method::PUT,
            "/customers/nobody/tickets/T-1",
            Some(json!({"subject": "x", "status": "open"})),
        )
        .await;
    assert_eq!(status, 404, "no ticket for a customer that does not exist");
    assert_eq!(
        acme.send(Method::PUT, "/customers/nobody/entitlements/gold", None)
            .await
            .0,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn another_tenant_finds_nothing_and_changes_nothing() {
    let server = setup().await;
    let acme = Key {
        server: &server,
        key: "sbk_acme-crm",
    };
    let other = Key {
        server: &server,
        key: "sbk_other-crm",
    };
    acme.send(
        Method::PUT,
        "/customers/cust-1",
        Some(json!({"name": "Pat", "phone": "+15125550100", "tickets": [{"reference": "T-1", "subject": "x", "status": "open"}]})),
    )
    .await;
    assert_eq!(
        other.send(Method::GET, "/customers/cust-1", None).await.0,
        404
    );
    assert_eq!(
        other
            .send(Method::DELETE, "/customers/cust-1", None)
            .await
            .0,
        404
    );
    assert_eq!(
        other
            .send(Method::DELETE, "/customers/cust-1/tickets/T-1", None)
            .await
            .0,
        404
    );
    assert_eq!(
        other
            .send(Method::PUT, "/customers/cust-1/entitlements/gold", None)
            .await
            .0,
        404
    );
    let (_, found) = other
        .send(Method::GET, "/customers?phone=%2B15125550100", None)
        .await;
    assert_eq!(found["customers"], json!([]));
    assert_eq!(
        other.send(Method::GET, "/customers", None).await.1["customers"],
        json!([])
    );
    // Their own customer of the same id is theirs alone.
    other
        .send(
            Method::PUT,
            "/customers/cust-1",
            Some(json!({"name": "Other Pat"})),
        )
        .await;
    let (_, pat) = acme.send(Method::GET, "/customers/cust-1", None).await;
    assert_eq!(
        (
            pat["name"].as_str(),
            pat["tickets"].as_array().map(Vec::len)
        ),
        (Some("Pat"), Some(1))
    );
    server.stop().await;
}
