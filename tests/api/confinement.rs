//! What extension code is handed, checked at run time (the compile-time side is the
//! `compile_fail` examples of `tenantbase::hooks::confinement`): the platform handle reaches
//! only platform schedule jobs, never an action hook, whatever its event and whoever caused it.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;
use tenantbase::hooks::{Cron, Register, ScheduleScope};

use crate::helpers::{PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, TestApp, eventually, json_body};

/// Whether each hook's context held the platform handle, by the hook's name.
type Platform = Arc<Mutex<BTreeMap<String, Vec<bool>>>>;

fn record(platform: &Platform, name: &str, holds_it: bool) {
    platform.lock().unwrap().entry(name.to_string()).or_default().push(holds_it);
}

#[tokio::test]
async fn only_a_platform_schedule_job_gets_the_platform_handle() {
    let platform = Platform::default();
    let seen = platform.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            for event in ["items.create", "auth.login", "users.create", "tenants.create", "tenants.update"] {
                let seen = seen.clone();
                hooks.action(event, move |ctx, _| {
                    let seen = seen.clone();
                    async move {
                        let who = if ctx.tenant().is_some() { "tenant" } else { "no tenant" };
                        record(&seen, &format!("{} ({who})", ctx.event), ctx.platform().is_some());
                        Ok(())
                    }
                });
            }
            let every_second: Cron = "* * * * * *".parse().unwrap();
            for (name, scope) in [("platform job", ScheduleScope::Platform), ("tenant job", ScheduleScope::PerTenant)] {
                let seen = seen.clone();
                hooks.schedule(name, every_second.clone(), scope, move |ctx| {
                    let seen = seen.clone();
                    async move {
                        record(&seen, name, ctx.platform().is_some());
                        Ok(())
                    }
                });
            }
        })
        .spawn()
        .await;
    let admin = app.tenant_admin("acme").await;
    app.data(&admin).collection(&json!({"name": "notes", "fields": [{"name": "title", "type": "string"}]})).await;
    app.data(&admin).item("notes", &json!({"title": "a"})).await;
    let user = json!({"email": "ed@acme.test", "password": "Editor-Pass-4821", "role": "editor"});
    let response = app.data(&admin).request(reqwest::Method::POST, "/api/users").json(&user).send().await.unwrap();
    json_body(response, StatusCode::CREATED).await;
    // A platform admin logging in: an event with no tenant, caused by the platform's own admin.
    let login = app.login(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    json_body(login, StatusCode::OK).await;

    let expected = [
        "items.create (tenant)",
        "auth.login (tenant)",
        "auth.login (no tenant)",
        "users.create (tenant)",
        "tenants.create (tenant)",
        "platform job",
        "tenant job",
    ];
    let seen = eventually(Duration::from_secs(10), "every hook to run", || {
        let seen = platform.lock().unwrap().clone();
        let all = expected.iter().all(|name| seen.contains_key(*name));
        async move { all.then_some(seen) }
    })
    .await;
    for (name, held) in &seen {
        let should = name == "platform job";
        assert!(held.iter().all(|h| *h == should), "{name}: platform handle held {held:?}, expected {should}");
    }
}

/// Extension code that tries to leave its tenant does not compile: each file of
/// `tests/ui/confinement/` is compiled as a crate of its own against `tenantbase`, exactly as an
/// extension is, and must fail with the error its `.stderr` file records (a private method or
/// field). The file in `pass/` does what extensions may do and must compile and run.
#[test]
fn extension_code_that_tries_to_leave_its_tenant_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/confinement/pass/*.rs");
    cases.compile_fail("tests/ui/confinement/*.rs");
}
