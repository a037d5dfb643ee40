//! Files (API.md "Files") against s3s-fs, a real S3-protocol server that checks signatures: the
//! full flow, single and multipart; what the store refuses; what complete refuses; quotas;
//! cleanup; tenant deletion; the store going down; files in items; and isolation by attack.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    RequestExt, TestApp, assert_field_error, assert_problem, eventually,
    files::{Files, PNG, app_with_store, key, put, put_parts, put_with},
    items::{DataApi, Naming},
    json_body,
    s3::S3Server,
    spawn_app, tenant_host,
};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn without_storage_file_routes_answer_503_and_everything_else_works() {
    let app = spawn_app().await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    assert_problem(
        files.presign_response("a.png", "image/png", 10).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_not_configured",
    )
    .await;
    let id = uuid::Uuid::now_v7();
    assert_problem(
        files.complete_response(&id.to_string(), None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_not_configured",
    )
    .await;
    json_body(files.get("/api/files").await, StatusCode::OK).await;
    json_body(files.get("/api/tenant").await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_file_goes_from_presign_to_download_to_deletion() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);

    let presigned = files.presign("Grüße 🌍.png", "image/png", PNG.len()).await;
    let file = &presigned["data"];
    assert_eq!(file["status"], "pending");
    assert_eq!(file["filename"], "Grüße 🌍.png");
    assert_eq!(presigned["upload"]["method"], "PUT");
    let url = presigned["upload"]["url"].as_str().unwrap();
    assert!(url.contains(&key(admin.tenant.id, file)), "the key is tenant/file: {url}");
    assert!(!url.contains("Gr"), "the filename is never part of the key: {url}");
    assert!(presigned["upload"]["expires_at"].is_string());
    let id = file["id"].as_str().unwrap();

    let response = put(&presigned["upload"], PNG).await;
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let ready = json_body(files.complete_response(id, None).await, StatusCode::OK).await["data"].clone();
    assert_eq!(ready["status"], "ready");
    // Completing again answers the same ready file.
    let again = json_body(files.complete_response(id, None).await, StatusCode::OK).await["data"].clone();
    assert_eq!(again, ready);

    let listed = json_body(files.get("/api/files?meta=total_count").await, StatusCode::OK).await;
    assert_eq!(listed["meta"]["total_count"], 1);
    assert_eq!(listed["data"][0]["id"], id);
    let members: Vec<&str> = listed["data"][0].as_object().unwrap().keys().map(String::as_str).collect();
    for member in ["id", "filename", "content_type", "size", "status", "date_created", "user_created"] {
        assert!(members.contains(&member), "{member} in {members:?}");
    }
    assert!(!members.contains(&"upload_id") && !members.contains(&"expires_at"), "internal members leak: {members:?}");
    let one = json_body(files.get(&format!("/api/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(one["data"]["size"], PNG.len());

    let redirect = files.get(&format!("/api/files/{id}/download")).await;
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let download =
        json_body(files.get(&format!("/api/files/{id}/download?redirect=false")).await, StatusCode::OK).await;
    let download_url = download["data"]["url"].as_str().unwrap();
    assert!(download_url.contains("response-content-disposition=inline"), "{download_url}");
    assert!(download_url.contains("filename%2A%3DUTF-8%27%27Gr%25C3%25BC%25C3%259Fe"), "{download_url}");
    for url in [location.as_str(), download_url] {
        let fetched = reqwest::get(url).await.unwrap();
        assert_eq!(fetched.status(), StatusCode::OK);
        assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);
    }

    assert_eq!(files.delete(id).await.status(), StatusCode::NO_CONTENT);
    assert!(store.keys(&admin.tenant.id.to_string()).await.is_empty(), "the object is gone from the bucket");
    assert_problem(files.get(&format!("/api/files/{id}")).await, StatusCode::NOT_FOUND, "file_not_found").await;
    assert_problem(files.delete(id).await, StatusCode::NOT_FOUND, "file_not_found").await;
    assert_eq!(files.usage().await["storage_bytes"], 0);
}

#[tokio::test]
async fn a_large_file_is_a_multipart_upload_whose_parts_can_be_retried() {
    let store = S3Server::s3s_fs().await;
    let threshold = (6 * MIB).to_string();
    let part = (5 * MIB).to_string();
    let app =
        app_with_store(&store, &[("TB_FILES_MULTIPART_THRESHOLD", &threshold), ("TB_FILES_PART_SIZE", &part)]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let bytes: Vec<u8> = (0..11 * MIB + 17).map(|i| (i % 251) as u8).collect();

    let presigned = files.presign("video.bin", "application/octet-stream", bytes.len()).await;
    let upload = &presigned["upload"];
    assert_eq!(upload["method"], "multipart");
    assert_eq!(upload["part_size"], 5 * MIB);
    assert_eq!(upload["parts"].as_array().unwrap().len(), 3);
    let id = presigned["data"]["id"].as_str().unwrap();

    // A part cut short is refused by the store (its length is signed); sent again whole, it is taken.
    let first = &upload["parts"][0];
    let short = put_with(first["url"].as_str().unwrap(), &first["headers"], &bytes[..MIB]).await;
    assert!(short.status().is_client_error(), "a short part: {}", short.status());
    let parts = put_parts(upload, &bytes).await;

    // Completing without the parts says what it needs.
    assert_field_error(files.complete_response(id, None).await, "parts", Some("required")).await;
    let ready = json_body(files.complete_response(id, Some(parts)).await, StatusCode::OK).await;
    assert_eq!(ready["data"]["status"], "ready");
    assert_eq!(ready["data"]["size"], bytes.len());
    assert_eq!(store.object(&key(admin.tenant.id, &presigned["data"])).await.unwrap(), bytes);

    let download =
        json_body(files.get(&format!("/api/files/{id}/download?redirect=false")).await, StatusCode::OK).await;
    let fetched = reqwest::get(download["data"]["url"].as_str().unwrap()).await.unwrap();
    assert!(fetched.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(files.delete(id).await.status(), StatusCode::NO_CONTENT);
    assert!(store.keys(&admin.tenant.id.to_string()).await.is_empty());
}

#[tokio::test]
async fn the_store_refuses_uploads_that_differ_from_what_was_signed() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let files = Files::new(&app, &acme);

    // A different size, a different type, a tampered signature.
    let presigned = files.presign("a.png", "image/png", PNG.len()).await;
    let upload = &presigned["upload"];
    let object = key(acme.tenant.id, &presigned["data"]);
    let longer = [PNG, b"x"].concat();
    let refused = put(upload, &longer).await;
    assert!(refused.status().is_client_error(), "a longer body: {}", refused.status());
    let mut headers = upload["headers"].clone();
    headers["content-type"] = json!("text/html");
    let refused = put_with(upload["url"].as_str().unwrap(), &headers, PNG).await;
    assert!(refused.status().is_client_error(), "another type: {}", refused.status());
    let url = upload["url"].as_str().unwrap();
    let signature_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[signature_at..signature_at + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..signature_at], &url[signature_at + 1..]);
    let refused = put_with(&tampered, &upload["headers"], PNG).await;
    assert!(refused.status().is_client_error(), "a tampered signature: {}", refused.status());
    assert_eq!(store.object(&object).await, None, "nothing was stored");
    assert_problem(
        files.complete_response(presigned["data"]["id"].as_str().unwrap(), None).await,
        StatusCode::CONFLICT,
        "upload_incomplete",
    )
    .await;

    // Globex's URL pointed at acme's key.
    let theirs = Files::new(&app, &globex).presign("b.png", "image/png", PNG.len()).await;
    let their_key = key(globex.tenant.id, &theirs["data"]);
    let aimed = theirs["upload"]["url"].as_str().unwrap().replace(&their_key, &object);
    assert!(aimed.contains(&object));
    let refused = put_with(&aimed, &theirs["upload"]["headers"], PNG).await;
    assert!(refused.status().is_client_error(), "another tenant's URL: {}", refused.status());
    assert_eq!(store.object(&object).await, None, "nothing was stored under acme's key");
}

#[tokio::test]
async fn an_expired_upload_url_is_refused_by_the_store() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[("TB_FILES_UPLOAD_EXPIRY_SECONDS", "1")]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let presigned = files.presign("a.png", "image/png", PNG.len()).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let refused = put(&presigned["upload"], PNG).await;
    assert!(refused.status().is_client_error(), "an expired URL: {}", refused.status());
    assert_eq!(store.object(&key(admin.tenant.id, &presigned["data"])).await, None);
}

#[tokio::test]
async fn complete_checks_what_the_store_holds() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);

    // Nothing uploaded yet.
    let presigned = files.presign("a.png", "image/png", PNG.len()).await;
    let id = presigned["data"]["id"].as_str().unwrap();
    assert_problem(files.complete_response(id, None).await, StatusCode::CONFLICT, "upload_incomplete").await;

    // An object of another size at the key (written around the signed URL).
    let object = key(admin.tenant.id, &presigned["data"]);
    store.put_object(&object, "image/png", &[PNG, b"tail"].concat()).await;
    assert_problem(files.complete_response(id, None).await, StatusCode::CONFLICT, "upload_incomplete").await;
    let still = json_body(files.get(&format!("/api/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(still["data"]["status"], "pending");

    // HTML declared as a PNG: refused, its object deleted, its quota released.
    let html = b"<html><script>alert(document.cookie)</script></html>";
    let presigned = files.presign("cat.png", "image/png", html.len()).await;
    let id = presigned["data"]["id"].as_str().unwrap();
    assert!(put(&presigned["upload"], html).await.status().is_success());
    assert_problem(files.complete_response(id, None).await, StatusCode::UNPROCESSABLE_ENTITY, "content_mismatch").await;
    assert_eq!(store.object(&key(admin.tenant.id, &presigned["data"])).await, None, "the object was deleted");
    assert_problem(files.get(&format!("/api/files/{id}")).await, StatusCode::NOT_FOUND, "file_not_found").await;
    assert_eq!(files.usage().await["storage_bytes"], PNG.len(), "only the pending PNG holds quota");
}

#[tokio::test]
async fn a_files_upload_filter_can_refuse_a_file() {
    use tenantbase::hooks::{HookError, Register};
    let store = S3Server::s3s_fs().await;
    let mut builder = TestApp::builder().hooks(|hooks| {
        hooks.filter("files.upload", |_, file| {
            Box::pin(async move {
                match file["filename"].as_str() {
                    Some(name) if name.contains("eicar") => {
                        Err(HookError::new(422, "virus_found", "The file is infected."))
                    }
                    _ => Ok(file),
                }
            })
        });
    });
    for (name, value) in store.vars() {
        builder = builder.var(name, value);
    }
    let app = builder.spawn().await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let presigned = files.presign("eicar.txt", "text/plain", 5).await;
    assert!(put(&presigned["upload"], b"virus").await.status().is_success());
    let id = presigned["data"]["id"].as_str().unwrap();
    assert_problem(files.complete_response(id, None).await, StatusCode::UNPROCESSABLE_ENTITY, "virus_found").await;
    assert_eq!(store.object(&key(admin.tenant.id, &presigned["data"])).await, None);
    assert_problem(files.get(&format!("/api/files/{id}")).await, StatusCode::NOT_FOUND, "file_not_found").await;
    assert_eq!(files.usage().await["storage_bytes"], 0);
    assert_eq!(files.upload("clean.txt", "text/plain", b"clean").await["status"], "ready");
}

#[tokio::test]
async fn presigns_are_checked_against_the_plan_before_anything_is_signed() {
    let store = S3Server::s3s_fs().await;
    let app =
        app_with_store(&store, &[("TB_FILES_MAX_SIZE_FREE", "1000"), ("TB_FILES_TYPES_FREE", "image/*,text/plain")])
            .await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    assert_problem(
        files.presign_response("big.png", "image/png", 1001).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    )
    .await;
    assert_problem(
        files.presign_response("a.html", "text/html", 10).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        files.presign_response("a.pdf", "application/pdf", 10).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_field_error(files.presign_response("", "image/png", 10).await, "filename", Some("required")).await;
    assert_field_error(files.presign_response(&"x".repeat(256), "image/png", 10).await, "filename", Some("too_long"))
        .await;
    assert_field_error(files.presign_response("a\r\nb.png", "image/png", 10).await, "filename", Some("invalid")).await;
    assert_field_error(files.presign_response("a.png", "image/png; charset=x", 10).await, "content_type", None).await;
    let sneaky = json!({"filename": "a.png", "content_type": "image/png", "size": 10, "status": "ready"});
    let response = files.request(Method::POST, "/api/files").json(&sneaky).send().await.unwrap();
    assert!(response.status().is_client_error(), "an unknown member is refused: {}", response.status());
    let negative = json!({"filename": "a.png", "content_type": "image/png", "size": -1});
    let response = files.request(Method::POST, "/api/files").json(&negative).send().await.unwrap();
    assert!(response.status().is_client_error());
    // A pro tenant gets the pro plan's limits.
    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", admin.tenant.id))
        .await
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .unwrap();
    json_body(response, StatusCode::OK).await;
    files.presign("big.pdf", "application/pdf", 1001).await;
    assert!(store.keys("").await.is_empty(), "nothing was uploaded");
}

#[tokio::test]
async fn parallel_presigns_never_pass_the_quota() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[("TB_FILES_QUOTA_FREE", "1000")]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let names: Vec<String> = (0..20).map(|i| format!("{i}.png")).collect();
    let responses = join_all(names.iter().map(|name| files.presign_response(name, "image/png", 150))).await;
    let mut created = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            _ => {
                assert_problem(response, StatusCode::FORBIDDEN, "storage_quota_exceeded").await;
            }
        }
    }
    assert_eq!(created, 6, "exactly the six that fit in 1000 bytes");
    let usage = files.usage().await;
    assert_eq!(usage["storage_bytes"], 900);
    assert_eq!(usage["files"], 6);
    let listed = json_body(
        files.get("/api/files?filter={\"status\":{\"_eq\":\"pending\"}}&meta=total_count").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["meta"]["total_count"], 6);
}

#[tokio::test]
async fn expired_pending_uploads_are_swept_and_their_quota_released() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(
        &store,
        &[("TB_FILES_UPLOAD_EXPIRY_SECONDS", "1"), ("TB_FILES_CLEANUP_SCHEDULE", "* * * * * *")],
    )
    .await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let abandoned = files.presign("a.png", "image/png", PNG.len()).await;
    // Uploaded but never completed: the object goes too.
    assert!(put(&abandoned["upload"], PNG).await.status().is_success());
    let id = abandoned["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(files.usage().await["storage_bytes"], PNG.len());
    eventually(Duration::from_secs(20), "the sweep of the expired upload", || async {
        (files.get(&format!("/api/files/{id}")).await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert_eq!(files.usage().await["storage_bytes"], 0);
    assert_eq!(files.usage().await["files"], 0);
    assert_eq!(store.object(&key(admin.tenant.id, &abandoned["data"])).await, None);
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_objects_and_no_one_elses() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    for i in 0..3 {
        Files::new(&app, &acme).upload(&format!("{i}.txt"), "text/plain", b"acme").await;
    }
    let kept = Files::new(&app, &globex).upload("g.txt", "text/plain", b"globex").await;
    app.delete_tenant(&acme.tenant).await;
    let acme_prefix = acme.tenant.id.to_string();
    eventually(Duration::from_secs(20), "acme's objects to go", || async {
        store.keys(&acme_prefix).await.is_empty().then_some(())
    })
    .await;
    assert_eq!(store.keys(&globex.tenant.id.to_string()).await, [key(globex.tenant.id, &kept)]);
    let download = Files::new(&app, &globex)
        .get(&format!("/api/files/{}/download?redirect=false", kept["id"].as_str().unwrap()))
        .await;
    let url = json_body(download, StatusCode::OK).await["data"]["url"].as_str().unwrap().to_string();
    assert_eq!(reqwest::get(url).await.unwrap().bytes().await.unwrap().as_ref(), b"globex");
}

#[tokio::test]
async fn with_the_store_down_complete_answers_503_and_succeeds_once_it_is_back() {
    let mut store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let presigned = files.presign("a.png", "image/png", PNG.len()).await;
    assert!(put(&presigned["upload"], PNG).await.status().is_success());
    let id = presigned["data"]["id"].as_str().unwrap();

    store.stop().await;
    // Signing is local: presigning still answers.
    files.presign("b.png", "image/png", PNG.len()).await;
    let problem =
        assert_problem(files.complete_response(id, None).await, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            .await;
    assert!(!problem.to_string().contains("127.0.0.1"), "no internals: {problem}");
    assert_eq!(
        json_body(files.get(&format!("/api/files/{id}")).await, StatusCode::OK).await["data"]["status"],
        "pending"
    );
    assert_problem(files.delete(id).await, StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable").await;
    assert_eq!(
        json_body(files.get("/api/files?meta=total_count").await, StatusCode::OK).await["meta"]["total_count"],
        2,
        "no row lost"
    );

    store.start().await;
    let ready = json_body(files.complete_response(id, None).await, StatusCode::OK).await;
    assert_eq!(ready["data"]["status"], "ready");
    assert_eq!(files.delete(id).await.status(), StatusCode::NO_CONTENT, "the delete, retried, finishes");
}

#[tokio::test]
async fn file_fields_take_only_ready_files_of_the_same_tenant() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let files = Files::new(&app, &acme);
    let data = DataApi::new(&app, Naming::Host("acme".into()), Some(&acme.token));
    data.collection(
        &json!({"name": "posts", "fields": [{"name": "title", "type": "string"}, {"name": "cover", "type": "file"}]}),
    )
    .await;

    let ready = files.upload("cover.png", "image/png", PNG).await;
    let pending = files.presign("later.png", "image/png", PNG.len()).await["data"].clone();
    let theirs = Files::new(&app, &globex).upload("theirs.png", "image/png", PNG).await;
    for (id, what) in [
        (&pending["id"], "a pending file"),
        (&theirs["id"], "another tenant's file"),
        (&json!(uuid::Uuid::now_v7().to_string()), "no file"),
    ] {
        let response = data
            .request(Method::POST, "/api/items/posts")
            .json(&json!({"title": "x", "cover": id}))
            .send()
            .await
            .unwrap();
        let problem = assert_field_error(response, "cover", Some("file_not_ready")).await;
        assert!(problem.to_string().contains("cover"), "{what}: {problem}");
    }
    let post = json_body(
        data.request(Method::POST, "/api/items/posts")
            .json(&json!({"title": "x", "cover": ready["id"]}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await["data"]
        .clone();
    let post_path = format!("/api/items/posts/{}", post["id"].as_str().unwrap());
    let response = data.request(Method::PATCH, &post_path).json(&json!({"cover": theirs["id"]})).send().await.unwrap();
    assert_field_error(response, "cover", Some("file_not_ready")).await;

    let ready_id = ready["id"].as_str().unwrap();
    assert_problem(files.delete(ready_id).await, StatusCode::CONFLICT, "file_in_use").await;
    let forced = files.request(Method::DELETE, &format!("/api/files/{ready_id}?force=true")).send().await.unwrap();
    assert_eq!(forced.status(), StatusCode::NO_CONTENT);
    let post = json_body(data.request(Method::GET, &post_path).send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(post["data"]["cover"], Value::Null, "the reference was cleared");
}

/// Tenant B, by host, header and token, cannot read, list, filter, complete, download or delete
/// tenant A's file, nor guess its id.
#[tokio::test]
async fn another_tenant_gets_nothing_of_a_file() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let mine = Files::new(&app, &acme).upload("secret.png", "image/png", PNG).await;
    let pending = Files::new(&app, &acme).presign("pending.png", "image/png", PNG.len()).await["data"].clone();
    Files::new(&app, &globex).upload("theirs.txt", "text/plain", b"t").await;

    for id in [mine["id"].as_str().unwrap(), pending["id"].as_str().unwrap()] {
        let paths = [
            (Method::GET, format!("/api/files/{id}")),
            (Method::GET, format!("/api/files/{id}/download")),
            (Method::POST, format!("/api/files/{id}/complete")),
            (Method::DELETE, format!("/api/files/{id}")),
        ];
        for (method, path) in &paths {
            let by_host = app.request(method.clone(), path).host(&tenant_host("globex")).bearer_auth(&globex.token);
            let by_header = app.request(method.clone(), path).tenant_header("globex").bearer_auth(&globex.token);
            let by_token = app.request(method.clone(), path).bearer_auth(&globex.token);
            for request in [by_host, by_header, by_token] {
                assert_problem(request.send().await.unwrap(), StatusCode::NOT_FOUND, "file_not_found").await;
            }
            // Acme's host with globex's token is a mismatch, not a way in.
            let crossed = app.request(method.clone(), path).host(&tenant_host("acme")).bearer_auth(&globex.token);
            assert_problem(crossed.send().await.unwrap(), StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
        }
    }
    let theirs = Files::new(&app, &globex);
    let filter =
        format!("/api/files?filter={{\"id\":{{\"_eq\":\"{}\"}}}}&meta=total_count", mine["id"].as_str().unwrap());
    assert_eq!(json_body(theirs.get(&filter).await, StatusCode::OK).await["meta"]["total_count"], 0);
    let listed = json_body(theirs.get("/api/files?search=secret&meta=total_count").await, StatusCode::OK).await;
    assert_eq!(listed["meta"]["total_count"], 0);
    let all = json_body(theirs.get("/api/files").await, StatusCode::OK).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    assert_eq!(all["data"][0]["filename"], "theirs.txt");
    // Acme's file is untouched.
    let still = json_body(
        Files::new(&app, &acme).get(&format!("/api/files/{}", mine["id"].as_str().unwrap())).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["data"]["status"], "ready");
}

#[tokio::test]
async fn viewers_read_files_and_only_editors_upload_or_delete() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let file = Files::new(&app, &admin).upload("a.txt", "text/plain", b"a").await;
    let viewer = app.member(&admin, "viewer").await;
    let as_viewer =
        |method: Method, path: &str| app.request(method, path).host(&tenant_host("acme")).bearer_auth(viewer.token());
    let id = file["id"].as_str().unwrap();
    assert_eq!(as_viewer(Method::GET, &format!("/api/files/{id}")).send().await.unwrap().status(), StatusCode::OK);
    let body = json!({"filename": "b.txt", "content_type": "text/plain", "size": 1});
    assert_problem(
        as_viewer(Method::POST, "/api/files").json(&body).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        as_viewer(Method::DELETE, &format!("/api/files/{id}")).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/api/files").host(&tenant_host("acme")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn the_api_answers_cors_preflights_for_tenant_origins_only() {
    let app = TestApp::builder().var("TB_CORS_ORIGINS", "https://*.localhost").spawn().await;
    let preflight = |origin: &str| {
        app.request(Method::OPTIONS, "/api/files")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization,content-type")
    };
    let allowed = preflight("https://acme.localhost").send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://acme.localhost");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(allowed.headers()["access-control-allow-headers"], "authorization,content-type");
    let refused = preflight("https://evil.example").send().await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    let refused = preflight("http://acme.localhost").send().await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none(), "the scheme counts");

    // A custom domain of a tenant is allowed over HTTPS.
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["files.acme.example"]})).await;
    let custom = preflight("https://files.acme.example").send().await.unwrap();
    assert_eq!(custom.headers()["access-control-allow-origin"], "https://files.acme.example");
    // A real request from an allowed origin gets the header and the exposed ones.
    let response = app.get("/health/live").header("Origin", "https://acme.localhost").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "https://acme.localhost");
    assert!(response.headers()["access-control-expose-headers"].to_str().unwrap().contains("X-Request-Id"));
}

#[tokio::test]
async fn cached_file_metadata_follows_every_upload_completion_and_deletion() {
    let store = S3Server::s3s_fs().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let other = app.tenant_admin("other").await;
    let files = Files::new(&app, &admin);
    let ids = |list: Value| -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    let listed = async || json_body(files.get("/api/files").await, StatusCode::OK).await;
    assert!(ids(listed().await).is_empty());
    assert!(ids(listed().await).is_empty(), "warm");
    let presigned = files.presign("a.png", "image/png", PNG.len()).await;
    let id = presigned["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(ids(listed().await), vec![id.clone()], "a presign is seen at once");
    let path = format!("/api/files/{id}");
    assert_eq!(json_body(files.get(&path).await, StatusCode::OK).await["data"]["status"], "pending");
    assert!(put(&presigned["upload"], PNG).await.status().is_success());
    json_body(files.complete_response(&id, None).await, StatusCode::OK).await;
    let read = files.get(&path).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(json_body(read, StatusCode::OK).await["data"]["status"], "ready", "completion is seen at once");
    let unchanged = files.request(Method::GET, &path).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    // The other tenant, however warm A's answers are, sees none of A's files.
    let theirs = Files::new(&app, &other);
    assert!(ids(json_body(theirs.get("/api/files").await, StatusCode::OK).await).is_empty());
    assert_eq!(theirs.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(files.delete(&id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(files.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert!(ids(listed().await).is_empty(), "a deletion is seen at once");
}
