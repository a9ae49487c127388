//! The second task, chat-like: n agents (up to 20) talk in a group chat of 20 to 130
//! messages where everyone reads everything (`prefix` provenance: the records carry no
//! `parents`, so creditflow's default applies), each message one act; the final answer
//! is right when every needed fact was stated while no wrong claim stood and no wrong
//! claim stands at the end.
//!
//! **Roles** (by agent index i): i mod 4 ∈ {0, 1} is an *expert* that knows one needed
//! fact (K = the number of experts); i mod 4 = 2 is a *checker* that can correct a wrong
//! claim; i mod 4 = 3 is *tempted*: it knows nothing and its policy starts leaning to
//! wrong claims. Agents speak in turn (message t by agent t mod n); the conversation's
//! length M is drawn per episode, uniform in [max(20, 2n), 130].
//!
//! **Acts.** `answer` states the agent's fact: it counts when no wrong claim is open
//! (an expert misled by an open claim states it wrongly, and may answer again later);
//! `agree` is chit-chat; `claim` states something wrong (opens an error); `correct`
//! (checkers only) retracts every open wrong claim; `skip` says nothing.
//!
//! **Outcome.** R = (facts stated correctly / K) · 2^(−wrong claims open at the end):
//! graded, as in the first task (an all-or-nothing R leaves a learner starting from
//! random policies with no signal at all: under the initial policies fewer than 1 % of
//! conversations end with no claim open). Success iff R = 1.
//!
//! **Reruns.** As in [`crate::env`]: an episode is a pure function of the policies and
//! its numbers (one for the length, one per turn); counterfactuals replace acts by
//! `skip` and re-run with the same numbers.

use crate::env::{ACTIONS, Probs, Rng, state};

/// Act names, in index order (the same indices as the first task's actions).
pub const ACT_NAMES: [&str; ACTIONS] = ["answer", "agree", "claim", "correct", "skip"];
/// `answer`.
pub const ANSWER: usize = 0;
/// `claim`.
pub const CLAIM: usize = 2;
/// `correct`.
pub const CORRECT: usize = 3;
/// `skip`.
pub const SKIP: usize = 4;
/// Tokens of a message per act: the act is the first token, the rest follow from it.
pub const TOKENS: [usize; ACTIONS] = [12, 4, 12, 8, 2];
/// Most messages of a conversation.
pub const MAX_MESSAGES: usize = 130;
/// Fewest messages of a conversation (at least two turns per agent).
pub const MIN_MESSAGES: usize = 20;

/// An agent's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    /// Knows needed fact k.
    Expert(usize),
    /// Can correct wrong claims.
    Checker,
    /// Knows nothing; starts leaning to wrong claims.
    Tempted,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatStep {
    /// Author.
    pub agent: usize,
    /// The state the author saw.
    pub state: usize,
    /// The act.
    pub action: usize,
    /// True helpfulness in {−1, 0, 1}.
    pub truth: f64,
}

/// A played conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatTranscript {
    /// One step per message, in order.
    pub steps: Vec<ChatStep>,
    /// The evaluator's score R.
    pub reward: f64,
    /// R = 1.
    pub success: bool,
}

/// The chat task.
#[derive(Debug, Clone)]
pub struct Chat {
    /// Agents.
    pub n: usize,
    /// Needed facts K.
    pub facts: usize,
    /// Role per agent.
    pub roles: Vec<ChatRole>,
    /// The agent a biased judge favours (the first tempted agent).
    pub favoured: usize,
}

struct Board {
    correct: u64,
    open: Vec<usize>,
    head: usize,
}

impl Board {
    fn open_errors(&self) -> usize {
        self.open.len() - self.head
    }
}

impl Chat {
    /// The task for `n` agents (4 to 20).
    pub fn new(n: usize) -> Chat {
        assert!((4..=20).contains(&n), "4 to 20 agents");
        let mut facts = 0;
        let roles = (0..n)
            .map(|i| match i % 4 {
                0 | 1 => {
                    facts += 1;
                    ChatRole::Expert(facts - 1)
                }
                2 => ChatRole::Checker,
                _ => ChatRole::Tempted,
            })
            .collect();
        Chat {
            n,
            facts,
            roles,
            favoured: 3,
        }
    }

    /// Policy states per agent: own fact missing?, a claim open?, second half?
    pub fn states(&self) -> usize {
        8
    }

    /// Fewest messages of one of this task's conversations.
    pub fn min_messages(&self) -> usize {
        MIN_MESSAGES.max(2 * self.n)
    }

    /// The numbers of one episode: the length draw, then one per possible turn.
    pub fn numbers(&self, rng: &mut Rng) -> Vec<f64> {
        (0..=MAX_MESSAGES).map(|_| rng.uniform()).collect()
    }

    /// The conversation's length M for numbers `u`.
    pub fn length(&self, u: &[f64]) -> usize {
        let lo = self.min_messages();
        let span = MAX_MESSAGES - lo + 1;
        lo + ((u[0] * span as f64) as usize).min(span - 1)
    }

    fn sample(p: &[f64; ACTIONS], u: f64) -> usize {
        let mut acc = 0.0;
        for (a, &x) in p.iter().enumerate() {
            acc += x;
            if u < acc {
                return a;
            }
        }
        ACTIONS - 1
    }

    /// Plays the conversation of numbers `u`; `skip(t)` forces turn t to `skip`.
    fn run(
        &self,
        probs: &Probs,
        u: &[f64],
        skip: impl Fn(usize) -> bool,
        mut steps: Option<&mut Vec<ChatStep>>,
    ) -> f64 {
        let m = self.length(u);
        let mut b = Board {
            correct: 0,
            open: Vec::new(),
            head: 0,
        };
        for t in 0..m {
            let agent = t % self.n;
            let role = self.roles[agent];
            let missing = matches!(role, ChatRole::Expert(k) if b.correct & (1 << k) == 0);
            let s = state(missing, b.open_errors() > 0, usize::from(2 * t >= m));
            let action = if skip(t) {
                SKIP
            } else {
                Chat::sample(&probs[agent][s], u[t + 1])
            };
            let truth = match (action, role) {
                (ANSWER, ChatRole::Expert(k)) if missing && b.open_errors() == 0 => {
                    b.correct |= 1 << k;
                    1.0
                }
                (CLAIM, _) => {
                    b.open.push(t);
                    -1.0
                }
                (CORRECT, ChatRole::Checker) if b.open_errors() > 0 => {
                    b.head = b.open.len();
                    1.0
                }
                _ => 0.0,
            };
            if let Some(steps) = steps.as_deref_mut() {
                steps.push(ChatStep {
                    agent,
                    state: s,
                    action,
                    truth,
                });
            }
        }
        let have = b.correct.count_ones() as f64 / self.facts as f64;
        have * 0.5f64.powi(b.open_errors() as i32)
    }

    /// Plays an episode with every agent present.
    pub fn play(&self, probs: &Probs, u: &[f64]) -> ChatTranscript {
        let mut steps = Vec::with_capacity(MAX_MESSAGES);
        let reward = self.run(probs, u, |_| false, Some(&mut steps));
        ChatTranscript {
            steps,
            reward,
            success: reward >= 1.0,
        }
    }

    /// Difference rewards R − R(agent i skipping every turn), one rerun per agent.
    pub fn difference_rewards(&self, probs: &Probs, u: &[f64], reward: f64) -> Vec<f64> {
        (0..self.n)
            .map(|i| reward - self.run(probs, u, |t| t % self.n == i, None))
            .collect()
    }

    /// Each message's true counterfactual contribution: R − R(that message alone a
    /// `skip`, later agents reacting to what they now see), one rerun per message.
    pub fn counterfactual(&self, probs: &Probs, u: &[f64], reward: f64) -> Vec<f64> {
        (0..self.length(u))
            .map(|m| reward - self.run(probs, u, |t| t == m, None))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::ACTIONS;

    fn fixed(chat: &Chat, act: impl Fn(usize) -> usize) -> Probs {
        (0..chat.n)
            .map(|i| {
                let mut p = [0.0; ACTIONS];
                p[act(i)] = 1.0;
                vec![p; chat.states()]
            })
            .collect()
    }

    #[test]
    fn roles_lengths_and_outcomes() {
        let chat = Chat::new(10);
        assert_eq!(chat.facts, 6);
        assert_eq!(chat.roles[2], ChatRole::Checker);
        assert_eq!(chat.roles[3], ChatRole::Tempted);
        assert_eq!(chat.roles[4], ChatRole::Expert(2));
        let mut u = vec![0.5; MAX_MESSAGES + 1];
        u[0] = 0.0;
        assert_eq!(chat.length(&u), 20);
        u[0] = 0.999_999;
        assert_eq!(chat.length(&u), 130);
        assert_eq!(Chat::new(20).min_messages(), 40);
        // Experts answer, the rest skip: every fact, R = 1.
        let answer = fixed(&chat, |i| if i % 4 < 2 { ANSWER } else { SKIP });
        let tr = chat.play(&answer, &u);
        assert_eq!(tr.steps.len(), 130);
        assert_eq!(tr.reward, 1.0);
        assert!(tr.success);
        // Tempted agents that claim every turn: 26 claims open at the end; the experts
        // speaking after the first claim are misled, so only facts 0 and 1 count.
        let claim = fixed(&chat, |i| match i % 4 {
            0 | 1 => ANSWER,
            3 => CLAIM,
            _ => SKIP,
        });
        let tr = chat.play(&claim, &u);
        assert_eq!(tr.reward, 2.0 / 6.0 * 0.5f64.powi(26));
        assert_eq!(tr.steps[3].truth, -1.0);
        assert_eq!(tr.steps[4].truth, 0.0, "misled");
        // Checkers correcting every turn retract every open claim; the last one
        // (message 127, agent 7: no checker speaks after it) stands, and agents 4, 5,
        // 8, 9 always speak right after a claim: R = 2/6 · 1/2.
        let mut both = claim.clone();
        both[2] = fixed(&chat, |_| CORRECT)[0].clone();
        both[6] = both[2].clone();
        let tr = chat.play(&both, &u);
        assert!((tr.reward - 1.0 / 6.0).abs() < 1e-12, "{}", tr.reward);
        let cf = chat.counterfactual(&both, &u, tr.reward);
        assert_eq!(cf.len(), 130);
        // Without agent 7, agent 3's claims are retracted by agent 6 before experts 8
        // and 9 speak, and the last one (message 123) is retracted at 126: R = 4/6.
        // Without agent 3, experts 4 and 5 answer in round 0 but agent 7's last claim
        // stands: R = 4/6 · 1/2.
        let d = chat.difference_rewards(&both, &u, tr.reward);
        assert_eq!(d.len(), 10);
        assert!((d[7] + 0.5).abs() < 1e-12, "{d:?}");
        assert!((d[3] + 1.0 / 6.0).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn counterfactual_of_a_lone_claim() {
        // Four agents, 20 messages: experts answer in round 0, the tempted agent claims
        // once at message 3 and then skips (state-dependent policy), nobody corrects.
        let chat = Chat::new(4);
        let mut u = vec![0.5; MAX_MESSAGES + 1];
        u[0] = 0.0;
        let mut probs = fixed(&chat, |i| if i < 2 { ANSWER } else { SKIP });
        // Tempted: claim only while no claim is open.
        for (s, p) in probs[3].iter_mut().enumerate() {
            let open = s & 2 != 0;
            *p = [0.0; ACTIONS];
            p[if open { SKIP } else { CLAIM }] = 1.0;
        }
        let tr = chat.play(&probs, &u);
        assert_eq!(tr.reward, 0.5, "both facts, one claim open");
        let cf = chat.counterfactual(&probs, &u, tr.reward);
        // Without the claim at message 3, message 7 claims instead: R unchanged.
        assert_eq!(cf[3], 0.0);
        // Without expert 0's answer at message 0, its next turn (message 4) is misled
        // by the open claim, and so is every later one: R = 1/2 · 1/2.
        assert_eq!(cf[0], 0.25);
    }
}
