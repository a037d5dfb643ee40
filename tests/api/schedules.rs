//! Scheduled hooks (docs/hooks.md "Kinds", `schedule`): a per-tenant job runs once per active
//! tenant with that tenant's context and nothing else; a platform job runs once with the platform
//! handle and no tenant; of several instances on one database only one runs each due second; a
//! failing or panicking job keeps its schedule; an extension's job runs only where enabled.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantbase::{
    hooks::{ActionContext, Cron, HookError, Hooks, Register, ScheduleScope},
    services::item_query::ListParams,
};
use uuid::Uuid;

use crate::helpers::{TenantAdmin, TestApp, json_body};

/// Which instance ran a job, and at which second.
type Ticks = Arc<Mutex<Vec<(&'static str, DateTime<Utc>)>>>;

/// How long the tests let per-second jobs run.
const RUN_FOR: Duration = Duration::from_millis(3200);

fn every_second() -> Cron {
    "* * * * * *".parse().expect("a valid cron expression")
}

/// What one run of a job saw.
#[derive(Debug, Clone)]
struct Run {
    /// `ctx.tenant_id()`.
    tenant_id: Option<Uuid>,
    /// `ctx.tenant().map(|t| t.id)`.
    tenant: Option<Uuid>,
    slug: Option<String>,
    platform: bool,
    /// The titles `ctx.items("notes").list(..)` returned, or the error's code.
    notes: Result<Vec<String>, String>,
    at: DateTime<Utc>,
}

type Recorder = Arc<Mutex<Vec<Run>>>;

/// Lists the context's `notes` and records the run.
async fn record(ctx: ActionContext, runs: Recorder) -> Result<(), HookError> {
    let params = ListParams { limit: Some(1000), ..ListParams::default() };
    let notes = match ctx.items("notes").list(params).await {
        Ok(items) => Ok(items.iter().map(|item| item["title"].as_str().unwrap_or_default().to_string()).collect()),
        Err(error) => Err(HookError::from(error).code),
    };
    let run = Run {
        tenant_id: ctx.tenant_id(),
        tenant: ctx.tenant().map(|t| t.id),
        slug: ctx.tenant().map(|t| t.slug.clone()),
        platform: ctx.platform().is_some(),
        notes,
        at: Utc::now(),
    };
    runs.lock().unwrap().push(run);
    Ok(())
}

fn recording(runs: &Recorder, name: &'static str, scope: ScheduleScope) -> impl FnOnce(&mut Hooks) + 'static {
    let runs = runs.clone();
    move |hooks: &mut Hooks| {
        hooks.schedule(name, every_second(), scope, move |ctx| record(ctx, runs.clone()));
    }
}

/// Clears the recorder, lets the jobs run for `RUN_FOR` and returns what ran meanwhile.
async fn runs_during<T: Clone>(recorder: &Arc<Mutex<Vec<T>>>, wait: Duration) -> Vec<T> {
    recorder.lock().unwrap().clear();
    tokio::time::sleep(wait).await;
    recorder.lock().unwrap().clone()
}

fn notes_collection() -> Value {
    json!({"name": "notes", "fields": [{"name": "title", "type": "string", "required": true}]})
}

/// A tenant with its admin, a notes collection and one note titled `{slug}-marker`.
async fn tenant_with_note(app: &TestApp, slug: &str) -> TenantAdmin {
    let admin = app.tenant_admin(slug).await;
    app.data(&admin).collection(&notes_collection()).await;
    app.data(&admin).item("notes", &json!({"title": format!("{slug}-marker")})).await;
    admin
}

async fn put_settings(app: &TestApp, tenant: Uuid, settings: Value) {
    let path = format!("/api/tenants/{tenant}/settings");
    let response = app.as_platform(Method::PUT, &path).await.json(&settings).send().await.unwrap();
    json_body(response, StatusCode::OK).await;
}

fn slugs(runs: &[Run]) -> BTreeSet<String> {
    runs.iter().filter_map(|run| run.slug.clone()).collect()
}

fn count_by_slug(runs: &[Run]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for run in runs {
        *counts.entry(run.slug.clone().unwrap_or_else(|| "<platform>".into())).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn a_per_tenant_job_runs_for_each_active_tenant_with_only_that_tenants_context() {
    let runs = Recorder::default();
    let app = TestApp::builder().hooks(recording(&runs, "census", ScheduleScope::PerTenant)).spawn().await;
    let alpha = tenant_with_note(&app, "alpha").await;
    let bravo = tenant_with_note(&app, "bravo").await;
    let charlie = app.create_tenant("charlie").await;
    let suspended = tenant_with_note(&app, "delta").await;
    app.suspend(&suspended.tenant).await;
    let deleted = tenant_with_note(&app, "echo").await;
    app.delete_tenant(&deleted.tenant).await;

    let seen = runs_during(&runs, RUN_FOR).await;

    let expected: BTreeSet<String> = ["alpha", "bravo", "charlie"].iter().map(|s| s.to_string()).collect();
    assert_eq!(slugs(&seen), expected, "every active tenant and no other: {seen:#?}");
    let counts = count_by_slug(&seen);
    for slug in &expected {
        assert!(counts[slug] >= 2, "{slug} ran every second, {} times in {RUN_FOR:?}: {counts:?}", counts[slug]);
    }
    let ids = BTreeMap::from([("alpha", alpha.tenant.id), ("bravo", bravo.tenant.id), ("charlie", charlie.id)]);
    for run in &seen {
        let slug = run.slug.as_deref().unwrap_or_else(|| panic!("a per-tenant run without a tenant: {run:?}"));
        assert_eq!(run.tenant_id, Some(ids[slug]), "tenant_id() is the tenant's: {run:?}");
        assert_eq!(run.tenant, run.tenant_id, "tenant() and tenant_id() agree: {run:?}");
        assert!(!run.platform, "a tenant's job has no platform handle: {run:?}");
        match slug {
            "charlie" => assert_eq!(run.notes, Err("collection_not_found".into()), "charlie has no notes: {run:?}"),
            _ => assert_eq!(run.notes, Ok(vec![format!("{slug}-marker")]), "only the tenant's own note: {run:?}"),
        }
    }
    for run in &seen {
        for other in [suspended.tenant.id, deleted.tenant.id] {
            assert_ne!(run.tenant_id, Some(other), "a suspended or deleted tenant's job ran: {run:?}");
        }
    }
}

#[tokio::test]
async fn a_platform_job_runs_once_with_the_platform_handle_and_no_tenant() {
    let runs = Recorder::default();
    let app = TestApp::builder().hooks(recording(&runs, "platform-census", ScheduleScope::Platform)).spawn().await;
    tenant_with_note(&app, "alpha").await;
    tenant_with_note(&app, "bravo").await;

    let seen = runs_during(&runs, RUN_FOR).await;

    assert!(seen.len() >= 2, "the platform job ran every second: {seen:#?}");
    for run in &seen {
        assert_eq!((run.tenant_id, run.tenant, &run.slug), (None, None, &None), "no tenant: {run:?}");
        assert!(run.platform, "platform() is Some: {run:?}");
        assert_eq!(run.notes, Err("tenant_required".into()), "items(..) fails without a tenant: {run:?}");
    }
    let mut seconds: Vec<DateTime<Utc>> = seen.iter().map(|run| run.at.trunc_subsecs(0)).collect();
    seconds.sort();
    let before = seconds.len();
    seconds.dedup();
    assert_eq!(seconds.len(), before, "once per second, not once per tenant: {seen:#?}");
}

/// Records which instance ran the platform job at which moment.
fn clock(recorder: &Ticks, instance: &'static str) -> impl FnOnce(&mut Hooks) + 'static {
    let recorder = recorder.clone();
    move |hooks: &mut Hooks| {
        hooks.schedule("tick", every_second(), ScheduleScope::Platform, move |_ctx| {
            let recorder = recorder.clone();
            async move {
                recorder.lock().unwrap().push((instance, Utc::now()));
                Ok(())
            }
        });
    }
}

#[tokio::test]
async fn two_instances_on_one_database_run_each_second_once() {
    let ticks: Ticks = Arc::default();
    let first = TestApp::builder().hooks(clock(&ticks, "first")).spawn().await;
    let _second = first.second_instance().hooks(clock(&ticks, "second")).spawn().await;

    let seen = runs_during(&ticks, Duration::from_millis(4200)).await;

    assert!(seen.len() >= 3, "the job ran every second: {seen:?}");
    let mut by_second: BTreeMap<DateTime<Utc>, Vec<(&str, DateTime<Utc>)>> = BTreeMap::new();
    for (instance, at) in &seen {
        by_second.entry(at.trunc_subsecs(0)).or_default().push((instance, *at));
    }
    let twice: Vec<_> = by_second.iter().filter(|(_, runs)| runs.len() > 1).collect();
    assert!(twice.is_empty(), "a second ran more than once across the instances: {twice:?} (all: {seen:?})");
    assert!(by_second.len() >= 3, "runs happened in at least three seconds: {seen:?}");
}

/// Counts the runs of a job that fails in a way chosen by the run's number.
type Outcomes = Arc<Mutex<Vec<(Option<String>, &'static str)>>>;

#[tokio::test]
async fn a_job_that_fails_or_panics_keeps_running_on_schedule() {
    let outcomes = Outcomes::default();
    let (platform, per_tenant) = (outcomes.clone(), outcomes.clone());
    let app = TestApp::builder()
        .hooks(move |hooks| {
            // The platform job alternates: an error, a panic, an error, a panic, ...
            hooks.schedule("flaky", every_second(), ScheduleScope::Platform, move |_ctx| {
                let outcomes = platform.clone();
                async move {
                    let n = {
                        let mut outcomes = outcomes.lock().unwrap();
                        let n = outcomes.iter().filter(|(slug, _)| slug.is_none()).count();
                        outcomes.push((None, if n % 2 == 0 { "error" } else { "panic" }));
                        n
                    };
                    if n % 2 == 0 {
                        return Err(HookError::new(409, "flaky", "this run fails"));
                    }
                    panic!("this run panics");
                }
            });
            // The per-tenant job panics for alpha, fails for bravo and succeeds for charlie.
            hooks.schedule("per-tenant-flaky", every_second(), ScheduleScope::PerTenant, move |ctx| {
                let outcomes = per_tenant.clone();
                async move {
                    let slug = ctx.tenant().map(|t| t.slug.clone());
                    let outcome = match slug.as_deref() {
                        Some("alpha") => "panic",
                        Some("bravo") => "error",
                        _ => "ok",
                    };
                    outcomes.lock().unwrap().push((slug, outcome));
                    match outcome {
                        "panic" => panic!("alpha's run panics"),
                        "error" => Err(HookError::invalid("bravo_fails", "bravo's run fails")),
                        _ => Ok(()),
                    }
                }
            });
        })
        .spawn()
        .await;
    for slug in ["alpha", "bravo", "charlie"] {
        app.create_tenant(slug).await;
    }

    let seen = runs_during(&outcomes, Duration::from_millis(4200)).await;

    let platform_runs: Vec<&str> = seen.iter().filter(|(slug, _)| slug.is_none()).map(|(_, o)| *o).collect();
    assert!(
        platform_runs.len() >= 3,
        "after an error and a panic the platform job still runs every second: {platform_runs:?}"
    );
    assert!(platform_runs.contains(&"error") && platform_runs.contains(&"panic"), "{platform_runs:?}");
    let count = |name: &str| seen.iter().filter(|(slug, _)| slug.as_deref() == Some(name)).count();
    let (alpha, bravo, charlie) = (count("alpha"), count("bravo"), count("charlie"));
    assert!(alpha >= 3, "alpha's job panics and still runs every second: {seen:?}");
    assert!(bravo >= 3, "bravo's job fails and still runs every second: {seen:?}");
    assert!(charlie >= 3, "charlie's job runs every second after alpha's panic and bravo's failure: {seen:?}");
    assert!(alpha.abs_diff(charlie) <= 1 && bravo.abs_diff(charlie) <= 1, "every tenant in every run: {seen:?}");
}

#[tokio::test]
async fn an_extensions_job_runs_only_for_tenants_that_enable_it() {
    let nightly = Recorder::default();
    let weekly = Recorder::default();
    let (nightly_runs, weekly_runs) = (nightly.clone(), weekly.clone());
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.extension("nightly", false).schedule("nightly-job", every_second(), ScheduleScope::PerTenant, {
                move |ctx| record(ctx, nightly_runs.clone())
            });
            hooks.extension("weekly", true).schedule("weekly-job", every_second(), ScheduleScope::PerTenant, {
                move |ctx| record(ctx, weekly_runs.clone())
            });
        })
        .spawn()
        .await;
    let on = json!({"slug": "on", "name": "On", "settings": {"extensions": {"nightly": true}}});
    let off = json!({"slug": "off", "name": "Off", "settings": {"extensions": {"nightly": false, "weekly": false}}});
    app.create_tenant_from(on).await;
    app.create_tenant_from(off).await;
    let silent = app.create_tenant("silent").await;

    weekly.lock().unwrap().clear();
    let nightly_seen = runs_during(&nightly, RUN_FOR).await;
    let weekly_seen = weekly.lock().unwrap().clone();

    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    assert_eq!(slugs(&nightly_seen), set(&["on"]), "off by default, on where enabled: {nightly_seen:#?}");
    assert!(count_by_slug(&nightly_seen)["on"] >= 2, "{nightly_seen:#?}");
    assert_eq!(slugs(&weekly_seen), set(&["on", "silent"]), "on by default, off where disabled: {weekly_seen:#?}");

    // Enabling it in a tenant's settings takes effect for the next runs.
    put_settings(&app, silent.id, json!({"extensions": {"nightly": true}})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let nightly_seen = runs_during(&nightly, Duration::from_millis(2200)).await;
    assert_eq!(slugs(&nightly_seen), set(&["on", "silent"]), "{nightly_seen:#?}");
}

/// When each run of a job started and ended (`None` while running or stopped), by tenant slug.
type Spans = Arc<Mutex<Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>>>;

/// A per-tenant job that runs every second and takes `work(slug)` each time, recording its spans.
fn timed_job(spans: &Spans, name: &'static str, work: fn(&str) -> Duration) -> impl FnOnce(&mut Hooks) + 'static {
    let spans = spans.clone();
    move |hooks: &mut Hooks| {
        hooks.schedule(name, every_second(), ScheduleScope::PerTenant, move |ctx| {
            let spans = spans.clone();
            async move {
                let slug = ctx.tenant().map(|t| t.slug.clone()).unwrap_or_default();
                let index = {
                    let mut spans = spans.lock().unwrap();
                    spans.push((slug.clone(), Utc::now(), None));
                    spans.len() - 1
                };
                tokio::time::sleep(work(&slug)).await;
                spans.lock().unwrap()[index].2 = Some(Utc::now());
                Ok(())
            }
        });
    }
}

#[tokio::test]
async fn a_slow_tenants_job_does_not_delay_another_tenants() {
    let spans = Spans::default();
    // Tenants run in slug order: `aaa` first, slow; `zzz` after it, quick.
    let job = timed_job(&spans, "census", |slug| Duration::from_secs(if slug == "aaa" { 4 } else { 0 }));
    let app = TestApp::builder().hooks(job).spawn().await;
    app.create_tenant("aaa").await;
    app.create_tenant("zzz").await;

    let seen = runs_during(&spans, RUN_FOR).await;

    let quick: Vec<&DateTime<Utc>> =
        seen.iter().filter(|(slug, ..)| slug == "zzz").map(|(_, start, _)| start).collect();
    assert!(quick.len() >= 2, "zzz ran every second beside aaa's slow run: {seen:?}");
    for start in quick {
        let late = *start - start.trunc_subsecs(0);
        assert!(late < chrono::Duration::milliseconds(700), "zzz's run started {late} after its second: {seen:?}");
    }
}

#[tokio::test]
async fn a_run_still_going_is_not_started_again_and_a_run_past_its_deadline_is_stopped() {
    let spans = Spans::default();
    // Every run would take 30 s; the deadline stops each after 2 s.
    let job = timed_job(&spans, "long", |_| Duration::from_secs(30));
    let app = TestApp::builder().var("TB_SCHEDULE_TIMEOUT_SECONDS", "2").hooks(job).spawn().await;
    app.create_tenant("acme").await;

    let seen = runs_during(&spans, Duration::from_millis(5500)).await;

    let starts: Vec<DateTime<Utc>> = seen.iter().map(|(_, start, _)| *start).collect();
    assert!((2..=3).contains(&starts.len()), "one run at a time, each stopped at its deadline: {seen:?}");
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= chrono::Duration::milliseconds(1500), "a run started while the previous went on: {seen:?}");
    }
    assert!(seen.iter().all(|(_, _, end)| end.is_none()), "no run reached its end: {seen:?}");
}

#[tokio::test]
async fn old_claims_are_dropped_whatever_seconds_the_job_runs_at() {
    let runs = Recorder::default();
    let app = TestApp::builder()
        .hooks(move |hooks: &mut Hooks| {
            // Never at second 0.
            let cron: Cron = "1-59 * * * * *".parse().unwrap();
            hooks.schedule("odd", cron, ScheduleScope::Platform, move |ctx| record(ctx, runs.clone()));
        })
        .spawn()
        .await;
    let database = app.database.as_ref().unwrap();
    let old = (Utc::now() - chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S%.6fZ");
    database.execute(&format!("INSERT INTO schedule_runs (job, run_at) VALUES ('odd', '{old}')")).await;
    let sql = format!("SELECT count(*)::text FROM schedule_runs WHERE job = 'odd' AND run_at = '{old}'");
    let count_old = || database.query_json(&sql);
    assert_eq!(count_old().await[0], 1);

    crate::helpers::eventually(Duration::from_secs(5), "the old claim to be dropped", || async {
        (count_old().await[0] == 0).then_some(())
    })
    .await;
}
