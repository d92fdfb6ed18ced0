//! Criterion benchmark: parse + validate + plan at 10 / 100 / 1 000 components.
//!
//! Each graph is a random DAG of `kind = "sim"` components (every node
//! depends on up to three earlier ones), generated from a fixed seed so runs
//! compare. `plan/full` measures what `sundown plan` does (parse and validate
//! the TOML, build the graph, plan the phases); `plan/graph+plan` the part
//! after parsing; `plan/parse` the parsing and validation alone.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sundown::{Config, Graph, Plan};

/// xorshift64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// TOML text of a random DAG of `n` sim components.
fn graph_toml(n: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut s = String::from("[supervisor]\nshutdown_timeout = \"25s\"\nstrategy = \"phased\"\n");
    for i in 0..n {
        let mut deps: Vec<usize> = Vec::new();
        if i > 0 {
            for _ in 0..rng.below(4) {
                let d = rng.below(i as u64) as usize;
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
        }
        let deps: Vec<String> = deps.iter().map(|d| format!("\"svc-{d}\"")).collect();
        let _ = write!(
            s,
            "\n[components.svc-{i}]\nkind = \"sim\"\nstart_delay = \"{}ms\"\nstop_delay = \"{}ms\"\nstop_timeout = \"{}s\"\ndepends_on = [{}]\n",
            rng.below(500),
            rng.below(2000),
            1 + rng.below(10),
            deps.join(", ")
        );
    }
    s
}

fn parse(text: &str) -> Config {
    match Config::parse(text, "bench.toml", Path::new("/base")) {
        Ok(config) => config,
        Err(e) => panic!("the generated config is invalid:\n{e}"),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for n in [10usize, 100, 1_000] {
        let text = graph_toml(n, 0x5eed_0000 + n as u64);
        let config = parse(&text);
        assert_eq!(config.components.len(), n);
        group.throughput(Throughput::Elements(n as u64));

        group.bench_with_input(BenchmarkId::new("full", n), &text, |b, text| {
            b.iter(|| {
                let config = parse(black_box(text));
                let graph = Graph::new(&config);
                let plan = Plan::new(&config, &graph);
                black_box((config, graph, plan))
            })
        });
        group.bench_with_input(BenchmarkId::new("graph+plan", n), &config, |b, config| {
            b.iter(|| {
                let graph = Graph::new(black_box(config));
                let plan = Plan::new(config, &graph);
                black_box((graph, plan))
            })
        });
        group.bench_with_input(BenchmarkId::new("parse", n), &text, |b, text| {
            b.iter(|| black_box(parse(black_box(text))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
