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
