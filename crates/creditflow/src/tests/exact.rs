//! Exact estimators: closed forms against enumeration, known answers for table games,
//! the Shapley axioms, and efficiency of every scored episode.

use crate::workloads::random_mobius;

use super::common::*;
use crate::csr::NO_AGENT;
use crate::estimate::{closed_form, exact};
use crate::game::{Evaluator, Level, Mobius, ModelParams, Surrogate, Table};
use crate::generate::Topology;
use crate::options::{MessageCreditKind, Method, Players, ScoreOptions};
use crate::score::score_episode;

#[test]
fn glove_game() {
    // Player 0 holds a left glove, 1 and 2 right gloves; a pair is worth 1.
    let table = [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    let phi = exact::shapley_from_table(&table);
    assert_close(phi[0], 2.0 / 3.0, 1e-12, "left glove");
    assert_close(phi[1], 1.0 / 6.0, 1e-12, "right glove");
    assert_close(phi[2], 1.0 / 6.0, 1e-12, "right glove");
}

#[test]
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
fn airport_game() {
    // v(S) = max cost of S; φ_i = Σ_{k≤i} (c_k − c_{k−1}) / (n − k + 1) (1-based, c_0 = 0).
    let costs = [1.0, 3.0, 4.0, 8.0, 9.5];
    let n = costs.len();
    let table: Vec<f64> = (0..1usize << n)
        .map(|s| {
            (0..n)
                .filter(|i| s >> i & 1 == 1)
                .map(|i| costs[i])
                .fold(0.0, f64::max)
        })
        .collect();
    let phi = exact::shapley_from_table(&table);
    for i in 0..n {
        let mut want = 0.0;
        for k in 0..=i {
            let prev = if k == 0 { 0.0 } else { costs[k - 1] };
            want += (costs[k] - prev) / (n - k) as f64;
        }
        assert_close(phi[i], want, 1e-12, &format!("airport player {i}"));
    }
}

#[test]
fn mobius_closed_form_equals_enumeration() {
    for seed in 0..20 {
        let n = 3 + (seed as usize % 10);
        let terms = random_mobius(n, 30, 4, seed);
        let mut g = Mobius::new(n, &terms);
        let closed = g.shapley_closed_form();
        let enumerated = exact::shapley_exact(&mut g);
        for j in 0..n {
            assert_close(
                closed[j],
                enumerated[j],
                1e-12,
                &format!("seed {seed} player {j}"),
            );
        }
    }
}

#[test]
fn axioms_on_constructed_games() {
    // Symmetry: players 1 and 2 are interchangeable; null: player 3 changes nothing.
    let n = 4;
    let v = |s: usize| -> f64 {
        let a = (s & 1) as f64;
        let b = (s >> 1 & 1) as f64;
        let c = (s >> 2 & 1) as f64;
        3.0 * a * (b + c) + 0.5 * b * c - 0.25 * a
    };
    let t1: Vec<f64> = (0..1 << n).map(v).collect();
    let phi = exact::shapley_from_table(&t1);
    assert_close(phi[1], phi[2], 1e-12, "symmetry");
    assert_eq!(phi[3], 0.0, "null player");
    assert_close(phi.iter().sum(), t1[15] - t1[0], 1e-12, "efficiency");
    // Linearity: φ(2·v1 − v2) = 2·φ(v1) − φ(v2).
    let t2: Vec<f64> = (0..1usize << n)
        .map(|s| (s.count_ones() as f64).powi(2) + (s & 8) as f64)
        .collect();
    let mix: Vec<f64> = t1.iter().zip(&t2).map(|(a, b)| 2.0 * a - b).collect();
    let (p1, p2, pm) = (
        exact::shapley_from_table(&t1),
        exact::shapley_from_table(&t2),
        exact::shapley_from_table(&mix),
    );
    for j in 0..n {
        assert_close(pm[j], 2.0 * p1[j] - p2[j], 1e-12, "linearity");
    }
    // Owen with singleton unions is Shapley; with one union it is Shapley too.
    let singles: Vec<Vec<usize>> = (0..n).map(|j| vec![j]).collect();
    let one = vec![(0..n).collect::<Vec<_>>()];
    for (a, b) in exact::owen_from_table(&t1, &singles).iter().zip(&phi) {
        assert_close(*a, *b, 1e-12, "owen singletons");
    }
    for (a, b) in exact::owen_from_table(&t1, &one).iter().zip(&phi) {
        assert_close(*a, *b, 1e-12, "owen one union");
    }
}

#[test]
fn surrogate_null_and_symmetric_agents() {
    // Agent c never speaks (null player); a and b post identical messages on the task.
    let ep = parse_episode(
        r#"{"id":"s","agents":["a","b","c"],"messages":[
            {"id":"t","agent":null,"parents":[]},
            {"id":"x","agent":"a","parents":["t"],"score":0.4},
            {"id":"y","agent":"b","parents":["t"],"score":0.4},
            {"id":"z","agent":"a","parents":["x","y"],"score":0.7}],
            "outcome":{"reward":1.0}}"#,
    );
    let b = batch(std::slice::from_ref(&ep));
    let out = score_episode(&ep, b.episode(0), &ScoreOptions::default()).unwrap();
    assert_eq!(out.agents[2].credit, 0.0, "null agent");
    let total: f64 = out.agents.iter().map(|a| a.credit).sum();
    assert_close(total, 1.0, 1e-12, "efficiency");
    // x and y are symmetric in the message game.
    let opts = ScoreOptions {
        message_credit: MessageCreditKind::Shapley,
        ..ScoreOptions::default()
    };
    let out = score_episode(&ep, b.episode(0), &opts).unwrap();
    assert_close(
        out.messages[0].credit,
        out.messages[1].credit,
        1e-12,
        "symmetric messages",
    );
}

fn linear_params(alpha: f64) -> ModelParams {
    ModelParams {
        alpha,
        ..ModelParams::default()
    }
}

#[test]
fn surrogate_closed_form_equals_enumeration_on_every_topology() {
    for topo in TOPOLOGIES {
        for (k, alpha) in [0.0, 0.3, 0.5, 1.0].into_iter().enumerate() {
            let eps = generated(topo, 3, 9, 0.0, 10 + k as u64, 6);
            let b = batch(&eps);
            for r in 0..b.len() {
                let view = b.episode(r);
                assert!(closed_form::applies(&view));
                let params = linear_params(alpha);
                let mut mg = Surrogate::new(view, params, Level::Messages);
                let table = exact::value_table(&mut mg);
                let flat = exact::shapley_from_table(&table);
                let closed = closed_form::message_shapley(&view, alpha);
                let unions: Vec<Vec<usize>> = view.unions();
                let owen = exact::owen_from_table(&table, &unions);
                let owen_closed = closed_form::message_owen(&view, alpha);
                for j in 0..flat.len() {
                    let what = format!("{topo:?} alpha {alpha} record {r} player {j}");
                    assert_close(closed[j], flat[j], 1e-10, &format!("shapley {what}"));
                    assert_close(owen_closed[j], owen[j], 1e-10, &format!("owen {what}"));
                }
                // The Owen value of each agent sums to that agent's Shapley value.
                let mut ag = Surrogate::new(view, params, Level::Agents);
                let agent_phi = exact::shapley_exact(&mut ag);
                for (u, members) in unions.iter().enumerate() {
                    let s: f64 = members.iter().map(|&p| owen[p]).sum();
                    assert_close(
                        s,
                        agent_phi[u],
                        1e-10,
                        &format!("owen sum {topo:?} record {r} agent {u}"),
                    );
                }
            }
        }
    }
}

#[test]
fn closed_form_handles_large_episodes() {
    // 400 messages in a prefix chat: 2^400 coalitions, ~2^400 paths; the DP is polynomial.
    let eps = generated(Topology::Prefix, 4, 400, 0.0, 5, 1);
    let b = batch(&eps);
    let opts = ScoreOptions {
        method: Method::ClosedForm,
        ..ScoreOptions::default()
    };
    let out = score_episode(&eps[0], b.episode(0), &opts).unwrap();
    assert_eq!(out.method, "closed-form");
    let dr = out.reward - out.baseline;
    let total: f64 = out.agents.iter().map(|a| a.credit).sum();
    assert_close(total, dr, 1e-9, "efficiency at 400 messages");
    let msgs: f64 = out.messages.iter().map(|m| m.credit).sum();
    assert_close(msgs, dr, 1e-9, "message efficiency at 400 messages");
}

#[test]
fn efficiency_and_owen_refinement_on_every_scored_episode() {
    let configs: [(Topology, f64, ModelParams); 5] = [
        (Topology::Chain, 0.0, ModelParams::default()),
        (Topology::Prefix, 0.2, ModelParams::default()),
        (
            Topology::Dag,
            0.2,
            ModelParams {
                aggregate: crate::game::Aggregate::Min,
                link: crate::game::Link::Logistic {
                    kappa: 8.0,
                    tau: 0.4,
                },
                alpha: 0.3,
            },
        ),
        (
            Topology::Star,
            0.3,
            ModelParams {
                aggregate: crate::game::Aggregate::Max,
                link: crate::game::Link::Saturating { cap: 2.0 },
                alpha: 0.6,
            },
        ),
        (Topology::Prefix, 0.0, linear_params(0.5)),
    ];
    for (c, (topo, groups, model)) in configs.into_iter().enumerate() {
        for method in [Method::Exact, Method::ClosedForm, Method::Permutation] {
            let eps = generated(topo, 4, 8, groups, 100 + c as u64, 25);
            let b = batch(&eps);
            let opts = ScoreOptions {
                model,
                method,
                players: Players::Both,
                ..ScoreOptions::default()
            };
            for (r, ep) in eps.iter().enumerate() {
                let out = match score_episode(ep, b.episode(r), &opts) {
                    Ok(o) => o,
                    Err(e) => {
                        assert!(
                            method == Method::ClosedForm && (groups > 0.0 || !model.is_linear()),
                            "{e}"
                        );
                        continue;
                    }
                };
                let dr = out.reward - out.baseline;
                let total: f64 = out.agents.iter().map(|a| a.credit).sum();
                assert_close(
                    total,
                    dr,
                    1e-9,
                    &format!("efficiency {topo:?} {method:?} record {r}"),
                );
                for a in &out.agents {
                    let s: f64 = out
                        .messages
                        .iter()
                        .filter(|m| m.agent == a.agent)
                        .map(|m| m.credit)
                        .sum();
                    assert_close(
                        s,
                        a.credit,
                        1e-9,
                        &format!("owen refinement {topo:?} {method:?} record {r}"),
                    );
                }
            }
        }
    }
}

#[test]
fn table_and_mobius_evaluators_agree_with_full_evaluation_incrementally() {
    let terms = random_mobius(10, 40, 3, 7);
    let mut g = Mobius::new(10, &terms);
    let table: Vec<f64> = (0..1u64 << 10).map(|s| g.value_mask(s)).collect();
    let mut t = Table::new(&table);
    let order = [3usize, 1, 4, 0, 9, 2, 6, 5, 8, 7];
    let (mut vg, mut vt) = (g.init(), t.init());
    let mut mask = 0u64;
    for &p in &order {
        mask |= 1 << p;
        vg = g.add(p);
        vt = t.add(p);
        assert_close(vg, table[mask as usize], 1e-12, "mobius incremental");
    }
    assert_close(vg, vt, 1e-12, "mobius vs table");
    // The surrogate's incremental add matches full evaluation for every aggregate and link.
    for topo in TOPOLOGIES {
        let eps = generated(topo, 5, 14, 0.25, 3, 4);
        let b = batch(&eps);
        for r in 0..b.len() {
            let view = b.episode(r);
            for aggregate in [
                crate::game::Aggregate::Mean,
                crate::game::Aggregate::Min,
                crate::game::Aggregate::Max,
            ] {
                let params = ModelParams {
                    alpha: 0.35,
                    aggregate,
                    link: crate::game::Link::Logistic {
                        kappa: 5.0,
                        tau: 0.5,
                    },
                };
                let mut mg = Surrogate::new(view, params, Level::Messages);
                let n = mg.players();
                let mut v = mg.init();
                assert_close(
                    v,
                    mg.value_with(|m| view.players[m] == NO_AGENT),
                    1e-12,
                    "v(empty)",
                );
                let mut mask = 0u64;
                for p in (0..n).rev() {
                    mask |= 1 << p;
                    v = mg.add(p);
                    let mut fresh = Surrogate::new(view, params, Level::Messages);
                    assert_close(
                        v,
                        fresh.value_mask(mask),
                        1e-12,
                        &format!("{topo:?} {aggregate:?} incremental"),
                    );
                }
            }
        }
    }
}

/// Chats (every message's parents are all earlier messages) take the O(messages) add
/// path; a mixed episode (listed rows beside filled-in `prefix` parents) the general one.
/// Along several walks in scrambled orders on one game (each `init` restores the empty
/// coalition kept by the first), every step equals a fresh full evaluation, at both
/// levels, for every aggregate, with and without redundancy groups.
#[test]
fn chat_and_mixed_walks_match_full_evaluation_in_any_order() {
    let mut eps = generated(Topology::Prefix, 4, 40, 0.0, 7, 2);
    eps.extend(generated(Topology::Prefix, 3, 70, 0.3, 8, 2));
    // Mixed: a1 is a root, a2 lists b1, the others get every earlier message.
    eps.push(parse_episode(
        r#"{"id":"mix","agents":["a","b"],"messages":[{"id":"t"},{"id":"a1","agent":"a","parents":[],"score":0.3},{"id":"b1","agent":"b","score":0.5},{"id":"a2","agent":"a","parents":["b1"],"score":-0.2},{"id":"b2","agent":"b","score":0.4,"group":"g"},{"id":"a3","agent":"a","score":0.4,"group":"g"}],"outcome":{"reward":1}}"#,
    ));
    let b = batch(&eps);
    assert!(b.episode(0).has_all_earlier() && b.episode(0).listed_parent_count() == 0);
    assert!(b.episode(4).listed_parent_count() > 0 && b.episode(4).has_all_earlier());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |k: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % k as u64) as usize
    };
    for r in 0..b.len() {
        let view = b.episode(r);
        for aggregate in [
            crate::game::Aggregate::Mean,
            crate::game::Aggregate::Min,
            crate::game::Aggregate::Max,
        ] {
            let params = ModelParams {
                alpha: 0.3,
                aggregate,
                link: crate::game::Link::Linear,
            };
            for level in [Level::Agents, Level::Messages] {
                let mut g = Surrogate::new(view, params, level);
                let n = g.players();
                if n > 64 {
                    continue;
                }
                for walk in 0..3 {
                    let mut order: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        order.swap(i, next(i + 1));
                    }
                    let mut v = g.init();
                    let mut fresh = Surrogate::new(view, params, level);
                    assert_close(v, fresh.value_mask(0), 1e-12, "v(empty)");
                    let mut mask = 0u64;
                    for &p in &order {
                        mask |= 1 << p;
                        v = g.add(p);
                        let want = fresh.value_mask(mask);
                        assert_close(
                            v,
                            want,
                            1e-12,
                            &format!("record {r} {aggregate:?} {level:?} walk {walk}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn exact_refuses_more_than_twenty_players_and_closed_form_refuses_nonlinear_games() {
    let eps = generated(Topology::Chain, 3, 25, 0.0, 1, 1);
    let b = batch(&eps);
    let exact_opts = ScoreOptions {
        method: Method::Exact,
        ..ScoreOptions::default()
    };
    let e = score_episode(&eps[0], b.episode(0), &exact_opts).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::TooLarge);
    assert_eq!(e.field, "messages");
    assert_eq!(e.id.as_deref(), Some("gen-0"));
    let closed = ScoreOptions {
        method: Method::ClosedForm,
        model: ModelParams {
            link: crate::game::Link::Saturating { cap: 1.0 },
            ..ModelParams::default()
        },
        ..ScoreOptions::default()
    };
    let e = score_episode(&eps[0], b.episode(0), &closed).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::MethodNotApplicable);
    // Auto falls through to sampling for the same record and succeeds (with the control
    // variate where its pilot says it pays).
    let auto = ScoreOptions {
        method: Method::Auto,
        ..closed
    };
    let method = score_episode(&eps[0], b.episode(0), &auto).unwrap().method;
    assert!(
        ["permutation", "permutation+cv"].contains(&method.as_str()),
        "{method}"
    );
}

/// `--method auto` weighs the Owen closed form's cost: an episode whose closed form costs
/// many times the permutations it replaces (10 agents × 80 messages) is sampled; a chat
/// of a few agents (4 × 130), and any small episode even at 32 permutations, keeps its
/// exact closed form.
#[test]
fn auto_samples_where_the_closed_form_costs_many_times_the_permutations() {
    use crate::estimate::control::{closed_form_overhead, closed_form_steps};
    use crate::estimate::{AUTO_CLOSED_FORM_COST, AUTO_CLOSED_FORM_FLOOR};
    let method = |agents: u32, messages: u32, samples: u64| {
        let eps = generated(Topology::Prefix, agents, messages, 0.0, 3, 1);
        let b = batch(&eps);
        let view = b.episode(0);
        let ratio =
            closed_form_overhead(&view, view.meta.player_count as usize, samples as f64 / 2.0);
        let steps = closed_form_steps(&view, closed_form::owen_states(&view));
        let mut opts = ScoreOptions::default();
        opts.sampling.samples = samples;
        let out = score_episode(&eps[0], view, &opts).unwrap();
        (out.method, steps, ratio)
    };
    let (m, steps, ratio) = method(10, 80, 1024);
    assert!(
        steps > AUTO_CLOSED_FORM_FLOOR && ratio > AUTO_CLOSED_FORM_COST,
        "{steps} {ratio}"
    );
    assert_eq!(m, "permutation");
    let (m, _, ratio) = method(4, 130, 1024);
    assert!(ratio <= AUTO_CLOSED_FORM_COST, "{ratio}");
    assert_eq!(m, "closed-form");
    let (m, steps, ratio) = method(4, 14, 32);
    assert!(
        steps <= AUTO_CLOSED_FORM_FLOOR && ratio > AUTO_CLOSED_FORM_COST,
        "{steps} {ratio}"
    );
    assert_eq!(m, "closed-form");
}
