//! The whole chat path over real sockets: visitor hello with a signed identity,
//! queue, offer with screen pop, accept, messages and typing both ways, a
//! visitor reconnect, end, wrap-up and the stored record.

mod common;

use common::{TestServer, demo_identity, hello};
use serde_json::json;

#[tokio::test]
async fn visitor_and_agent_chat_end_to_end() {
    let server = TestServer::start().await;
    let alice = server.demo_staff("alice").await;
    let mut console = server.console(&alice).await;
    let h = console.until_type("hello").await;
    assert_eq!(h["agent"]["name"], "alice");
    assert!(
        h["wrapup_codes"]
            .as_array()
            .unwrap()
            .contains(&json!("resolved"))
    );
    console
        .send(json!({"type": "status", "state": "available"}))
        .await;
    console.until("state", |f| f["state"] == "available").await;

    let page = format!("{}/demo/", server.public);
    let identity = demo_identity(&server).await;
    let mut visitor = server.visitor("demo", "sales").await;
    visitor.send(hello(&page, Some(&identity), None)).await;
    let welcome = visitor.until_type("welcome").await;
    assert_eq!(welcome["state"], "idle");
    assert_eq!(welcome["available"], true);
    let resume = welcome["resume"].as_str().unwrap().to_owned();

    visitor
        .send(json!({"type": "start", "text": "Do you ship to Norway?"}))
        .await;
    visitor.until("message", |f| f["from"] == "visitor").await;

    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    let pop = &offer["screenpop"];
    assert_eq!(pop["identity"]["verified"], true);
    assert_eq!(pop["identity"]["name"], "Dana Demo");
    assert_eq!(pop["customer"]["tier"], "gold");
    assert_eq!(pop["customer"]["tickets"][0]["reference"], "T-42");
    assert_eq!(pop["page"]["url"], page);
    assert_eq!(pop["pages"].as_array().unwrap().len(), 2);
    assert_eq!(pop["timezone"], "Europe/Berlin");
    assert!(offer["expires_in"].as_u64().unwrap() > 0);

    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    let assigned = console.until_type("assigned").await;
    assert_eq!(assigned["transcript"][0]["text"], "Do you ship to Norway?");
    let connected = visitor.until_type("connected").await;
    assert_eq!(connected["agent_name"], "Alice Adams");

    visitor
        .send(json!({"type": "typing", "active": true}))
        .await;
    console
        .until("typing", |f| f["active"] == true && f["contact"] == contact)
        .await;
    console
        .send(json!({"type": "message", "contact": contact, "text": "Yes, in 3 days."}))
        .await;
    let m = visitor.until("message", |f| f["from"] == "agent").await;
    assert_eq!(m["text"], "Yes, in 3 days.");
    console
        .send(json!({"type": "typing", "contact": contact, "active": true}))
        .await;
    visitor.until("typing", |f| f["active"] == true).await;

    // The visitor reloads: same conversation back, transcript included.
    drop(visitor);
    let mut visitor = server.visitor("demo", "sales").await;
    visitor
        .send(hello(
            &format!("{page}products.html"),
            Some(&identity),
            Some(&resume),
        ))
        .await;
    let welcome = visitor.until_type("welcome").await;
    assert_eq!(welcome["state"], "connected");
    assert_eq!(welcome["agent_name"], "Alice Adams");
    let texts: Vec<_> = welcome["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(
        texts,
        vec![json!("Do you ship to Norway?"), json!("Yes, in 3 days.")]
    );
    // The agent's screen pop follows the visitor to the new page.
    let moved = console.until_type("screenpop").await;
    assert_eq!(
        moved["screenpop"]["page"]["url"],
        format!("{page}products.html")
    );

    visitor
        .send(json!({"type": "message", "text": "Great, thanks"}))
        .await;
    console
        .until("message", |f| f["text"] == "Great, thanks")
        .await;

    console
        .send(json!({"type": "end", "contact": contact}))
        .await;
    let ended = visitor.until_type("ended").await;
    assert_eq!(ended["by"], "agent");
    console.until("ended", |f| f["contact"] == contact).await;

    console
        .send(json!({"type": "wrapup", "contact": contact, "code": "no-such-code"}))
        .await;
    let err = console.until_type("error").await;
    assert_eq!(err["code"], "invalid");
    console.send(json!({"type": "wrapup", "contact": contact, "code": "resolved", "note": "shipping info"})).await;
    console.until("wrapped", |f| f["contact"] == contact).await;

    let sam = server.demo_staff("sam").await;
    let (status, list) = sam.get("/api/v1/contacts").await;
    assert_eq!(status, 200);
    let record = &list["contacts"][0];
    assert_eq!(record["id"], contact);
    assert_eq!(record["page_url"], page);
    assert_eq!(record["outcome"], "answered");
    assert_eq!(record["wrapup_code"], "resolved");
    assert_eq!(record["agent"], "alice");
    assert_eq!(record["customer"], "cust-1001");
    for field in [
        "created_at",
        "queued_at",
        "offered_at",
        "answered_at",
        "ended_at",
    ] {
        assert!(record[field].as_i64().unwrap() > 0, "{field}");
    }
    let (_, one) = sam.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(one["transcript"].as_array().unwrap().len(), 3);
    let (_, csv) = sam.get_text("/api/v1/contacts.csv").await;
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains("answered,resolved,shipping info"),
        "{csv}"
    );

    // A second contact from the same customer shows the first in "previous".
    let mut visitor2 = server.visitor("demo", "sales").await;
    visitor2.send(hello(&page, Some(&identity), None)).await;
    visitor2.until_type("welcome").await;
    visitor2
        .send(json!({"type": "start", "text": "Me again"}))
        .await;
    let offer = console.until_type("offer").await;
    assert_eq!(offer["screenpop"]["previous"][0]["contact"], contact);
    assert_eq!(offer["screenpop"]["previous"][0]["wrapup_code"], "resolved");
    server.stop().await;
}

#[tokio::test]
async fn unsigned_visitor_is_marked_unverified_and_gets_no_crm_record() {
    let server = TestServer::start().await;
    let (_alice, mut console) = server.ready_agent("alice").await;

    let mut visitor = server.visitor("demo", "sales").await;
    let mut frame = hello("http://shop.example/", Some("forged.token.value"), None);
    frame["attributes"] = json!({"name": "Dana Demo", "email": "dana@example.com"});
    visitor.send(frame).await;
    visitor.until_type("welcome").await;
    visitor.send(json!({"type": "start", "text": "hi"})).await;
    let offer = console.until_type("offer").await;
    assert_eq!(offer["screenpop"]["identity"]["verified"], false);
    assert_eq!(offer["screenpop"]["identity"]["name"], "Dana Demo");
    assert!(offer["screenpop"]["customer"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn visitor_returning_during_wrap_up_sees_the_end_and_can_start_again() {
    let server = TestServer::start().await;
    let (_alice, mut console) = server.ready_agent("alice").await;
    let mut visitor = server.visitor("demo", "sales").await;
    visitor
        .send(hello("http://shop.example/", None, None))
        .await;
    let resume = visitor.until_type("welcome").await["resume"]
        .as_str()
        .unwrap()
        .to_owned();
    visitor
        .send(json!({"type": "start", "text": "first"}))
        .await;
    // An agent is free, so the offer goes out at once; the visitor is still told
    // the chat is in line.
    visitor.until_type("queued").await;
    let offer = console.until_type("offer").await;
    console
        .send(json!({"type": "accept", "contact": offer["contact"]}))
        .await;
    visitor.until_type("connected").await;
    visitor.send(json!({"type": "end"})).await;
    console.until_type("ended").await;
    drop(visitor);

    let mut visitor = server.visitor("demo", "sales").await;
    visitor
        .send(hello("http://shop.example/", None, Some(&resume)))
        .await;
    let welcome = visitor.until_type("welcome").await;
    assert_eq!(welcome["state"], "ended");
    visitor
        .send(json!({"type": "start", "text": "second question"}))
        .await;
    visitor.until_type("queued").await;
    server.stop().await;
}

#[tokio::test]
async fn widget_files_load_cross_origin() {
    let server = TestServer::start().await;
    for path in ["/widget.js", "/widget/app.js"] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", server.public))
            .header("origin", "https://shop.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_chat_started_in_one_tab_shows_in_the_visitors_other_tabs() {
    let server = TestServer::start().await;
    let mut first = server.visitor("demo", "sales").await;
    first.send(hello("http://shop.example/a", None, None)).await;
    let resume = first.until_type("welcome").await["resume"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut second = server.visitor("demo", "sales").await;
    second
        .send(hello("http://shop.example/b", None, Some(&resume)))
        .await;
    second.until_type("welcome").await;
    first
        .send(json!({"type": "start", "text": "from tab one"}))
        .await;
    // The other tab gets the first message's echo, then the queue position.
    let echoed = second.until_type("message").await;
    assert_eq!(echoed["text"], "from tab one");
    second.until_type("queued").await;
    second
        .send(json!({"type": "message", "text": "from tab two"}))
        .await;
    first
        .until("message", |f| f["text"] == "from tab two")
        .await;
    server.stop().await;
}

#[tokio::test]
async fn only_the_cookies_and_fields_the_tenant_shares_reach_the_agent_and_the_record() {
    let server = TestServer::start().await;
    let (_alice, mut console) = server.ready_agent("alice").await;

    let mut visitor = server.visitor("demo", "sales").await;
    let mut frame = hello("http://shop.example/cart", None, None);
    // The demo tenant shares the cookie "cart" and the field "order" only.
    frame["context"]["shared"] = json!({
        "cookies": {"cart": "c-991", "session": "s3cret"},
        "fields": {"order": "A-1", "card": "4111111111111111"}
    });
    visitor.send(frame).await;
    let welcome = visitor.until_type("welcome").await;
    assert_eq!(
        welcome["share"],
        json!({"cookies": ["cart"], "fields": ["order"]})
    );
    // Before opening the chat the widget sends what the visitor typed by now;
    // an over-long value is cut.
    let long = "x".repeat(1000);
    visitor
        .send(json!({"type": "page", "context": {
            "url": "http://shop.example/cart", "title": "Cart",
            "shared": {"cookies": {"cart": "c-991"}, "fields": {"order": long}}
        }}))
        .await;
    visitor.send(json!({"type": "start", "text": "Hi"})).await;
    let offer = console.until_type("offer").await;
    let contact = offer["contact"].as_i64().unwrap();
    let shared = &offer["screenpop"]["shared"];
    assert_eq!(shared["cookies"], json!({"cart": "c-991"}), "{shared}");
    assert_eq!(shared["fields"]["order"].as_str().unwrap().len(), 256);
    console
        .send(json!({"type": "accept", "contact": contact}))
        .await;
    console.until_type("assigned").await;

    // The visitor corrects the order number: the screen pop follows, and a
    // name the tenant did not list is still dropped.
    visitor
        .send(json!({"type": "page", "context": {
            "url": "http://shop.example/checkout", "title": "Checkout",
            "shared": {"cookies": {"cart": "c-991", "session": "s3cret"},
                       "fields": {"order": "A-1234"}}
        }}))
        .await;
    let moved = console.until_type("screenpop").await;
    assert_eq!(
        moved["screenpop"]["shared"],
        json!({"cookies": {"cart": "c-991"}, "fields": {"order": "A-1234"}})
    );

    let sam = server.demo_staff("sam").await;
    let (status, record) = sam.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        record["shared"],
        json!({"cookies": {"cart": "c-991"}, "fields": {"order": "A-1234"}}),
        "{record}"
    );
    assert!(!record.to_string().contains("s3cret"));
    assert!(!record.to_string().contains("4111"));
    server.stop().await;
}
