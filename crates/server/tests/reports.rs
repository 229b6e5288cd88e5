//! Interval reports on a known set of stored contacts and agent states
//! (SQLite, or PostgreSQL with `SWITCHBOARD_TEST_POSTGRES`): every figure
//! worked out by hand below, the tenant's time zone deciding which day a
//! contact falls in, range and role bounds, and another tenant's contacts
//! never counted.

mod common;

use common::{TestServer, tenant::Tenant};
use serde_json::{Value, json};
use switchboard::{
    ids::{ContactId, LinkId, TenantId, UserId},
    store::{
        CallRecord, ContactMedia, ContactWrite, NewContact, Outcome, StatEvent, Store, TimedWrite,
    },
};

/// 2026-12-01 in Chicago (UTC-6 in December), `hh:mm:ss` local, in Unix ms.
fn at(hms: &str) -> i64 {
    let t: jiff::civil::DateTime = format!("2026-12-01T{hms}").parse().unwrap();
    t.to_zoned(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

/// One contact's life, written as the desk writes it.
struct Life {
    tenant: TenantId,
    link: LinkId,
    media: ContactMedia,
    created: i64,
    answered: Option<(i64, UserId)>,
    ended: (i64, Outcome),
}

impl Life {
    /// Arrived at `created`, answered (when, by whom), ended (when, how):
    /// local times of the known day.
    fn of(
        tenant: TenantId,
        link: LinkId,
        media: ContactMedia,
        created: &str,
        answered: Option<(&str, UserId)>,
        ended: (&str, Outcome),
    ) -> Life {
        Life {
            tenant,
            link,
            media,
            created: at(created),
            answered: answered.map(|(when, agent)| (at(when), agent)),
            ended: (at(ended.0), ended.1),
        }
    }
}

async fn store_contact(store: &Store, life: Life) -> ContactId {
    let tenant = life.tenant;
    let id = ContactId(store.reserve_contact_ids(1).await.unwrap().start);
    let mut writes = vec![TimedWrite {
        at: life.created,
        write: ContactWrite::Create {
            id,
            new: NewContact::unknown(tenant, life.link, life.media),
        },
    }];
    if let Some((when, agent)) = life.answered {
        writes.push(TimedWrite {
            at: when,
            write: ContactWrite::Answered {
                tenant,
                contact: id,
                agent,
            },
        });
    }
    writes.push(TimedWrite {
        at: life.ended.0,
        write: ContactWrite::Ended {
            tenant,
            contact: id,
            outcome: life.ended.1,
            awaiting_wrapup: false,
        },
    });
    store.write_contacts(&writes).await.unwrap();
    id
}

fn event(tenant: TenantId, at: i64, kind: &'static str, agent: UserId, detail: Value) -> StatEvent {
    StatEvent {
        tenant,
        at,
        kind,
        contact: detail["contact"].as_i64(),
        agent: Some(agent.0),
        queue: None,
        detail,
    }
}

fn state(tenant: TenantId, at: i64, agent: UserId, state: &str) -> StatEvent {
    event(tenant, at, "agent_state", agent, json!({ "state": state }))
}

fn wrapped(tenant: TenantId, at: i64, agent: UserId, contact: ContactId) -> StatEvent {
    event(
        tenant,
        at,
        "wrap_up_ended",
        agent,
        json!({ "contact": contact.0, "timed_out": false }),
    )
}

async fn bearer(server: &TestServer, key: &str, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.agent))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn report(server: &TestServer, key: &str, query: &str) -> Value {
    let (status, body) = bearer(server, key, &format!("/api/v1/reports/intervals?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn api_key(store: &Store, tenant: TenantId, key: &str) {
    store
        .create_api_key(
            tenant,
            "reports",
            &switchboard::auth::token_hash(key),
            None,
            &[],
        )
        .await
        .unwrap();
}

/// The known day: acme's sales and support queues in Chicago (support's
/// service-level threshold 10 s), agents kim and lee, six contacts on 1
/// December, one the evening before (already 1 December in UTC), and one of
/// another tenant's.
async fn known_day() -> (TestServer, &'static str, &'static str) {
    let acme = Tenant::new("acme")
        .center("chicago", |c| c.time_zone("America/Chicago"))
        .queue("sales", |q| q)
        // Support answers within 10 s, not the default 20 s.
        .queue("support", |q| q.wallboard(&[("service_level_secs", 10)]))
        .link("sales", "sales")
        .link("support", "support")
        .agent("kim", &["sales"])
        .agent("lee", &["support"]);
    let server = TestServer::builder()
        .without_demo()
        .tenant(&acme)
        .tenant(&Tenant::help_desk("other"))
        .start()
        .await;
    let store = &server.store;
    let t = store.tenant_by_slug("acme").await.unwrap().unwrap().id;
    let other = store.tenant_by_slug("other").await.unwrap().unwrap().id;
    let link = |slug: &'static str, tenant| async move {
        store.link_by_slug(tenant, slug).await.unwrap().unwrap().id
    };
    let (sales, support, help) = (
        link("sales", t).await,
        link("support", t).await,
        link("help", other).await,
    );
    let kim = store.user_by_name(t, "kim").await.unwrap().unwrap().id;
    let lee = store.user_by_name(t, "lee").await.unwrap().unwrap().id;
    let (chat, voice, callback) = (
        ContactMedia::Chat,
        ContactMedia::Voice,
        ContactMedia::Callback,
    );
    let (answered, abandoned) = (Outcome::Answered, Outcome::Abandoned);
    let lives = [
        // C1: a chat answered in 10 s, 300 s of talk, 30 s of wrap-up.
        Life::of(
            t,
            sales,
            chat,
            "09:00:00",
            Some(("09:00:10", kim)),
            ("09:05:10", answered),
        ),
        // C2: a call answered in 40 s (over the 20 s target), 500 s talk and
        // 100 s hold as the call's record says, a transfer, 60 s of wrap-up.
        Life::of(
            t,
            sales,
            voice,
            "09:10:00",
            Some(("09:10:40", kim)),
            ("09:20:40", answered),
        ),
        // C3: abandoned after 5 s (short); C4: abandoned after 60 s.
        Life::of(t, sales, chat, "09:20:00", None, ("09:20:05", abandoned)),
        Life::of(t, sales, chat, "09:30:00", None, ("09:31:00", abandoned)),
        // C5: a callback answered in 15 s, 120 s of talk, no wrap-up.
        Life::of(
            t,
            support,
            callback,
            "10:00:00",
            Some(("10:00:15", lee)),
            ("10:02:15", answered),
        ),
        // C6: refused (closed, say): never offered.
        Life::of(
            t,
            support,
            chat,
            "10:05:00",
            None,
            ("10:05:00", Outcome::Refused),
        ),
        // The evening before in Chicago, 1 December in UTC: not in this day.
        Life {
            created: at("00:00:00") - 10 * 60_000,
            ..Life::of(t, sales, chat, "00:00:00", None, ("00:00:00", abandoned))
        },
        // Another tenant's contact at the same time.
        Life::of(other, help, chat, "09:00:00", None, ("09:01:00", abandoned)),
    ];
    let mut ids = Vec::new();
    for life in lives {
        ids.push(store_contact(store, life).await);
    }
    let (c1, c2) = (ids[0], ids[1]);
    store
        .set_call_record(
            t,
            c2,
            &CallRecord {
                talk_ms: 500_000,
                hold_ms: 100_000,
                transfers: 1,
                ..CallRecord::default()
            },
        )
        .await
        .unwrap();
    store
        .insert_stat_events(&[
            state(t, at("08:55:00"), kim, "available"),
            state(t, at("09:00:10"), kim, "busy"),
            state(t, at("09:05:10"), kim, "wrap_up"),
            wrapped(t, at("09:05:40"), kim, c1),
            state(t, at("09:05:40"), kim, "available"),
            state(t, at("09:10:40"), kim, "busy"),
            state(t, at("09:20:40"), kim, "wrap_up"),
            wrapped(t, at("09:21:40"), kim, c2),
            state(t, at("09:21:40"), kim, "available"),
            state(t, at("09:30:00"), kim, "offline"),
            state(t, at("09:45:00"), lee, "available"),
            state(t, at("10:00:15"), lee, "busy"),
            state(t, at("10:02:15"), lee, "available"),
            state(t, at("10:15:00"), lee, "offline"),
        ])
        .await
        .unwrap();
    api_key(store, t, "sbk_acme-reports").await;
    api_key(store, other, "sbk_other-reports").await;
    (server, "sbk_acme-reports", "sbk_other-reports")
}

#[tokio::test]
async fn a_known_day_adds_up_by_hand() {
    let (server, acme, other) = known_day().await;
    let day = report(&server, acme, "from=2026-12-01&interval=day").await;
    assert_eq!(
        day["tz"], "America/Chicago",
        "the tenant's first center's zone"
    );
    assert_eq!(day["intervals"], json!(["2026-12-01T00:00:00-06:00"]));
    assert_eq!(day["total"], 1);
    let row = &day["rows"][0];
    assert_eq!(row["start"], "2026-12-01T00:00:00-06:00");
    let expected = json!({
        "offered": 5, "answered": 3, "abandoned": 2, "abandoned_short": 1, "refused": 1,
        // C1 only: C2 took 40 s of sales' 20, C5 15 s of support's 10.
        "answered_in_target": 1,
        // 1 in target / (3 answered + 2 abandoned - 1 short).
        "service_level": 0.25,
        // (10 + 40 + 15) / 3.
        "average_speed_of_answer_secs": 21.7,
        // Talk 300 + 500 + 120, hold 100, wrap-up 30 + 60, over 3.
        "average_handle_secs": 370.0,
        "average_talk_secs": 306.7,
        "average_hold_secs": 33.3,
        // Over the 2 that wrapped up.
        "average_wrap_up_secs": 45.0,
        "transfers": 1, "callbacks_requested": 1, "callbacks_completed": 1,
        // kim: 330 + 660 s on contacts of 2,100 s; lee: 120 of 1,800.
        "occupancy": 0.285,
    });
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&row[name], value, "{name}");
    }
    assert_eq!(day["totals"]["offered"], 5);

    // Per queue and hour: sales at 09:00, support at 10:00, no occupancy.
    let hours = report(&server, acme, "from=2026-12-01&interval=hour&group=queue").await;
    assert_eq!(hours["intervals"].as_array().unwrap().len(), 24);
    let rows = hours["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0]["start"].as_str(), rows[0]["group"].as_str()),
        (Some("2026-12-01T09:00:00-06:00"), Some("sales"))
    );
    assert_eq!(
        (
            &rows[0]["offered"],
            &rows[0]["abandoned_short"],
            &rows[0]["service_level"]
        ),
        (&json!(4), &json!(1), &json!(0.333))
    );
    assert_eq!(
        (
            rows[1]["group"].as_str(),
            &rows[1]["offered"],
            &rows[1]["service_level"]
        ),
        (Some("support"), &json!(1), &json!(0.0))
    );
    assert_eq!(rows[0]["occupancy"], Value::Null);

    // Per agent: kim, lee and the contacts nobody answered ("").
    let agents = report(&server, acme, "from=2026-12-01&interval=day&group=agent").await;
    let by = |name: &str| {
        agents["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (&by("kim")["answered"], &by("kim")["occupancy"]),
        (&json!(2), &json!(0.471))
    );
    assert_eq!(
        (&by("lee")["answered"], &by("lee")["occupancy"]),
        (&json!(1), &json!(0.067))
    );
    assert_eq!(
        (&by("")["abandoned"], &by("")["refused"]),
        (&json!(2), &json!(1))
    );

    // The evening before is 30 November in Chicago; in UTC it is 1 December.
    let before = report(&server, acme, "from=2026-11-30&interval=day").await;
    assert_eq!(before["rows"][0]["abandoned"], 1);
    let utc = report(&server, acme, "from=2026-12-01&interval=day&tz=UTC").await;
    assert_eq!(utc["rows"][0]["abandoned"], 3);

    // A short-abandon threshold of 0 s makes no abandon short.
    let strict = report(
        &server,
        acme,
        "from=2026-12-01&interval=day&short_abandon_secs=0",
    )
    .await;
    assert_eq!(strict["rows"][0]["abandoned_short"], 0);

    // The other tenant sees its one contact, never acme's.
    let theirs = report(
        &server,
        other,
        "from=2026-12-01&interval=day&tz=America/Chicago",
    )
    .await;
    assert_eq!(
        (
            &theirs["rows"][0]["offered"],
            &theirs["rows"][0]["abandoned"]
        ),
        (&json!(1), &json!(1))
    );

    // CSV: a header and the same rows.
    let (status, csv) = bearer(
        &server,
        acme,
        "/api/v1/reports/intervals.csv?from=2026-12-01&interval=hour&group=queue",
    )
    .await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("start,group,offered,answered,abandoned,abandoned_short"));
    assert!(
        lines[1].starts_with("2026-12-01T09:00:00-06:00,sales,4,2,2,1,0,1,0.333,25,"),
        "{}",
        lines[1]
    );

    // Paging.
    let page = report(
        &server,
        acme,
        "from=2026-12-01&interval=hour&group=queue&per_page=1&page=2",
    )
    .await;
    assert_eq!(
        (page["total"].as_i64(), page["rows"][0]["group"].as_str()),
        (Some(2), Some("support"))
    );
    server.stop().await;
}

#[tokio::test]
async fn ranges_and_roles_are_bounded() {
    let (server, acme, _) = known_day().await;
    for (query, why) in [
        ("from=2026-01-01&to=2026-04-03", "at most 92 days"),
        ("from=2026-12-02&to=2026-12-01", "before from"),
        ("from=1.12.2026", "a date like"),
        ("interval=week", "15m, hour or day"),
        ("group=center", "none, queue, link or agent"),
        ("tz=Mars/Olympus", "unknown time zone"),
        ("short_abandon_secs=9999", "short_abandon_secs"),
        ("per_page=0", "per_page"),
    ] {
        let (status, body) =
            bearer(&server, acme, &format!("/api/v1/reports/intervals?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }
    // 92 days is fine.
    let (status, _) = bearer(
        &server,
        acme,
        "/api/v1/reports/intervals?from=2026-01-01&to=2026-04-02&interval=day",
    )
    .await;
    assert_eq!(status, 200);
    // An agent may not; a supervisor may; nobody without a login.
    let kim = server.staff("acme", "kim", "pw-kim").await;
    assert_eq!(kim.get("/api/v1/reports/intervals").await.0, 403);
    let r = reqwest::get(format!("{}/api/v1/reports/intervals.csv", server.agent))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

/// A quarter of contacts adds up over 92 days. With
/// `SWITCHBOARD_REPORT_CONTACTS_PER_DAY=1100` (101,200 contacts, a third
/// abandoned) it is the measurement in docs/benchmarks.md ("Reports"): run
/// it with `--no-capture` to see how long each report takes. By default 20 a
/// day, so the suite stays quick.
#[tokio::test]
async fn a_quarter_of_contacts_reports_in_time() {
    let (server, acme, _) = known_day().await;
    let store = &server.store;
    let t = store.tenant_by_slug("acme").await.unwrap().unwrap().id;
    let sales = store.link_by_slug(t, "sales").await.unwrap().unwrap().id;
    let kim = store.user_by_name(t, "kim").await.unwrap().unwrap().id;
    let start = at("00:00:00") - 91 * 86_400_000;
    let per_day: i64 = std::env::var("SWITCHBOARD_REPORT_CONTACTS_PER_DAY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let ids = store.reserve_contact_ids(92 * per_day).await.unwrap();
    let began = std::time::Instant::now();
    let mut writes = Vec::new();
    for (n, id) in ids.enumerate() {
        let n = i64::try_from(n).unwrap();
        let created = start + (n / per_day) * 86_400_000 + (n % per_day) * 60_000;
        let id = ContactId(id);
        writes.push(TimedWrite {
            at: created,
            write: ContactWrite::Create {
                id,
                new: NewContact::unknown(t, sales, ContactMedia::Chat),
            },
        });
        let answered = n % 3 != 0;
        if answered {
            writes.push(TimedWrite {
                at: created + 15_000,
                write: ContactWrite::Answered {
                    tenant: t,
                    contact: id,
                    agent: kim,
                },
            });
        }
        writes.push(TimedWrite {
            at: created + 200_000,
            write: ContactWrite::Ended {
                tenant: t,
                contact: id,
                outcome: if answered {
                    Outcome::Answered
                } else {
                    Outcome::Abandoned
                },
                awaiting_wrapup: false,
            },
        });
        if writes.len() >= 3_000 {
            store.write_contacts(&writes).await.unwrap();
            writes.clear();
        }
    }
    store.write_contacts(&writes).await.unwrap();
    eprintln!("stored {} contacts in {:?}", 92 * per_day, began.elapsed());
    for (query, what) in [
        (
            "from=2026-09-01&to=2026-12-01&interval=day&group=none",
            "92 days per day",
        ),
        (
            "from=2026-09-01&to=2026-12-01&interval=hour&group=agent",
            "92 days per hour and agent",
        ),
        (
            "from=2026-09-01&to=2026-12-01&interval=15m&group=queue&per_page=2000",
            "92 days per 15 min and queue",
        ),
        (
            "from=2026-12-01&interval=15m&group=queue",
            "one day per 15 min and queue",
        ),
    ] {
        let began = std::time::Instant::now();
        let report = report(&server, acme, query).await;
        eprintln!(
            "{what}: {:?}, {} rows, {} offered",
            began.elapsed(),
            report["total"],
            report["totals"]["offered"]
        );
        // Every stored contact of the range is counted: the tenant's time
        // zone may move the first day's out of a 92-day range, no more.
        let offered = report["totals"]["offered"].as_i64().unwrap();
        if what.starts_with("92 days") {
            assert!(
                (91 * per_day..=92 * per_day + 10).contains(&offered),
                "{what}: {offered} offered of {}",
                92 * per_day
            );
        }
    }
    server.stop().await;
}
