//! "Call me back" turned against the tenant, as it was tried from outside:
//! one socket asking for hundreds of callbacks to premium-rate numbers in the
//! year 3000, fresh sockets asking again, one address asking for many
//! numbers. Each is refused with a reason, and at most one callback a
//! visitor (and a number) is stored.

mod common;

use common::{TestServer, Ws, hello};
use serde_json::{Value, json};

/// Opens a visitor on the demo tenant's support link and says hello.
async fn visitor(server: &TestServer) -> Ws {
    let mut v = server.visitor("demo", "support").await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    v
}

/// Asks for a callback and returns the answer: `callback_scheduled` or an error.
async fn ask(v: &mut Ws, request: Value) -> Value {
    let mut frame = json!({"type": "callback"});
    frame
        .as_object_mut()
        .unwrap()
        .extend(request.as_object().unwrap().clone());
    v.send(frame).await;
    loop {
        let f = v.next().await;
        if f["type"] == "callback_scheduled" || f["type"] == "error" {
            return f;
        }
    }
}

async fn stored_callbacks(server: &TestServer) -> Vec<Value> {
    let sam = server.demo_staff("sam").await;
    let (status, list) = sam.get("/api/v1/contacts?per_page=500").await;
    assert_eq!(status, 200, "{list}");
    let rows = list["contacts"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no contact list: {list}"));
    rows.into_iter()
        .filter(|r| r["media"] == "callback")
        .collect()
}

#[tokio::test]
async fn the_flood_from_outside_stores_one_callback() {
    let server = TestServer::start().await;
    let mut v = visitor(&server).await;

    // Premium-rate and international-network ranges are never called back.
    let premium = ask(&mut v, json!({"phone": "+882 1234 5678"})).await;
    assert_eq!(premium["code"], "invalid", "{premium}");
    assert!(
        premium["message"].as_str().unwrap().contains("cannot call"),
        "{premium}"
    );
    // The year 3000 is past the tenant's horizon.
    let year_3000 = 32_503_680_000_000_i64;
    let far = ask(&mut v, json!({"phone": "+1 555 123 4567", "at": year_3000})).await;
    assert_eq!(far["code"], "invalid", "{far}");
    assert!(
        far["message"].as_str().unwrap().contains("14 days"),
        "{far}"
    );
    // A number without its country code cannot be checked.
    let national = ask(&mut v, json!({"phone": "555 123 4567"})).await;
    assert_eq!(national["code"], "invalid", "{national}");

    // One honest request is booked...
    let first = ask(&mut v, json!({"phone": "+1 555 123 4567"})).await;
    assert_eq!(first["type"], "callback_scheduled", "{first}");
    // ...and the same socket asking again, for any number, changes that
    // one (20 requests: within the socket's burst of frames).
    for i in 0..20 {
        let phone = if i == 19 {
            "+1 555 123 4567".to_owned()
        } else {
            format!("+1 555 000 {i:04}")
        };
        let again = ask(&mut v, json!({ "phone": phone })).await;
        assert_eq!(again["type"], "callback_scheduled", "{again}");
    }
    // Fresh sockets (new visitor sessions) asking for that number change the
    // same one.
    for _ in 0..20 {
        let mut fresh = visitor(&server).await;
        let again = ask(&mut fresh, json!({"phone": "+1 555 123 4567"})).await;
        assert_eq!(again["type"], "callback_scheduled", "{again}");
    }

    let stored = stored_callbacks(&server).await;
    assert_eq!(stored.len(), 1, "{stored:#?}");
}

#[tokio::test]
async fn one_address_gets_so_many_callbacks_a_day() {
    let server = TestServer::start().await;
    // The demo tenant's default: 10 a day per address.
    for i in 0..10 {
        let mut v = visitor(&server).await;
        let ok = ask(&mut v, json!({"phone": format!("+1 555 010 {i:04}")})).await;
        assert_eq!(ok["type"], "callback_scheduled", "{ok}");
    }
    let mut v = visitor(&server).await;
    let refused = ask(&mut v, json!({"phone": "+1 555 010 9999"})).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("today"),
        "{refused}"
    );
    assert_eq!(stored_callbacks(&server).await.len(), 10);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("switchboard_callbacks_refused_total{reason=\"too_many_from_address\"}"),
        "{metrics}"
    );
}

/// The next time at or after now that is `weekday` at `hour`:00 UTC, in ms.
fn next(weekday: time::Weekday, hour: u8) -> i64 {
    let mut day = time::OffsetDateTime::now_utc().date().next_day().unwrap();
    while day.weekday() != weekday {
        day = day.next_day().unwrap();
    }
    let at = day.with_hms(hour, 0, 0).unwrap().assume_utc();
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn a_callback_time_must_fall_in_the_links_hours() {
    let tenant = common::Tenant::help_desk("hoursco").center("hq", |c| {
        c.time_zone("UTC").hours(&[("weekdays", "09:00-17:00")])
    });
    let server = TestServer::builder().tenant(&tenant).start().await;
    let mut v = server.visitor("hoursco", "help").await;
    v.send(hello("http://shop.example/", None, None)).await;
    v.until_type("welcome").await;
    let sunday = ask(
        &mut v,
        json!({"phone": "+1 555 123 4567", "at": next(time::Weekday::Sunday, 12)}),
    )
    .await;
    assert_eq!(sunday["code"], "invalid", "{sunday}");
    assert!(
        sunday["message"].as_str().unwrap().contains("closed then"),
        "{sunday}"
    );
    let monday = next(time::Weekday::Monday, 10);
    let booked = ask(&mut v, json!({"phone": "+1 555 123 4567", "at": monday})).await;
    assert_eq!(booked["type"], "callback_scheduled", "{booked}");
    assert_eq!(booked["at"], monday);
}
