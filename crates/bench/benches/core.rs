//! The native core on the benchmark requests (criterion): the policy's own cost without any
//! wasm runtime around it.

// criterion's macros generate the bench harness's functions, undocumented.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn core(c: &mut Criterion) {
    let mut group = c.benchmark_group("native core validate");
    for (name, n, payload) in image_digest_bench::requests() {
        group.bench_with_input(BenchmarkId::new(name, n), &payload, |b, p| {
            b.iter(|| image_digest_policy::validate(p))
        });
    }
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
