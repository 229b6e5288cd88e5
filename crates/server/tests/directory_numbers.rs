//! Members and permanent numbers on the real store (SQLite, or PostgreSQL with
//! `SWITCHBOARD_TEST_POSTGRES`): random assignment in format, vanity numbers,
//! several per member, moves, the quarantine after release, SIP secrets
//! that follow the numbers, and tenant scoping.

mod common;

use std::time::Duration;

use common::TestServer;
use switchboard::config::Secret;
use switchboard::directory::{Directory, DirectoryError, NumberRequest, PermanentNumber};
use switchboard::ids::TenantId;
use switchboard::store::MemberQuery;

async fn setup(quarantine: Duration) -> (TestServer, Directory, TenantId, TenantId) {
    let server = TestServer::builder().without_demo().start().await;
    let store = server.store.clone();
    let acme = store
        .create_tenant("acme", "Acme", &Secret::new("s1".to_owned()))
        .await
        .unwrap()
        .id;
    let other = store
        .create_tenant("other", "Other", &Secret::new("s2".to_owned()))
        .await
        .unwrap()
        .id;
    let directory = Directory::new(store, quarantine);
    for (tenant, name) in [(acme, "ann"), (acme, "ben"), (other, "oz")] {
        directory
            .enrol(tenant, name, &name.to_uppercase(), None, true)
            .await
            .unwrap();
    }
    (server, directory, acme, other)
}

fn number(text: &str) -> PermanentNumber {
    PermanentNumber::parse(text).unwrap()
}

#[tokio::test]
async fn random_and_vanity_numbers_several_per_member() {
    let (server, dir, acme, other) = setup(Duration::from_hours(1)).await;
    let first = dir.assign(acme, "ann", NumberRequest::Any).await.unwrap();
    assert!(PermanentNumber::is_bare(first.digits()));
    let vanity = dir
        .assign(acme, "ann", NumberRequest::Vanity(number("7777 7777 7777")))
        .await
        .unwrap();
    assert_eq!(vanity.to_string(), "7777 7777 7777");
    let ann = dir.member(acme, "ann").await.unwrap();
    assert_eq!(ann.numbers.len(), 2);
    assert!(ann.numbers.contains(&"777777777777".to_owned()));

    // Taken: by anyone, in any tenant.
    for (tenant, who) in [(acme, "ben"), (other, "oz")] {
        let err = dir
            .assign(tenant, who, NumberRequest::Vanity(vanity.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, DirectoryError::Unavailable(_)), "{err}");
        assert_eq!(err.to_string(), "number 7777 7777 7777 is not available");
    }
    // Format errors are clear before the store is asked.
    let err = PermanentNumber::parse("1777 7777 7777").unwrap_err();
    assert_eq!(err.to_string(), "a number starts with a digit from 2 to 9");

    // A tenant cannot release, move or look up another tenant's number.
    assert!(matches!(
        dir.release(other, &vanity).await.unwrap_err(),
        DirectoryError::NoNumber(_)
    ));
    assert!(dir.move_number(other, &vanity, "oz").await.is_err());
    assert!(
        server
            .store
            .member_by_number(other, vanity.digits())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        server
            .store
            .member_by_number(acme, vanity.digits())
            .await
            .unwrap()
            .unwrap()
            .name,
        "ann"
    );
    // Nor move to a member of another tenant.
    assert!(matches!(
        dir.move_number(acme, &vanity, "oz").await.unwrap_err(),
        DirectoryError::NoMember(_)
    ));

    // An admin moves the vanity number to ben.
    dir.move_number(acme, &vanity, "ben").await.unwrap();
    assert_eq!(
        dir.member(acme, "ben").await.unwrap().numbers,
        vec![vanity.digits().to_owned()]
    );
    assert_eq!(
        dir.member(acme, "ann").await.unwrap().numbers,
        vec![first.digits().to_owned()]
    );
}

#[tokio::test]
async fn a_released_number_rests_in_quarantine() {
    let (_server, dir, acme, other) = setup(Duration::from_millis(300)).await;
    let n = number("2222 3333 4444");
    dir.assign(acme, "ann", NumberRequest::Vanity(n.clone()))
        .await
        .unwrap();
    dir.release(acme, &n).await.unwrap();
    assert!(dir.member(acme, "ann").await.unwrap().numbers.is_empty());
    // Not again, not to anyone, while it rests.
    for (tenant, who) in [(acme, "ann"), (acme, "ben"), (other, "oz")] {
        assert!(matches!(
            dir.assign(tenant, who, NumberRequest::Vanity(n.clone()))
                .await
                .unwrap_err(),
            DirectoryError::Unavailable(_)
        ));
    }
    // After the quarantine it is free again (waits on the clock the store uses).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match dir
            .assign(other, "oz", NumberRequest::Vanity(n.clone()))
            .await
        {
            Ok(_) => break,
            Err(DirectoryError::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("still unavailable after the quarantine: {e}"),
        }
    }
    assert_eq!(
        dir.member(other, "oz").await.unwrap().numbers,
        vec![n.digits().to_owned()]
    );
}

#[tokio::test]
async fn sip_secrets_are_hashes_and_follow_the_numbers() {
    let (_server, dir, acme, _other) = setup(Duration::from_mins(1)).await;
    let n = dir.assign(acme, "ann", NumberRequest::Any).await.unwrap();
    assert!(matches!(
        dir.set_sip_password(acme, "ann", "short")
            .await
            .unwrap_err(),
        DirectoryError::WeakPassword
    ));
    dir.set_sip_password(acme, "ann", "ann-sip-secret")
        .await
        .unwrap();
    let accounts = dir.sip_accounts().await.unwrap();
    let mut users: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    users.sort_unstable();
    let mut want = vec!["ann", n.digits()];
    want.sort_unstable();
    assert_eq!(users, want);
    for a in &accounts {
        assert_eq!(a.domain, "acme");
        assert_eq!(
            a.ha1_md5,
            sip::registrar::ha1_md5(&a.username, "ann-sip-secret")
        );
        assert_ne!(a.ha1_md5, "ann-sip-secret");
        assert_eq!(a.ha1_sha256.len(), 64);
    }
    // A number that moves no longer signs the old holder in.
    dir.move_number(acme, &n, "ben").await.unwrap();
    let users: Vec<String> = dir
        .sip_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(users, vec!["ann".to_owned()]);
}

#[tokio::test]
async fn members_are_searched_by_name_and_number_within_a_tenant() {
    let (server, dir, acme, other) = setup(Duration::from_mins(1)).await;
    dir.enrol(acme, "hidden", "Hidden Member", None, false)
        .await
        .unwrap();
    dir.assign(acme, "ben", NumberRequest::Vanity(number("3456 7890 1234")))
        .await
        .unwrap();
    let search = |search| MemberQuery {
        search,
        include_unlisted: false,
        limit: 50,
        offset: 0,
    };
    let names =
        |ms: Vec<switchboard::store::Member>| ms.into_iter().map(|m| m.name).collect::<Vec<_>>();
    assert_eq!(
        names(server.store.members(acme, search("")).await.unwrap()),
        ["ann", "ben"]
    );
    assert_eq!(
        names(server.store.members(acme, search("7890 12")).await.unwrap()),
        ["ben"]
    );
    assert_eq!(
        names(server.store.members(acme, search("AN")).await.unwrap()),
        ["ann"]
    );
    assert!(
        server
            .store
            .members(acme, search("%"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        server
            .store
            .members(other, search("ben"))
            .await
            .unwrap()
            .is_empty()
    );
    let all = MemberQuery {
        include_unlisted: true,
        ..search("")
    };
    assert_eq!(
        names(server.store.members(acme, all).await.unwrap()).len(),
        3
    );
    let page = MemberQuery {
        limit: 1,
        offset: 1,
        ..search("")
    };
    assert_eq!(
        names(server.store.members(acme, page).await.unwrap()),
        ["ben"]
    );
    // Names are checked; duplicates in one tenant refused, in another fine.
    assert!(matches!(
        dir.enrol(acme, "234567891011", "Digits", None, true)
            .await
            .unwrap_err(),
        DirectoryError::BadName
    ));
    assert!(dir.enrol(acme, "ann", "Again", None, true).await.is_err());
    dir.enrol(other, "ann", "Other Ann", None, true)
        .await
        .unwrap();
}
