//! Cost of one rate-limit check in `MemoryStore` with many live buckets (one per client IP /64
//! that minted lately): `existing` checks a known bucket, `new_key` adds one (every check is a
//! new visitor's first mint).
//!
//! Run: `cargo bench --bench rate_limit` (figures: benches/README.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use tower_anonymous_auth::store::Store;
use tower_anonymous_auth::{MemoryStore, RateLimit};

const NOW: u64 = 1_700_000_000_000;

fn filled(live: usize, limit: RateLimit) -> MemoryStore {
    let store = MemoryStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..live {
            store
                .coordination()
                .unwrap()
                .rate_limit(&format!("mint:{i}"), limit, NOW)
                .await
                .unwrap();
        }
    });
    store
}

fn rate_checks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // One mint a minute, burst of one: every bucket stays live for the whole run.
    let limit = RateLimit::new(1, 1);
    let mut group = c.benchmark_group("memory_rate_check");
    for live in [1_000, 40_000] {
        let store = filled(live, limit);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("existing", live), &live, |b, &live| {
            b.to_async(&runtime).iter(|| {
                i = (i + 7919) % live;
                let key = format!("mint:{i}");
                let store = &store;
                async move {
                    black_box(
                        store
                            .coordination()
                            .unwrap()
                            .rate_limit(&key, limit, NOW)
                            .await
                            .unwrap(),
                    )
                }
            })
        });
        let mut next = live;
        group.bench_with_input(BenchmarkId::new("new_key", live), &live, |b, _| {
            b.to_async(&runtime).iter(|| {
                next += 1;
                let key = format!("new:{next}");
                let store = &store;
                async move {
                    black_box(
                        store
                            .coordination()
                            .unwrap()
                            .rate_limit(&key, limit, NOW)
                            .await
                            .unwrap(),
                    )
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, rate_checks);
criterion_main!(benches);
