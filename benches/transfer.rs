//! The ownership rewrite at link time on Redis: `transfer` of 10, 1,000 and 10,000 resources
//! from a guest to an account (each iteration claims the resources for a fresh guest first,
//! outside the timed part). Run: `cargo bench --bench transfer` (Redis at `REDIS_URL`).

#[path = "support/redis_cleanup.rs"]
mod redis_cleanup;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;
use tower_anonymous_auth::store::OwnershipStore;
use tower_anonymous_auth::store::RedisStore;

fn bench_transfer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench-transfer:{}:", uuid::Uuid::new_v4().simple());
    let store = runtime.block_on(async {
        RedisStore::connect(&url)
            .await
            .expect("Redis at REDIS_URL")
            .with_prefix(prefix.clone())
    });
    let mut group = c.benchmark_group("transfer_redis");
    group.sample_size(10);
    for size in [10usize, 1_000, 10_000] {
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_batched(
                || {
                    let guest = uuid::Uuid::new_v4().simple().to_string();
                    runtime.block_on(async {
                        futures::stream::iter(0..size)
                            .map(|i| {
                                let (store, guest) = (store.clone(), guest.clone());
                                async move { store.claim(&format!("item:{guest}:{i}"), &guest).await }
                            })
                            .buffer_unordered(64)
                            .try_collect::<Vec<_>>()
                            .await
                            .expect("claims");
                    });
                    guest
                },
                |guest| {
                    let report = runtime
                        .block_on(store.transfer(&guest, "account"))
                        .expect("transfer");
                    assert_eq!(report.moved, size);
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    // Leave nothing behind in the shared Redis.
    runtime.block_on(redis_cleanup::delete_prefix(&url, &prefix));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    targets = bench_transfer
}
criterion_main!(benches);
