//! The GPU path against its CPU twins, and the twins against the CPU estimators.
//!
//! CPU-only checks always run. GPU checks need a wgpu adapter (Mesa's lavapipe counts):
//! without one they print a loud SKIPPED message and pass, unless
//! `CREDITFLOW_REQUIRE_GPU=1` (set by `.ci/run`), which turns a missing adapter into a
//! failure.

use super::common::{TOPOLOGIES, batch, generated, parse_episode};
use crate::csr::CsrBatch;
use crate::engine::{self, ChunkLimits, Control, Estimator, GameBatch, Job, JobGame, JobResult};
use crate::estimate::control::{Controlled, Sampled};
use crate::estimate::permutation;
use crate::estimate::{McEstimate, SampleOptions};
use crate::game::{Aggregate, Level, Link, ModelParams, Surrogate};
use crate::generate::Topology;
use crate::model::{Episode, Game, GameForm};
use crate::rng::{Stream, tag};

// ---------------------------------------------------------------- fixtures

fn mobius_game(ordinal: u64, n: u32, terms: usize) -> Game {
    let mut t = crate::workloads::random_mobius(n as usize, terms, 3, ordinal);
    // An empty term (a constant) and a repeated set keep the encoder honest.
    t.push((0.25, vec![]));
    if n > 0 {
        t.push((-0.5, vec![0]));
    }
    Game {
        id: format!("m{ordinal}"),
        line: ordinal + 1,
        key: ordinal,
        players: n,
        form: GameForm::Mobius(t),
    }
}

fn table_game(ordinal: u64, n: u32) -> Game {
    let mut s = Stream::new(ordinal, 9, 9, tag::GENERATE);
    let table = (0..1usize << n)
        .map(|m| m.count_ones() as f64 + 0.5 * (2.0 * s.uniform() - 1.0))
        .collect();
    Game {
        id: format!("t{ordinal}"),
        line: ordinal + 1,
        key: ordinal,
        players: n,
        form: GameForm::Table(table),
    }
}

/// Generated episodes of every topology, an episode with only environment messages,
/// one with one agent, and one with an agent that never speaks.
fn episodes() -> Vec<Episode> {
    let mut eps = Vec::new();
    for (i, t) in TOPOLOGIES.iter().enumerate() {
        eps.extend(generated(*t, 3, 7, 0.3, 40 + i as u64, 3));
    }
    eps.push(parse_episode(
        r#"{"id":"env","agents":["a"],"messages":[{"id":"m0","agent":null,"score":0.5},{"id":"m1","agent":null,"parents":["m0"],"score":0.2}],"outcome":{"reward":1}}"#,
    ));
    eps.push(parse_episode(
        r#"{"id":"one","agents":["a"],"messages":[{"id":"m0","agent":null},{"id":"m1","agent":"a","parents":["m0"],"score":0.7},{"id":"m2","agent":"a","parents":["m0","m1"],"score":-0.3}],"outcome":{"reward":1}}"#,
    ));
    eps.push(parse_episode(
        r#"{"id":"idle","agents":["a","idle","b"],"messages":[{"id":"m0","agent":"b","score":0.4},{"id":"m1","agent":"a","parents":["m0"],"score":0.6,"group":"g"},{"id":"m2","agent":"b","parents":["m0","m1"],"score":0.6,"group":"g"}],"outcome":{"reward":1}}"#,
    ));
    for (i, e) in eps.iter_mut().enumerate() {
        e.key = 100 + i as u64 + (7 << 40);
    }
    eps
}

fn models() -> Vec<ModelParams> {
    let mut out = Vec::new();
    for aggregate in [Aggregate::Mean, Aggregate::Min, Aggregate::Max] {
        for link in [
            Link::Linear,
            Link::Logistic {
                kappa: 4.0,
                tau: 1.0,
            },
            Link::Saturating { cap: 1.5 },
        ] {
            out.push(ModelParams {
                alpha: 0.3,
                aggregate,
                link,
            });
        }
    }
    out
}

fn surrogate_jobs(b: &CsrBatch) -> Vec<Job> {
    let mut jobs = Vec::new();
    for r in 0..b.len() {
        let key = b.records[r].key_lo as u64 | (b.records[r].key_hi as u64) << 32;
        for (game, t) in [
            (JobGame::SurrogateAgents, tag::AGENT_PERMUTATION),
            (JobGame::SurrogateMessages, tag::PERMUTATION),
            (JobGame::SurrogateOwen, tag::PERMUTATION),
        ] {
            jobs.push(Job {
                estimator: Estimator::Permutation,
                record: r as u32,
                key,
                tag: t,
                game,
                control: None,
                pairs: None,
            });
        }
    }
    jobs
}

/// `jobs` (surrogate jobs) again, each with a control variate of a fixed β (as the plan
/// would give them under `model`): they sample the residual game v − β·v_lin.
fn controlled_jobs(jobs: &[Job], model: &ModelParams) -> Vec<Job> {
    jobs.iter()
        .enumerate()
        .map(|(i, j)| Job {
            control: Some(Control::new(0.6 + 0.25 * (i % 3) as f64, model)),
            ..*j
        })
        .collect()
}

fn game_jobs(games: &[Game]) -> Vec<Job> {
    games
        .iter()
        .enumerate()
        .map(|(i, g)| Job {
            estimator: Estimator::Permutation,
            record: 0,
            key: g.key,
            tag: tag::PERMUTATION,
            game: match g.form {
                GameForm::Mobius(_) => JobGame::Mobius(i),
                GameForm::Table(_) => JobGame::Table(i),
            },
            control: None,
            pairs: None,
        })
        .collect()
}

fn general_games() -> Vec<Game> {
    vec![
        mobius_game(1, 9, 20),
        table_game(2, 5),
        mobius_game(3, 1, 2),
        table_game(4, 1),
        mobius_game(5, 0, 0),
        table_game(6, 0),
        mobius_game(7, 70, 150),
        table_game(8, 7),
    ]
}

fn game_batch(games: &[Game]) -> GameBatch {
    GameBatch::new(&games.iter().collect::<Vec<_>>()).unwrap()
}

/// Small DAG episodes (a surrogate job each) and the general games: the adaptive and
/// double-buffering fixtures.
fn dag_fixture() -> (CsrBatch, GameBatch, Vec<Job>) {
    let eps = generated(Topology::Dag, 3, 6, 0.2, 7, 3);
    let b = batch(&eps);
    let gs = general_games();
    let games = game_batch(&gs);
    let mut jobs = surrogate_jobs(&b);
    jobs.extend(game_jobs(&gs));
    (b, games, jobs)
}

/// Adaptive sampling to standard error `target`, at most `max_samples` permutations.
fn adaptive(target: f64, max_samples: u64) -> SampleOptions {
    SampleOptions {
        target_se: Some(target),
        max_samples,
        seed: 3,
        ..SampleOptions::default()
    }
}

/// The CPU estimator the job stands for, called directly.
fn reference(
    b: &CsrBatch,
    games: &GameBatch,
    job: &Job,
    model: &ModelParams,
    s: &SampleOptions,
) -> JobResult {
    // A controlled job walks the residual game v − β·v_lin and adds β·φ(v_lin).
    let game = |level| {
        let view = b.episode(job.record as usize);
        match job.control {
            None => Sampled::Plain(Surrogate::new(view, *model, level)),
            Some(c) => Sampled::Controlled(Controlled::new(view, *model, level, c.beta)),
        }
    };
    let mut r = match job.game {
        JobGame::SurrogateAgents | JobGame::SurrogateMessages => {
            let level = if job.game == JobGame::SurrogateAgents {
                Level::Agents
            } else {
                Level::Messages
            };
            JobResult {
                players: permutation::shapley(&mut game(level), job.key, job.tag, s),
                unions: None,
            }
        }
        JobGame::SurrogateOwen => {
            let unions: Vec<Vec<usize>> = b.episode(job.record as usize).unions();
            let (p, u) =
                permutation::owen(&mut game(Level::Messages), &unions, job.key, job.tag, s);
            JobResult {
                players: p,
                unions: Some(u),
            }
        }
        JobGame::Mobius(i) => JobResult {
            players: permutation::shapley(&mut games.mobius(i), job.key, job.tag, s),
            unions: None,
        },
        JobGame::Table(i) => JobResult {
            players: permutation::shapley(&mut games.table(i), job.key, job.tag, s),
            unions: None,
        },
    };
    if job.control.is_some() {
        engine::jobs::add_linear_part(&b.episode(job.record as usize), model.alpha, job, &mut r);
    }
    r
}

/// Limits small enough that the test batches split into many chunks, and jobs into
/// several pair slices.
const TINY: ChunkLimits = ChunkLimits {
    max_binding_bytes: 4096,
    max_threads: 128,
    max_loop_iterations: u64::MAX,
};

fn samples(n: u64) -> SampleOptions {
    SampleOptions {
        samples: n,
        seed: 0x1234_5678_9abc_def0,
        ..SampleOptions::default()
    }
}

// ---------------------------------------------------------------- CPU twins (always run)

#[test]
fn cpu_twin_equals_the_cpu_estimators_exactly_for_every_game_and_chunking() {
    let eps = episodes();
    let b = batch(&eps);
    let gs = general_games();
    let games = game_batch(&gs);
    let mut plain = surrogate_jobs(&b);
    plain.extend(game_jobs(&gs));
    for model in [models()[0], models()[4], models()[8]] {
        // Controlled jobs beside plain ones: v_lin kept beside v (mean) or walked beside it.
        let mut jobs = plain.clone();
        jobs.extend(controlled_jobs(&surrogate_jobs(&b), &model));
        for s in [samples(6), samples(1)] {
            for limits in [ChunkLimits::CPU, TINY] {
                let got =
                    engine::twins::run_jobs_with_limits(&b, &games, &jobs, &model, &s, &limits)
                        .unwrap();
                for (j, (job, r)) in jobs.iter().zip(&got).enumerate() {
                    let want = reference(&b, &games, job, &model, &s);
                    assert_eq!(r, &want, "job {j} {job:?} {model:?} {limits:?}");
                }
            }
        }
    }
}

#[test]
fn cpu_twin_equals_the_cpu_estimators_in_adaptive_mode() {
    let (b, games, jobs) = dag_fixture();
    let model = ModelParams::default();
    for target in [0.05, 0.01] {
        let s = adaptive(target, 300);
        let got =
            engine::twins::run_jobs_with_limits(&b, &games, &jobs, &model, &s, &TINY).unwrap();
        let mut stops = std::collections::BTreeSet::new();
        for (job, r) in jobs.iter().zip(&got) {
            assert_eq!(
                r,
                &reference(&b, &games, job, &model, &s),
                "{job:?} target {target}"
            );
            stops.insert(r.players.samples);
        }
        assert!(
            stops.len() > 1,
            "adaptive stops should differ between jobs: {stops:?}"
        );
    }
}

#[test]
fn chunking_never_changes_the_cpu_permutations() {
    let eps = episodes();
    let b = batch(&eps);
    let gs = general_games();
    let games = game_batch(&gs);
    let mut jobs = surrogate_jobs(&b);
    jobs.extend(game_jobs(&gs));
    let s = samples(10);
    let a = engine::twins::permutation_digests(&b, &games, &jobs, &s, &ChunkLimits::CPU).unwrap();
    let c = engine::twins::permutation_digests(&b, &games, &jobs, &s, &TINY).unwrap();
    assert_eq!(a, c);
}

#[test]
fn a_pair_too_large_for_the_budget_is_an_error_not_a_wrong_answer() {
    let gs = vec![mobius_game(1, 2000, 10)];
    let games = game_batch(&gs);
    let jobs = game_jobs(&gs);
    let err = engine::twins::run_jobs_with_limits(
        &CsrBatch::default(),
        &games,
        &jobs,
        &ModelParams::default(),
        &samples(2),
        &TINY,
    )
    .unwrap_err();
    assert!(err.to_string().contains("job 0"), "{err}");
}

#[test]
fn empty_job_lists_and_playerless_games() {
    let b = CsrBatch::default();
    let games = GameBatch::default();
    let r = engine::twins::run_jobs(&b, &games, &[], &ModelParams::default(), &samples(4)).unwrap();
    assert!(r.is_empty());
}

#[test]
fn tiny_limits_split_batches_into_chunks_and_jobs_into_slices() {
    let eps = episodes();
    let b = batch(&eps);
    let gs = general_games();
    let games = game_batch(&gs);
    let mut jobs = surrogate_jobs(&b);
    jobs.extend(game_jobs(&gs));
    let shapes: Vec<_> = jobs
        .iter()
        .map(|j| engine::JobShape::new(&b, &games, j))
        .collect();
    let requests: Vec<_> = (0..jobs.len())
        .map(|job| engine::chunks::Request { job, k0: 0, k1: 20 })
        .collect();
    let plans = engine::chunks::plan(&requests, &shapes, &TINY).unwrap();
    assert!(plans.len() > 5, "{} chunks", plans.len());
    let mut slices_per_job = vec![0; jobs.len()];
    for p in &plans {
        for part in &p.parts {
            slices_per_job[part.job] += 1;
        }
        for (_, bytes) in [
            ("perms", p.sizes.perms * 4),
            ("scratch", p.sizes.scratch * 4),
            ("words", p.sizes.words * 4),
        ] {
            assert!(bytes <= TINY.max_binding_bytes);
        }
        assert!(p.sizes.pair_threads <= TINY.max_threads);
    }
    assert!(
        slices_per_job.iter().any(|&s| s > 1),
        "some job should span chunks"
    );
}

/// `estimate::exact` on the job's CPU game, called directly.
fn exact_reference(b: &CsrBatch, games: &GameBatch, job: &Job, model: &ModelParams) -> JobResult {
    use crate::estimate::exact;
    let est = |mean: Vec<f64>| McEstimate {
        se: vec![0.0; mean.len()],
        mean,
        samples: 0,
    };
    let surrogate = |level| Surrogate::new(b.episode(job.record as usize), *model, level);
    match job.game {
        JobGame::SurrogateAgents => JobResult {
            players: est(exact::shapley_exact(&mut surrogate(Level::Agents))),
            unions: None,
        },
        JobGame::SurrogateMessages => JobResult {
            players: est(exact::shapley_exact(&mut surrogate(Level::Messages))),
            unions: None,
        },
        JobGame::SurrogateOwen => {
            let view = b.episode(job.record as usize);
            let unions: Vec<Vec<usize>> = view.unions();
            let table = exact::value_table(&mut surrogate(Level::Messages));
            let p = exact::owen_from_table(&table, &unions);
            let sums = unions
                .iter()
                .map(|u| u.iter().map(|&i| p[i]).sum())
                .collect();
            JobResult {
                players: est(p),
                unions: Some(est(sums)),
            }
        }
        JobGame::Mobius(i) => JobResult {
            players: est(exact::shapley_exact(&mut games.mobius(i))),
            unions: None,
        },
        JobGame::Table(i) => JobResult {
            players: est(exact::shapley_from_table(games.table_values(i))),
            unions: None,
        },
    }
}

fn exact_fixture() -> (CsrBatch, GameBatch, Vec<Job>) {
    let mut eps = episodes();
    eps.extend(generated(Topology::Dag, 3, 13, 0.2, 9, 1));
    let b = batch(&eps);
    let gs: Vec<Game> = general_games()
        .into_iter()
        .filter(|g| g.players <= 20)
        .collect();
    let games = game_batch(&gs);
    let mut jobs = surrogate_jobs(&b);
    jobs.extend(game_jobs(&gs));
    (b, games, jobs)
}

#[test]
fn cpu_exact_twin_equals_exact_enumeration_exactly() {
    let (b, games, jobs) = exact_fixture();
    for model in [models()[0], models()[5], models()[7]] {
        for limits in [ChunkLimits::CPU, TINY] {
            let got =
                engine::twins::exact_jobs_with_limits(&b, &games, &jobs, &model, &limits).unwrap();
            for (job, r) in jobs.iter().zip(&got) {
                assert_eq!(
                    r,
                    &exact_reference(&b, &games, job, &model),
                    "{job:?} {model:?} {limits:?}"
                );
            }
        }
    }
    let gs = vec![mobius_game(1, 21, 5)];
    let err = engine::twins::exact_jobs(
        &CsrBatch::default(),
        &game_batch(&gs),
        &game_jobs(&gs),
        &ModelParams::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, engine::PlanError::TooManyPlayers { players: 21, .. }),
        "{err}"
    );
}

#[cfg(feature = "gpu")]
mod on_a_device {
    use super::*;
    use crate::engine::TOLERANCE;
    use crate::gpu::{self, Gpu, GpuError};
    use crate::kernels;
    use crate::kernels::types::{BoundedCase, KatCase};
    use std::sync::MutexGuard;

    // ---------------------------------------------------------------- GPU (needs an adapter)

    /// The shared device, or None (with a loud message) when there is no adapter and
    /// CREDITFLOW_REQUIRE_GPU is not set.
    fn device(test: &str) -> Option<MutexGuard<'static, Gpu>> {
        match Gpu::shared() {
            Ok(g) => Some(g.lock().unwrap_or_else(|e| e.into_inner())),
            Err(e) => {
                if std::env::var("CREDITFLOW_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                    panic!("CREDITFLOW_REQUIRE_GPU=1 but no GPU adapter: {e}");
                }
                crate::tests::skipped(
                    &format!("GPU test {test}"),
                    &format!(
                        "no GPU adapter ({e}); install a Vulkan driver (Debian: mesa-vulkan-drivers)"
                    ),
                );
                None
            }
        }
    }

    fn assert_within(cpu: &McEstimate, gpu: &McEstimate, scale: f64, what: &str) -> f64 {
        assert_eq!(cpu.samples, gpu.samples, "{what}: samples");
        assert_eq!(cpu.mean.len(), gpu.mean.len(), "{what}: players");
        let mut worst = 0f64;
        for (i, (c, g)) in cpu.mean.iter().zip(&gpu.mean).enumerate() {
            assert!(
                TOLERANCE.allows(*c, *g, scale),
                "{what}: mean[{i}] cpu {c} gpu {g} (scale {scale})"
            );
            worst = worst.max((c - g).abs() / scale);
        }
        for (i, (c, g)) in cpu.se.iter().zip(&gpu.se).enumerate() {
            assert!(
                TOLERANCE.allows(*c, *g, scale),
                "{what}: se[{i}] cpu {c} gpu {g} (scale {scale})"
            );
            worst = worst.max((c - g).abs() / scale);
        }
        worst
    }

    fn compare(
        b: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        model: &ModelParams,
        cpu_r: &[JobResult],
        gpu_r: &[JobResult],
    ) -> f64 {
        assert_eq!(cpu_r.len(), gpu_r.len());
        let mut worst = 0f64;
        for (j, ((job, c), g)) in jobs.iter().zip(cpu_r).zip(gpu_r).enumerate() {
            let scale = engine::jobs::value_scale(b, games, job, model);
            let what = format!("job {j} {job:?} {model:?}");
            worst = worst.max(assert_within(&c.players, &g.players, scale, &what));
            match (&c.unions, &g.unions) {
                (Some(cu), Some(gu)) => {
                    worst = worst.max(assert_within(cu, gu, scale, &format!("{what} unions")))
                }
                (None, None) => {}
                _ => panic!("{what}: unions present on one side only"),
            }
        }
        worst
    }

    #[test]
    fn gpu_philox_known_answer_vectors() {
        let Some(gpu) = device("gpu_philox_known_answer_vectors") else {
            return;
        };
        let mut cases = vec![
            KatCase::new([0; 4], [0; 2]),
            KatCase::new([u32::MAX; 4], [u32::MAX; 2]),
            KatCase::new(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
            ),
        ];
        let got = gpu.philox_kat(&cases).unwrap();
        assert_eq!(got[0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(got[1], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(got[2], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
        let mut s = Stream::new(77, 0, 0, 0);
        for _ in 0..200 {
            cases.push(KatCase::new(
                [s.next_u32(), s.next_u32(), s.next_u32(), s.next_u32()],
                [s.next_u32(), s.next_u32()],
            ));
        }
        let got = gpu.philox_kat(&cases).unwrap();
        let mut want = vec![[0u32; 4]; cases.len()];
        kernels::philox_kat::philox_kat(&cases, &mut want);
        assert_eq!(got, want);
    }

    #[test]
    fn gpu_bounded_draws_equal_the_cpu_including_rejections() {
        let Some(gpu) = device("gpu_bounded_draws_equal_the_cpu_including_rejections") else {
            return;
        };
        // 2^31 + 1 rejects about half of all draws; 3·2^30 a quarter; the others exercise
        // the limb mulhi on small and huge bounds.
        let bounds = [
            1u32,
            2,
            7,
            64,
            65,
            1000,
            65_537,
            (1 << 31) + 1,
            3 << 30,
            u32::MAX,
        ];
        let count = 64;
        let cases: Vec<BoundedCase> = bounds
            .iter()
            .enumerate()
            .map(|(i, &n)| BoundedCase {
                seed_lo: 0xdead_beef,
                seed_hi: i as u32,
                key_lo: 3,
                key_hi: 0x8000_0000 | i as u32,
                sample: i as u32,
                tag: 1,
                n,
                count,
                out_offset: i as u32 * count,
                ..BoundedCase::default()
            })
            .collect();
        let len = bounds.len() * count as usize;
        let got = gpu.draw_bounded(&cases, len).unwrap();
        let mut want = vec![0u32; len];
        kernels::draw_bounded::draw_bounded(&cases, &mut want);
        assert_eq!(got, want);
    }

    #[test]
    fn gpu_permutations_equal_the_cpu_streams() {
        let Some(mut gpu) = device("gpu_permutations_equal_the_cpu_streams") else {
            return;
        };
        let eps = episodes();
        let b = batch(&eps);
        // 1 player, 100 players (not a multiple of the workgroup size), and the largest size.
        let gs = vec![
            mobius_game(1, 1, 1),
            table_game(2, 1),
            mobius_game(3, 100, 50),
            mobius_game(4, gpu::MAX_PLAYERS, 10),
        ];
        let games = game_batch(&gs);
        let mut jobs = surrogate_jobs(&b);
        jobs.extend(game_jobs(&gs));
        // 70 pairs of small jobs: more threads than one workgroup, not a multiple of it.
        let s = samples(140);
        let big = jobs.len() - 1;
        let (small_jobs, big_job) = (&jobs[..big], &jobs[big..]);
        for limits in [ChunkLimits::CPU, TINY] {
            gpu.set_chunk_limits(limits);
            let want =
                engine::twins::permutation_digests(&b, &games, small_jobs, &s, &limits).unwrap();
            let got = gpu.permutation_digests(&b, &games, small_jobs, &s).unwrap();
            assert_eq!(got, want, "{limits:?}");
        }
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let s2 = samples(4);
        let want = engine::twins::permutation_digests(&b, &games, big_job, &s2, &ChunkLimits::CPU)
            .unwrap();
        assert_eq!(
            gpu.permutation_digests(&b, &games, big_job, &s2).unwrap(),
            want,
            "{} players",
            gpu::MAX_PLAYERS
        );
        // The digests are of real streams: a 1-player job's stream is all zeros and differs
        // from a 100-player job's.
        let mut zeros = kernels::draw_permutations::StreamDigest::default();
        zeros.update(&vec![0u32; 70]);
        let one = jobs.len() - 4;
        assert_eq!(
            gpu.permutation_digests(&b, &games, &jobs[one..one + 1], &s)
                .unwrap()[0],
            zeros
        );
    }

    #[test]
    fn gpu_estimates_match_the_cpu_for_every_estimator_game_aggregate_and_link() {
        let Some(mut gpu) =
            device("gpu_estimates_match_the_cpu_for_every_estimator_game_aggregate_and_link")
        else {
            return;
        };
        let eps = episodes();
        let b = batch(&eps);
        let gs = general_games();
        let games = game_batch(&gs);
        let mut jobs = surrogate_jobs(&b);
        jobs.extend(game_jobs(&gs));
        let s = samples(40);
        let mut worst = 0f64;
        gpu.set_chunk_limits(TINY);
        // Every surrogate kernel: workgroup-memory state (small episodes), the cooperative
        // chat walk (one subgroup per walk where the device has subgroups, one workgroup
        // otherwise), and one thread per walk over global scratch.
        for (local, chat, subgroups) in [
            (true, true, true),
            (false, true, true),
            (false, true, false),
            (false, false, false),
        ] {
            gpu.use_kernels(local, chat);
            gpu.use_subgroups(subgroups);
            for model in models() {
                // Plain and controlled jobs (the residual game v − β·v_lin) alike.
                let mut jobs = jobs.clone();
                jobs.extend(controlled_jobs(&surrogate_jobs(&b), &model));
                let want = engine::twins::run_jobs(&b, &games, &jobs, &model, &s).unwrap();
                let got = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
                worst = worst.max(compare(&b, &games, &jobs, &model, &want, &got));
            }
        }
        gpu.use_kernels(true, true);
        gpu.use_subgroups(true);
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let model = ModelParams::default();
        let want = engine::twins::run_jobs(&b, &games, &jobs, &model, &s).unwrap();
        let got = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
        worst = worst.max(compare(&b, &games, &jobs, &model, &want, &got));
        eprintln!(
            "largest |gpu - cpu| / scale: {worst:.3e} (tolerance atol {:.0e})",
            TOLERANCE.atol
        );
    }

    #[test]
    fn gpu_chat_walks_in_one_subgroup_agree_with_walks_in_one_workgroup() {
        let Some(mut gpu) =
            device("gpu_chat_walks_in_one_subgroup_agree_with_walks_in_one_workgroup")
        else {
            return;
        };
        // Built wherever the adapter offers subgroups of one size. CI's lavapipe does
        // (subgroups of 8), so there the kernel must have been built.
        let info = gpu.adapter_info().clone();
        if std::env::var("CREDITFLOW_REQUIRE_GPU").is_ok_and(|v| v == "1")
            && info.name.contains("llvmpipe")
            && info.backend == wgpu::Backend::Vulkan
            && std::env::var("CREDITFLOW_GPU_SUBGROUPS").as_deref() != Ok("0")
            && std::env::var("CREDITFLOW_GPU_CHAT").as_deref() != Ok("0")
        {
            assert!(
                gpu.subgroup_width().is_some(),
                "{}: lavapipe offers subgroups, sample_chat_subgroup was not built",
                gpu.describe()
            );
        }
        let Some(width) = gpu.subgroup_width() else {
            crate::tests::skipped(
                "GPU test gpu_chat_walks_in_one_subgroup_agree_with_walks_in_one_workgroup",
                &format!("{} has no subgroups of one size", gpu.describe()),
            );
            return;
        };
        let eps = episodes();
        let b = batch(&eps);
        let games = game_batch(&[]);
        let jobs = surrogate_jobs(&b);
        let s = samples(40);
        gpu.set_chunk_limits(TINY);
        gpu.use_kernels(false, true);
        let mut worst = 0f64;
        for model in models() {
            let mut jobs = jobs.clone();
            jobs.extend(controlled_jobs(&surrogate_jobs(&b), &model));
            gpu.use_subgroups(false);
            let workgroup = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            gpu.use_subgroups(true);
            let subgroup = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            let cpu = engine::twins::run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            compare(&b, &games, &jobs, &model, &cpu, &subgroup);
            worst = worst.max(compare(&b, &games, &jobs, &model, &workgroup, &subgroup));
        }
        // A workgroup of twice the subgroup size is two subgroups: the kernel must say so,
        // not return the numbers of a scan over half the lanes.
        gpu.rebuild_subgroup_kernel(2 * width);
        let model = ModelParams::default();
        let got = gpu.run_jobs(&b, &games, &jobs, &model, &s);
        gpu.rebuild_subgroup_kernel(width);
        assert!(
            matches!(got, Err(crate::gpu::GpuError::SubgroupSize)),
            "a workgroup of {} lanes in subgroups of {width}: {got:?}",
            2 * width
        );
        gpu.use_kernels(true, true);
        gpu.set_chunk_limits(ChunkLimits::CPU);
        // The two kernels split the messages into lanes differently (8 against 64 on
        // lavapipe), so their f32 roundings differ: equal numbers would mean one kernel ran
        // twice.
        assert!(
            worst > 0.0,
            "identical numbers: sample_chat_subgroup did not run"
        );
        eprintln!("subgroups of {width}: largest |subgroup - workgroup| / scale {worst:.3e}");
    }

    #[test]
    fn gpu_double_buffered_chunks_give_the_numbers_of_chunks_run_one_at_a_time() {
        let Some(mut gpu) =
            device("gpu_double_buffered_chunks_give_the_numbers_of_chunks_run_one_at_a_time")
        else {
            return;
        };
        let (b, games, jobs) = dag_fixture();
        let model = ModelParams::default();
        gpu.set_chunk_limits(TINY);
        // A fixed budget (one round of many chunks) and adaptive rounds.
        for s in [samples(40), adaptive(0.02, 400)] {
            gpu.overlap_chunks(false);
            gpu.take_times();
            let serial = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            let chunks = gpu.take_times().chunks;
            gpu.overlap_chunks(true);
            let overlapped = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            assert_eq!(gpu.take_times().chunks, chunks);
            assert!(chunks >= 4, "only {chunks} chunks: nothing overlapped");
            // Bit for bit: each chunk's results come from its own staging buffer.
            assert_eq!(overlapped, serial, "{s:?}");
            let cpu = engine::twins::run_jobs(&b, &games, &jobs, &model, &s).unwrap();
            compare(&b, &games, &jobs, &model, &cpu, &overlapped);
        }
        gpu.set_chunk_limits(ChunkLimits::CPU);
    }

    #[test]
    fn gpu_exact_enumeration_matches_the_cpu_for_every_aggregate_and_link() {
        let Some(mut gpu) =
            device("gpu_exact_enumeration_matches_the_cpu_for_every_aggregate_and_link")
        else {
            return;
        };
        let (b, games, jobs) = exact_fixture();
        gpu.set_chunk_limits(TINY);
        for model in models() {
            let want = engine::twins::exact_jobs(&b, &games, &jobs, &model).unwrap();
            let got = gpu.exact_jobs(&b, &games, &jobs, &model).unwrap();
            compare(&b, &games, &jobs, &model, &want, &got);
        }
    }

    #[test]
    fn gpu_adaptive_sampling_stops_where_the_cpu_stops() {
        let Some(mut gpu) = device("gpu_adaptive_sampling_stops_where_the_cpu_stops") else {
            return;
        };
        let (b, games, jobs) = dag_fixture();
        let model = ModelParams::default();
        let s = adaptive(0.02, 400);
        gpu.set_chunk_limits(TINY);
        let want = engine::twins::run_jobs(&b, &games, &jobs, &model, &s).unwrap();
        let got = gpu.run_jobs(&b, &games, &jobs, &model, &s).unwrap();
        compare(&b, &games, &jobs, &model, &want, &got);
    }

    #[test]
    fn gpu_edge_cases_empty_environment_only_one_agent_and_past_workgroup_memory() {
        let Some(mut gpu) =
            device("gpu_edge_cases_empty_environment_only_one_agent_and_past_workgroup_memory")
        else {
            return;
        };
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let model = ModelParams::default();
        let s = samples(8);
        // Empty batch, no jobs.
        assert!(
            gpu.run_jobs(&CsrBatch::default(), &GameBatch::default(), &[], &model, &s)
                .unwrap()
                .is_empty()
        );
        // Environment-only and one-agent episodes (records 12 and 13 of `episodes()`).
        let eps = episodes();
        let b = batch(&eps);
        let n = eps.len();
        let jobs: Vec<Job> = surrogate_jobs(&b)
            .into_iter()
            .filter(|j| j.record as usize >= n - 3)
            .collect();
        let want = engine::twins::run_jobs(&b, &GameBatch::default(), &jobs, &model, &s).unwrap();
        let got = gpu
            .run_jobs(&b, &GameBatch::default(), &jobs, &model, &s)
            .unwrap();
        compare(&b, &GameBatch::default(), &jobs, &model, &want, &got);
        assert!(
            got[0].players.mean.is_empty() && got[0].players.samples == 8,
            "environment only"
        );
        assert_eq!(
            got[2].unions.as_ref().unwrap().mean.len(),
            0,
            "environment only: no unions"
        );
        assert_eq!(got[3].players.mean.len(), 1, "one agent");
        // An episode whose per-thread state (2 words per message + 1 per group) is past the
        // 16 KiB a workgroup may share, 64 threads over: handled, and equal to the CPU.
        let big = generated(Topology::Star, 3, 1400, 0.0, 5, 1);
        let bb = batch(&big);
        let agents = Job {
            estimator: Estimator::Permutation,
            record: 0,
            key: 0,
            tag: 0,
            game: JobGame::SurrogateAgents,
            control: None,
            pairs: None,
        };
        let shape = engine::JobShape::new(&bb, &GameBatch::default(), &agents);
        assert!(
            shape.scratch_stride() * 4 > 16384,
            "{} bytes",
            shape.scratch_stride() * 4
        );
        let s = samples(6);
        let want =
            engine::twins::run_jobs(&bb, &GameBatch::default(), &[agents], &model, &s).unwrap();
        let got = gpu
            .run_jobs(&bb, &GameBatch::default(), &[agents], &model, &s)
            .unwrap();
        compare(&bb, &GameBatch::default(), &[agents], &model, &want, &got);
        // Its Owen job walks 1400 players per thread: equal to the CPU where the driver lets a
        // thread loop that long, else refused up front (llvmpipe) — never truncated.
        let owen = [Job {
            estimator: Estimator::Permutation,
            game: JobGame::SurrogateOwen,
            ..agents
        }];
        match gpu.run_jobs(&bb, &GameBatch::default(), &owen, &model, &s) {
            Ok(got) => {
                let want =
                    engine::twins::run_jobs(&bb, &GameBatch::default(), &owen, &model, &s).unwrap();
                compare(&bb, &GameBatch::default(), &owen, &model, &want, &got);
            }
            Err(GpuError::Plan(engine::PlanError::LoopBudget { .. })) => {
                assert!(gpu.loop_cap().is_some())
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn gpu_loop_cap_is_measured_and_respected() {
        let Some(mut gpu) = device("gpu_loop_cap_is_measured_and_respected") else {
            return;
        };
        let asked = [10u32, 60_000, 70_000, 1 << 20];
        let got = gpu.loop_probe(&asked).unwrap();
        let mut twin = vec![0u32; asked.len()];
        kernels::loop_probe::loop_probe(&asked, &mut twin);
        match gpu.loop_cap() {
            None => assert_eq!(got, twin, "no cap was measured, so loops must run in full"),
            Some(cap) => {
                assert_eq!(got[0], 10);
                assert!(
                    got[3] < 1 << 20 && cap < got[3] as u64,
                    "cap {cap}, probe {got:?}"
                );
                eprintln!(
                    "{}: loops capped at {} iterations per invocation",
                    gpu.describe(),
                    got[3]
                );
            }
        }
        // A walk longer than the cap is refused; every accepted job was checked above.
        if let Some(cap) = gpu.loop_cap() {
            gpu.set_chunk_limits(ChunkLimits::CPU);
            let n = (cap / 4 + 10) as u32;
            let gs = vec![mobius_game(1, n.min(gpu::MAX_PLAYERS), 3)];
            let games = game_batch(&gs);
            let shape = engine::JobShape::new(&CsrBatch::default(), &games, &game_jobs(&gs)[0]);
            let r = gpu.run_jobs(
                &CsrBatch::default(),
                &games,
                &game_jobs(&gs),
                &ModelParams::default(),
                &samples(2),
            );
            if shape.sample_loops > cap {
                assert!(
                    matches!(r, Err(GpuError::Plan(engine::PlanError::LoopBudget { .. }))),
                    "{r:?}"
                );
            }
        }
    }

    #[test]
    fn gpu_never_returns_numbers_from_loops_the_driver_cut_short() {
        let Some(mut gpu) = device("gpu_never_returns_numbers_from_loops_the_driver_cut_short")
        else {
            return;
        };
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let model = ModelParams::default();
        let s = samples(8);
        // Prefix episodes from small to past llvmpipe's loop cap: each run either equals the
        // CPU or (on a capped driver) fails loudly, up front or through the kernels' check.
        for messages in [24u32, 32, 36, 38, 44] {
            let eps = generated(Topology::Prefix, 4, messages, 0.1, 3, 4);
            let b = batch(&eps);
            let jobs: Vec<Job> = (0..b.len() as u32)
                .map(|r| Job {
                    estimator: Estimator::Permutation,
                    record: r,
                    key: r as u64,
                    tag: 0,
                    game: JobGame::SurrogateOwen,
                    control: None,
                    pairs: None,
                })
                .collect();
            match gpu.run_jobs(&b, &GameBatch::default(), &jobs, &model, &s) {
                Ok(got) => {
                    let want =
                        engine::twins::run_jobs(&b, &GameBatch::default(), &jobs, &model, &s)
                            .unwrap();
                    compare(&b, &GameBatch::default(), &jobs, &model, &want, &got);
                }
                Err(GpuError::LoopCap(_))
                | Err(GpuError::Plan(engine::PlanError::LoopBudget { .. })) => {
                    assert!(
                        gpu.loop_cap().is_some(),
                        "{messages} messages refused without a loop cap"
                    );
                    assert!(
                        messages > 32,
                        "{messages} messages should fit even a capped driver"
                    );
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn gpu_refuses_what_it_cannot_do() {
        let Some(mut gpu) = device("gpu_refuses_what_it_cannot_do") else {
            return;
        };
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let gs = vec![mobius_game(1, gpu::MAX_PLAYERS + 1, 3)];
        let games = game_batch(&gs);
        let r = gpu.run_jobs(
            &CsrBatch::default(),
            &games,
            &game_jobs(&gs),
            &ModelParams::default(),
            &samples(2),
        );
        assert!(matches!(r, Err(GpuError::TooManyPlayers { .. })), "{r:?}");
        gpu.set_chunk_limits(TINY);
        let gs = vec![mobius_game(1, 2000, 3)];
        let games = game_batch(&gs);
        let r = gpu.run_jobs(
            &CsrBatch::default(),
            &games,
            &game_jobs(&gs),
            &ModelParams::default(),
            &samples(2),
        );
        assert!(matches!(r, Err(GpuError::Plan(_))), "{r:?}");
    }

    #[test]
    fn gpu_bench_rows_cover_the_standard_workloads() {
        let Some(mut gpu) = device("gpu_bench_rows_cover_the_standard_workloads") else {
            return;
        };
        gpu.set_chunk_limits(ChunkLimits::CPU);
        // Few permutations: the rows, not the rates, are under test.
        let workloads: Vec<_> = crate::workloads::standard_workloads(0.001)
            .into_iter()
            .map(|w| crate::workloads::Workload { samples: 16, ..w })
            .collect();
        let bench = crate::workloads::gpu::gpu_rows(&mut gpu, &workloads);
        assert!(bench.compile.name.contains("compilation") && bench.compile.seconds > 0.0);
        let names: Vec<&str> = bench.rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["mobius-64", "chat-20", "chat-130", "dag-32"]);
        for (name, r) in &bench.rows {
            match r {
                Ok((r, t)) => {
                    assert!(r.marginals > 0 && r.seconds > 0.0, "{r:?}");
                    assert!(t.chunks > 0 && t.wait > 0.0, "{t:?}");
                }
                // Only a driver's loop cap may keep a workload off the device.
                Err(GpuError::Plan(engine::PlanError::LoopBudget { .. }))
                    if gpu.loop_cap().is_some() =>
                {
                    eprintln!(
                        "NOTE: {name} not run on this device: {}",
                        r.as_ref().unwrap_err()
                    )
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }

    /// `cargo test --release --test gpu -- --ignored --nocapture gpu_bench_report` prints the
    /// GPU rows beside the CPU suite at the same scale.
    #[test]
    #[ignore]
    fn gpu_bench_report() {
        let Some(mut gpu) = device("gpu_bench_report") else {
            return;
        };
        gpu.set_chunk_limits(ChunkLimits::CPU);
        let scale: f64 = std::env::var("BENCH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.05);
        let bench =
            crate::workloads::gpu::gpu_rows(&mut gpu, &crate::workloads::standard_workloads(scale));
        for r in crate::workloads::standard_suite(scale).iter().chain(
            bench
                .rows
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok().map(|(r, _)| r)),
        ) {
            eprintln!(
                "{:70} {:>12} marginals {:>8.3} s {:>14.0} marginals/s",
                r.name,
                r.marginals,
                r.seconds,
                r.rate()
            );
        }
    }
}
