//! Criterion benchmarks, one group per stage of the data flow plus end to end, each
//! parameterised by episodes, messages per episode or samples:
//! read + validate → flatten (CSR) → sample + evaluate → encode (the kernels' layout) →
//! reduce → end to end.
//! Run with `cargo bench`; `creditflow bench` prints the headline marginals/s.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use creditflow::csr::CsrBatch;
use creditflow::estimate::SampleOptions;
use creditflow::estimate::permutation::{self, Walk, Welford};
use creditflow::game::{Level, Mobius, ModelParams, Surrogate};
use creditflow::generate::{GenOptions, Topology, episode};
use creditflow::io::jsonl::{parse_and_validate, run_score};
use creditflow::options::BackendChoice;
use creditflow::options::ValidateOptions;
use creditflow::options::{Method, RunOptions, ScoreOptions};
use creditflow::workloads::{generated_episodes, random_mobius};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn spec(episodes: u64, messages: u32) -> GenOptions {
    GenOptions {
        episodes,
        agents: 4,
        messages,
        topology: Topology::Prefix,
        ..GenOptions::default()
    }
}

fn jsonl(spec: &GenOptions) -> Vec<String> {
    (0..spec.episodes)
        .map(|i| serde_json::to_string(&episode(spec, i)).expect("generated records serialize"))
        .collect()
}

fn read_validate(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_validate");
    for messages in [8u32, 32, 128] {
        let lines = jsonl(&spec(200, messages));
        let bytes: usize = lines.iter().map(String::len).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(
            BenchmarkId::new("messages", messages),
            &lines,
            |b, lines| {
                b.iter(|| {
                    for (i, l) in lines.iter().enumerate() {
                        black_box(
                            parse_and_validate(l, i as u64 + 1, &ValidateOptions::default())
                                .unwrap(),
                        );
                    }
                })
            },
        );
    }
    g.finish();
}

fn flatten(c: &mut Criterion) {
    let mut g = c.benchmark_group("flatten");
    for episodes in [100u64, 1000] {
        let eps = generated_episodes(&spec(episodes, 32));
        g.throughput(Throughput::Elements(episodes));
        g.bench_with_input(BenchmarkId::new("episodes", episodes), &eps, |b, eps| {
            b.iter(|| black_box(CsrBatch::from_episodes(eps).unwrap()))
        });
    }
    g.finish();
}

fn sample_evaluate(c: &mut Criterion) {
    let mut g = c.benchmark_group("sample_evaluate");
    let opts = |samples| SampleOptions {
        samples,
        ..SampleOptions::default()
    };
    let terms = random_mobius(64, 200, 3, 1);
    for samples in [64u64, 512] {
        g.throughput(Throughput::Elements(samples * 64));
        for how in [Walk::Incremental, Walk::FromScratch] {
            g.bench_with_input(
                BenchmarkId::new(format!("mobius64/{how:?}"), samples),
                &samples,
                |b, &s| {
                    let mut game = Mobius::new(64, &terms);
                    b.iter(|| black_box(permutation::shapley_walk(&mut game, 0, 0, &opts(s), how)))
                },
            );
        }
    }
    for messages in [8u32, 32, 128] {
        let eps = generated_episodes(&spec(1, messages));
        let batch = CsrBatch::from_episodes(&eps).unwrap();
        let view = batch.episode(0);
        let samples = 128;
        g.throughput(Throughput::Elements(
            samples * view.meta.player_count as u64,
        ));
        for how in [Walk::Incremental, Walk::FromScratch] {
            if how == Walk::FromScratch && view.meta.player_count > 64 {
                continue;
            }
            g.bench_with_input(
                BenchmarkId::new(format!("episode_messages/{how:?}"), messages),
                &view,
                |b, view| {
                    let mut game = Surrogate::new(*view, ModelParams::default(), Level::Messages);
                    b.iter(|| {
                        black_box(permutation::shapley_walk(
                            &mut game,
                            0,
                            0,
                            &opts(samples),
                            how,
                        ))
                    })
                },
            );
        }
    }
    g.finish();
}

/// Laying out the chunks the kernels read (GPU and CPU twins alike): 2,000 Möbius games
/// (n = 64, 200 terms) and 1,024 chat-20 episodes, 512 pairs each.
fn encode(c: &mut Criterion) {
    use creditflow::engine::chunks::{self, ChunkLimits, Request};
    use creditflow::engine::{Estimator, GameBatch, Job, JobGame, JobShape, encode};
    use creditflow::model::{Game, GameForm};
    let mut g = c.benchmark_group("encode");
    let mobius: Vec<Game> = (0..2000u64)
        .map(|k| Game {
            id: k.to_string(),
            line: k + 1,
            key: k,
            players: 64,
            form: GameForm::Mobius(random_mobius(64, 200, 3, k)),
        })
        .collect();
    let games = GameBatch::new(&mobius.iter().collect::<Vec<_>>()).unwrap();
    let chats = generated_episodes(&GenOptions {
        episodes: 1024,
        agents: 3,
        messages: 20,
        topology: Topology::Prefix,
        ..GenOptions::default()
    });
    let csr = CsrBatch::from_episodes(&chats).unwrap();
    let job = |record: usize, game: JobGame| Job {
        estimator: Estimator::Permutation,
        record: record as u32,
        key: record as u64,
        tag: 0,
        game,
        control: None,
        pairs: None,
    };
    let cases = [
        (
            "mobius64",
            CsrBatch::default(),
            &games,
            (0..2000)
                .map(|k| job(0, JobGame::Mobius(k)))
                .collect::<Vec<_>>(),
        ),
        (
            "chat20",
            csr,
            &GameBatch::default(),
            (0..1024).map(|r| job(r, JobGame::SurrogateOwen)).collect(),
        ),
    ];
    let model = ModelParams::default();
    let sampling = SampleOptions::default();
    for (name, batch, games, jobs) in &cases {
        let shapes: Vec<JobShape> = jobs
            .iter()
            .map(|j| JobShape::new(batch, games, j))
            .collect();
        let requests: Vec<Request> = (0..jobs.len())
            .map(|job| Request {
                job,
                k0: 0,
                k1: 512,
            })
            .collect();
        let plans = chunks::plan(&requests, &shapes, &ChunkLimits::CPU).unwrap();
        let words: u64 = plans.iter().map(|p| p.sizes.words).sum();
        g.throughput(Throughput::Bytes(4 * words));
        g.bench_function(*name, |b| {
            b.iter(|| {
                for p in &plans {
                    black_box(encode::encode(
                        p, batch, games, jobs, &shapes, &model, &sampling,
                    ));
                }
            })
        });
    }
    g.finish();
}

fn reduce(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce");
    for players in [32usize, 256] {
        let x: Vec<f64> = (0..players).map(|i| i as f64 * 0.01).collect();
        g.throughput(Throughput::Elements(1024 * players as u64));
        g.bench_with_input(
            BenchmarkId::new("welford_1024_pairs", players),
            &x,
            |b, x| {
                b.iter(|| {
                    let mut w = Welford::new(x.len());
                    for _ in 0..1024 {
                        w.push(black_box(x));
                    }
                    black_box(w.se())
                })
            },
        );
    }
    g.finish();
}

/// End to end (parse → validate → CSR → sample → write), permutation method, with one of
/// episodes, messages per episode and samples varied around (200, 32, 256) at a time:
/// the scaling table of docs/benchmarks.md. On the GPU backend too when a hardware
/// adapter exists.
fn end_to_end(c: &mut Criterion) {
    let base = (200u64, 32u32, 256u64);
    let mut cases: Vec<(&str, u64, (u64, u32, u64))> = Vec::new();
    for e in [50u64, 200, 800] {
        cases.push(("episodes", e, (e, base.1, base.2)));
    }
    for m in [8u32, 32, 128] {
        cases.push(("messages", m as u64, (base.0, m, base.2)));
    }
    for s in [64u64, 256, 1024] {
        cases.push(("samples", s, (base.0, base.1, s)));
    }
    let mut backends = vec![("cpu", BackendChoice::Cpu)];
    // A software adapter (lavapipe) proves correctness, not speed: bench hardware only.
    if creditflow::backend::hardware_gpu_available() {
        backends.push(("gpu", BackendChoice::Gpu));
    }
    for (backend_name, backend) in backends {
        let mut g = c.benchmark_group(format!("end_to_end_{backend_name}"));
        for &(axis, value, (episodes, messages, samples)) in &cases {
            let text = jsonl(&spec(episodes, messages)).join("\n");
            let opts = RunOptions {
                score: ScoreOptions {
                    method: Method::Permutation,
                    sampling: SampleOptions {
                        samples,
                        ..SampleOptions::default()
                    },
                    ..ScoreOptions::default()
                },
                backend,
                ..RunOptions::default()
            };
            g.throughput(Throughput::Elements(episodes));
            g.bench_with_input(BenchmarkId::new(axis, value), &text, |b, text| {
                b.iter(|| {
                    let mut out = Vec::new();
                    black_box(
                        run_score(Cursor::new(text.as_bytes()), &mut out, &opts, |_| {}).unwrap(),
                    )
                })
            });
        }
        g.finish();
    }
}

/// The standard chat batches of `creditflow bench` end to end with default options (as a
/// user scores a chat log: Owen message credit, 1,024 permutations): chat-20 (1,024 chats
/// of 3 agents × 20 messages) and chat-130 (58 chats of 4 agents × 130 messages).
fn chats(c: &mut Criterion) {
    let mut g = c.benchmark_group("chats");
    for (name, episodes, agents, messages) in
        [("chat-20", 1024u64, 3u32, 20u32), ("chat-130", 58, 4, 130)]
    {
        let text = jsonl(&GenOptions {
            agents,
            ..spec(episodes, messages)
        })
        .join("\n");
        let opts = RunOptions {
            backend: BackendChoice::Cpu,
            ..RunOptions::default()
        };
        g.throughput(Throughput::Elements(episodes));
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| {
                let mut out = Vec::new();
                black_box(run_score(Cursor::new(text.as_bytes()), &mut out, &opts, |_| {}).unwrap())
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = stages;
    config = config();
    targets = read_validate, flatten, sample_evaluate, encode, reduce, end_to_end, chats
}
criterion_main!(stages);
