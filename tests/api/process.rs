//! The binary as operators run it: what SIGINT and SIGTERM do to requests in flight, and what it
//! writes with `TB_LOG_FORMAT=json`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestDatabase, cli::Cli};

/// Sends a login request whose body is cut in two, signals the server between the halves, and
/// returns the response to the whole request.
async fn request_in_flight_across(signal: &str) -> String {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("TB_SHUTDOWN_TIMEOUT", "10");
    let served = cli.serve().await;
    let body = br#"{"email":"nobody@nowhere.test","password":"not-the-password"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", served.port)).await.unwrap();
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    served.signal(signal);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response)).await;
    assert!(read.is_ok(), "no answer within 10 s");

    let output = served.wait(Duration::from_secs(15)).await;
    assert!(output.status.success(), "exit after {signal}: {}\n{}", output.status, output.text());
    response
}

#[tokio::test]
async fn sigint_during_a_request_still_answers_it_then_the_server_exits() {
    let response = request_in_flight_across("INT").await;
    assert!(response.starts_with("HTTP/1.1 401"), "the request in flight was answered: {response:?}");
    assert!(response.contains("invalid_credentials"), "{response}");
}

#[tokio::test]
async fn sigterm_during_a_request_still_answers_it_then_the_server_exits() {
    let response = request_in_flight_across("TERM").await;
    assert!(response.starts_with("HTTP/1.1 401"), "the request in flight was answered: {response:?}");
}

#[tokio::test]
async fn with_json_logs_every_line_of_output_is_json() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("TB_LOG_FORMAT", "json").var("TB_LOG", "info");
    let served = cli.serve().await;
    let client = reqwest::Client::new();
    assert_eq!(client.get(served.url("/health/live")).send().await.unwrap().status(), StatusCode::OK);
    let missing = client.get(served.url("/api/no-such-route")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let port = served.port;
    served.signal("TERM");
    let output = served.wait(Duration::from_secs(15)).await;

    let lines: Vec<&str> = output.stdout.lines().chain(output.stderr.lines()).filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 3, "the server logged its start, requests and stop: {lines:?}");
    for line in &lines {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.as_ref().is_ok_and(Value::is_object), "not a JSON object: {line:?}");
    }
    let listening = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|event| event["message"] == "tenantbase listening");
    assert_eq!(listening.map(|event| event["port"].clone()), Some(port.into()), "{lines:?}");
}

#[tokio::test]
async fn a_killed_server_leaves_no_committed_change_without_its_audit_entry() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database)
        .var("TB_ADMIN_EMAIL", crate::helpers::PLATFORM_ADMIN_EMAIL)
        .var("TB_ADMIN_PASSWORD", crate::helpers::PLATFORM_ADMIN_PASSWORD);
    let served = cli.serve().await;
    let client = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = client.post(served.url(path)).header("host", "acme.localhost").json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let login = |email: &str, password: &str| serde_json::json!({"email": email, "password": password});
    let platform: Value = client
        .post(served.url("/api/auth/login"))
        .json(&login(crate::helpers::PLATFORM_ADMIN_EMAIL, crate::helpers::PLATFORM_ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let platform = platform["data"]["access_token"].as_str().unwrap().to_string();
    let tenant =
        serde_json::json!({"slug": "acme", "name": "Acme", "admin": login("admin@acme.test", "Acme-Admin-Pass-5501")});
    assert!(
        client
            .post(served.url("/api/tenants"))
            .bearer_auth(&platform)
            .json(&tenant)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let admin: Value = post("/api/auth/login", None, login("admin@acme.test", "Acme-Admin-Pass-5501"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = admin["data"]["access_token"].as_str().unwrap().to_string();
    let notes = serde_json::json!({"name": "notes", "fields": [{"name": "n", "type": "integer"}]});
    assert!(post("/api/collections", Some(&token), notes).await.unwrap().status().is_success());

    // Writers create notes as fast as they can; the server dies under them.
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (url, token, client) = (served.url("/api/items/notes"), token.clone(), client.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = 0;
            for n in 0.. {
                let request = client.post(&url).header("host", "acme.localhost").bearer_auth(&token);
                match request.json(&serde_json::json!({"n": writer * 100_000 + n})).send().await {
                    Ok(response) if response.status() == StatusCode::CREATED => acknowledged += 1,
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    served.signal("KILL");
    let mut acknowledged = 0;
    for writer in writers {
        acknowledged += writer.await.unwrap();
    }
    served.wait(Duration::from_secs(10)).await;

    let count = |sql: String| {
        let database = &database;
        async move { database.query_json(&sql).await[0].as_i64().unwrap() }
    };
    let notes_sql = "FROM items i JOIN collections c ON c.tenant_id = i.tenant_id AND c.id = i.collection_id \
                     WHERE c.name = 'notes'";
    let committed = count(format!("SELECT count(*)::text {notes_sql}")).await;
    let unrecorded = count(format!(
        "SELECT count(*)::text {notes_sql} AND NOT EXISTS (SELECT 1 FROM items a JOIN collections ac \
         ON ac.tenant_id = a.tenant_id AND ac.id = a.collection_id WHERE ac.name = 'tb_activity' \
         AND a.tenant_id = i.tenant_id AND a.data->>'action' = 'create' AND a.data->>'item' = i.id::text)"
    ))
    .await;
    assert!(acknowledged > 0 && committed >= acknowledged, "{acknowledged} acknowledged, {committed} committed");
    assert_eq!(unrecorded, 0, "of {committed} committed notes, {unrecorded} have no audit entry");
}
