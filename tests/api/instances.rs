//! Instances on one database acting as one (DESIGN.md principle 5): a write or a definition
//! change through one is visible on the next read through another; the plan's rate limit holds
//! for all of them together and follows instances joining and leaving; and an instance whose
//! change listener is cut never serves what changed meanwhile.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{RequestExt, TenantAdmin, TestApp, items::articles_collection, json_body, tenant_host};

/// Long enough for every instance's heartbeat to have counted the others.
const SETTLE: Duration = Duration::from_millis(2_500);

fn titles(list: &Value) -> Vec<String> {
    let mut titles: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect();
    titles.sort();
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_is_read_through_another_on_the_very_next_request() {
    let one = TestApp::builder().spawn().await;
    let two = one.second_instance().spawn().await;
    let admin = one.tenant_admin("acme").await;
    one.data(&admin).collection(&articles_collection()).await;
    let first = one.data(&admin).item("articles", &json!({"title": "first"})).await;
    let first = first["id"].as_str().unwrap();
    let on_two = two.data(&admin);
    assert_eq!(titles(&on_two.listed("articles", &[]).await), ["first"]);
    json_body(on_two.get("articles", first).await, StatusCode::OK).await;

    // Each read comes right after the write's response, with the second instance's answers
    // warm: no waiting, no retry.
    let mut expected = vec!["first".to_string()];
    for round in 0..20 {
        let title = format!("written {round}");
        let created = one.data(&admin).item("articles", &json!({"title": title})).await;
        expected.push(title.clone());
        expected.sort();
        assert_eq!(titles(&on_two.listed("articles", &[]).await), expected, "the create, round {round}");
        let id = created["id"].as_str().unwrap();
        json_body(on_two.get("articles", id).await, StatusCode::OK).await;
        let patched = one.data(&admin).patch("articles", id, &json!({"title": format!("{title}!")})).await;
        assert_eq!(patched.status(), StatusCode::OK);
        let read = json_body(on_two.get("articles", id).await, StatusCode::OK).await;
        assert_eq!(read["data"]["title"], format!("{title}!"), "the update, round {round}");
        assert_eq!(one.data(&admin).delete("articles", id).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(on_two.get("articles", id).await.status(), StatusCode::NOT_FOUND, "the delete, round {round}");
        expected.retain(|t| *t != title);
        assert_eq!(titles(&on_two.listed("articles", &[]).await), expected, "the list after the delete");
    }
    let rating = json!({"fields": [{"name": "rating", "type": "integer"}]});
    let added = one.data(&admin).patch_collection("articles", &rating).await;
    assert_eq!(added.status(), StatusCode::OK);
    let listed = on_two.listed("articles", &[]).await;
    assert!(listed["data"][0].as_object().unwrap().contains_key("rating"), "the definition change: {listed}");
}

/// A listener that hears late: the second instance's listening backend is paused (SIGSTOP), so
/// the write's notice cannot reach it. Its warm answer must still not be served once the
/// write's response is out; once the backend runs again, the instance is back to normal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_listener_hears_late_never_serves_an_answer_from_before_a_write() {
    let one = TestApp::builder().spawn().await;
    let two = one.second_instance().spawn().await;
    let admin = one.tenant_admin("acme").await;
    one.data(&admin).collection(&articles_collection()).await;
    let created = one.data(&admin).item("articles", &json!({"title": "before"})).await;
    let id = created["id"].as_str().unwrap();
    let on_two = two.data(&admin);
    let title = |read: Value| read["data"]["title"].as_str().unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(title(json_body(on_two.get("articles", id).await, StatusCode::OK).await), "before");
    }
    // The second instance's listener is the newest LISTEN connection of the database.
    let database = one.database.as_ref().unwrap();
    let pid = database
        .query_json(
            "SELECT pid::text FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'
             ORDER BY backend_start DESC LIMIT 1",
        )
        .await;
    let pid = pid[0].to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill").args([name, &pid]).status().expect("kill runs");
        assert!(status.success(), "kill {name} {pid}");
    };
    signal("-STOP");
    let patched = one.data(&admin).patch("articles", id, &json!({"title": "after"})).await;
    let read = on_two.get("articles", id).await;
    signal("-CONT");
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(title(json_body(read, StatusCode::OK).await), "after", "the read through the late instance");

    for round in 0..3 {
        let next = format!("after {round}");
        let patched = one.data(&admin).patch("articles", id, &json!({"title": next})).await;
        assert_eq!(patched.status(), StatusCode::OK);
        assert_eq!(title(json_body(on_two.get("articles", id).await, StatusCode::OK).await), next);
    }
}

/// Sends `count` reads of the tenant round-robin over `apps` and counts the 200s.
async fn passed(apps: &[&TestApp], admin: &TenantAdmin, count: usize) -> usize {
    let mut passed = 0;
    for i in 0..count {
        let app = apps[i % apps.len()];
        let response =
            app.get("/api/tenant").host(&tenant_host(admin.slug())).bearer_auth(&admin.token).send().await.unwrap();
        match response.status() {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    passed
}

fn limited(builder: crate::helpers::TestAppBuilder) -> crate::helpers::TestAppBuilder {
    builder.var("TB_RATE_LIMIT_TENANT_FREE", "60").var("TB_RATE_LIMIT_CALLER_FREE", "100000")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_three_instances_together_stay_within_the_plans_limit() {
    let one = limited(TestApp::builder()).spawn().await;
    let two = limited(one.second_instance()).spawn().await;
    let admin = one.tenant_admin("acme").await;
    tokio::time::sleep(SETTLE).await;
    let total = passed(&[&one, &two], &admin, 200).await;
    assert!((54..=66).contains(&total), "two instances let {total} of a 60/min quota through");

    let other = one.tenant_admin("beta").await;
    let three = limited(one.second_instance()).spawn().await;
    tokio::time::sleep(SETTLE).await;
    let total = passed(&[&one, &two, &three], &other, 200).await;
    assert!((54..=66).contains(&total), "three instances let {total} of a 60/min quota through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stops_hands_its_share_to_the_others() {
    let one = limited(TestApp::builder()).spawn().await;
    let two = limited(one.second_instance()).spawn().await;
    let admin = one.tenant_admin("acme").await;
    tokio::time::sleep(SETTLE).await;
    let alone = passed(&[&one], &admin, 100).await;
    assert!((27..=33).contains(&alone), "one of two instances enforces half the quota: {alone}");
    two.stop().await;
    let rows = one.database.as_ref().unwrap().query_json("SELECT count(*)::text FROM instances").await;
    assert_eq!(rows, [json!(1)], "the stopped instance left at once");
    tokio::time::sleep(SETTLE).await;
    let other = one.tenant_admin("beta").await;
    let total = passed(&[&one], &other, 100).await;
    assert!((54..=66).contains(&total), "the remaining instance now enforces the whole quota: {total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_listener_is_cut_never_serves_a_change_it_did_not_hear() {
    let one = TestApp::builder().spawn().await;
    let two = one.second_instance().spawn().await;
    let admin = one.tenant_admin("acme").await;
    let read = |app: &TestApp| app.get("/api/tenant").host(&tenant_host("acme")).bearer_auth(&admin.token).send();
    for _ in 0..3 {
        assert_eq!(read(&one).await.unwrap().status(), StatusCode::OK, "warm on the first instance");
    }
    // The first instance's listener is the oldest LISTEN connection of the database.
    let database = one.database.as_ref().unwrap();
    let killed = database
        .query_json(
            "SELECT pg_terminate_backend(pid, 5000)::text FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'
             ORDER BY backend_start LIMIT 1",
        )
        .await;
    assert_eq!(killed, [json!(true)]);
    two.suspend(&admin.tenant).await;
    let response = read(&one).await.unwrap();
    assert_eq!(json_body(response, StatusCode::FORBIDDEN).await["code"], "tenant_suspended");
    // Reconnected (its backoff starts at 100 ms), it trusts its caches again and serves every
    // change from the next request on.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for _ in 0..3 {
        two.resume(&admin.tenant).await;
        assert_eq!(read(&one).await.unwrap().status(), StatusCode::OK, "the resumption");
        assert_eq!(read(&one).await.unwrap().status(), StatusCode::OK, "warm again");
        two.suspend(&admin.tenant).await;
        assert_eq!(read(&one).await.unwrap().status(), StatusCode::FORBIDDEN, "the suspension");
    }
}
