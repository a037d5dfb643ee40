use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn liveness_is_200() {
    let app = spawn_app().await;

    let response = app.get("/health/live").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_200_when_the_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/health/ready").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_503_once_the_database_is_gone() {
    let app = spawn_app().await;
    let database = app.database.as_ref().unwrap();
    database
        .execute(&format!(
            "REVOKE CONNECT ON DATABASE {name} FROM PUBLIC; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            name = database.name
        ))
        .await;

    let response = app.get("/health/ready").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let live = app.get("/health/live").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "liveness does not depend on the database");
}
