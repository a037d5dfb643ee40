//! The time of one presign: signing a PUT URL for a 100 KiB PNG with the store's keys, as
//! `POST /api/files` does for every upload (no network: signing is local). A plain timed loop
//! (BENCH.md), run with `cargo bench --bench presign`.

#![allow(clippy::expect_used, reason = "a benchmark fails loudly on a broken setup")]

use std::time::{Duration, Instant};

use tenantbase::{config::Config, storage::Storage};

const ROUNDS: u32 = 20_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let vars = [
            ("TB_S3_ENDPOINT", "http://127.0.0.1:9"),
            ("TB_S3_BUCKET", "bench"),
            ("TB_S3_ACCESS_KEY_ID", "bench-access-key"),
            ("TB_S3_SECRET_ACCESS_KEY", "bench-secret-key"),
        ];
        let config = Config::from_vars(vars).expect("a configuration");
        let storage = Storage::connect(config.storage.as_ref().expect("storage")).await.expect("a client");
        let (tenant, file) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let key = storage.key(tenant, file);
        let expiry = Duration::from_secs(900);
        for _ in 0..1000 {
            storage.presign_put(&key, "image/png", 102_400, expiry).await.expect("a presigned URL");
        }
        let mut samples = Vec::with_capacity(ROUNDS as usize);
        let started = Instant::now();
        for _ in 0..ROUNDS {
            let one = Instant::now();
            let signed = storage.presign_put(&key, "image/png", 102_400, expiry).await.expect("a presigned URL");
            std::hint::black_box(signed);
            samples.push(one.elapsed());
        }
        let total = started.elapsed();
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
        println!(
            "presign_put: {ROUNDS} rounds, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs ({:.0} per second on one thread)",
            total.as_secs_f64() * 1e6 / f64::from(ROUNDS),
            at(0.5),
            at(0.99),
            f64::from(ROUNDS) / total.as_secs_f64()
        );
    });
}
