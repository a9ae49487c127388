//! Closed forms (DESIGN §4) for games that are sums of unanimity games.
//!
//! With a linear link, the mean aggregate and no redundancy groups, the surrogate is
//! v(T) = Σ_paths w_P·[S_P ⊆ T]: one unanimity game per provenance path P that starts at
//! a scored message s and walks to parents until it stops at x, with weight
//! w_P = q_s · Π (1 − α)/|parents| over its steps · end(x), end(x) = 1 for a root and α
//! otherwise; S_P is the set of players on the path (environment messages are always
//! present and drop out). Hence φ_j = Σ_{P ∋ j} w_P / |S_P|.
//!
//! Paths are never enumerated (there can be exponentially many). A forward pass `F[x][c]`
//! sums the weights of path prefixes from any start down to x with c players so far, a
//! backward pass `B[x][c]` sums completions below x, and φ_j joins them at j:
//! `φ_j = Σ_{c1, c2} F[j][c1]·B[j][c2] / (c1 + c2)`. Cost O((messages + parents)·L + messages·L²)
//! with L the most players on one path.
//!
//! The Owen value (agents as unions) of a unanimity game on S gives j ∈ S ∩ U_k the
//! share w / (|K(S)|·|S ∩ U_k|), K(S) the agents on the path. Per agent k the passes carry
//! (agent mask, count of k's messages); the join over mask pairs uses the subset-sum
//! (zeta) transform and the identity Σ_{U ⊇ V} (−1)^{|U∖V|}/|U| = (|V|−1)!(A−|V|)!/A!, so
//! it costs O(A·2^A·L + 2^A·L²) per message instead of O(4^A·L²).

use crate::csr::{EpisodeView, NO_AGENT};

/// Largest state table (entries) the Owen closed form allocates per pass.
pub const MAX_OWEN_STATES: usize = 1 << 24;

/// True when the episode's surrogate is a sum of path unanimity games (no groups).
pub fn applies(view: &EpisodeView) -> bool {
    !view.has_groups()
}

struct Paths {
    /// (1 − α)/|parents(x)| per message.
    step: Vec<f64>,
    /// end(x): 1 for a root, α otherwise.
    end: Vec<f64>,
    /// q of each message (its singleton group's score).
    q: Vec<f64>,
}

impl Paths {
    fn new(view: &EpisodeView, alpha: f64) -> Self {
        let n = view.len();
        let mut step = vec![0.0; n];
        let mut end = vec![1.0; n];
        for x in 0..n {
            let k = view.parents_of(x).len();
            if k > 0 {
                step[x] = (1.0 - alpha) / k as f64;
                end[x] = alpha;
            }
        }
        let q = (0..n)
            .map(|m| view.group_scores[view.groups[m] as usize])
            .collect();
        Paths { step, end, q }
    }
}

fn add_shifted(dst: &mut Vec<f64>, src: &[f64], shift: usize, w: f64) {
    if dst.len() < src.len() + shift {
        dst.resize(src.len() + shift, 0.0);
    }
    for (c, &v) in src.iter().enumerate() {
        dst[c + shift] += w * v;
    }
}

/// Flat Shapley values of the message game (players = messages with an agent), by the
/// path dynamic programme; raw (uncalibrated) values, indexed by player.
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
pub fn message_shapley(view: &EpisodeView, alpha: f64) -> Vec<f64> {
    let n = view.len();
    let g = Paths::new(view, alpha);
    let isp = |m: usize| usize::from(view.players[m] != NO_AGENT);
    let mut fwd: Vec<Vec<f64>> = vec![Vec::new(); n];
    for x in 0..n {
        if g.q[x] != 0.0 {
            add_shifted(&mut fwd[x], &[g.q[x]], isp(x), 1.0);
        }
    }
    for x in (0..n).rev() {
        if fwd[x].is_empty() || g.step[x] == 0.0 {
            continue;
        }
        let fx = std::mem::take(&mut fwd[x]);
        for p in view.parents_of(x).iter() {
            let p = p as usize;
            add_shifted(&mut fwd[p], &fx, isp(p), g.step[x]);
        }
        fwd[x] = fx;
    }
    let mut bwd: Vec<Vec<f64>> = vec![Vec::new(); n];
    for x in 0..n {
        let mut bx = vec![g.end[x]];
        if g.step[x] != 0.0 {
            for p in view.parents_of(x).iter() {
                let p = p as usize;
                add_shifted(&mut bx, &bwd[p], isp(p), g.step[x]);
            }
        }
        bwd[x] = bx;
    }
    let mut phi = vec![0.0; view.meta.player_count as usize];
    for j in 0..n {
        let pj = view.players[j];
        if pj == NO_AGENT {
            continue;
        }
        let mut acc = 0.0;
        for (c1, &f) in fwd[j].iter().enumerate().skip(1) {
            if f == 0.0 {
                continue;
            }
            for (c2, &b) in bwd[j].iter().enumerate() {
                acc += f * b / (c1 + c2) as f64;
            }
        }
        phi[pj as usize] = acc;
    }
    phi
}

/// The number of state entries the Owen closed form needs for its largest pass; compare
/// with [`MAX_OWEN_STATES`].
pub fn owen_states(view: &EpisodeView) -> usize {
    let by_agent = view.messages_by_agent();
    let active = by_agent.iter().filter(|m| !m.is_empty()).count();
    let most = by_agent.iter().map(Vec::len).max().unwrap_or(0);
    if active >= usize::BITS as usize - 1 {
        return usize::MAX;
    }
    view.len()
        .saturating_mul(1usize << active)
        .saturating_mul(most + 1)
}

/// Owen values of the message game with agents as unions (raw, indexed by player), by
/// the path dynamic programme. Needs [`owen_states`] ≤ [`MAX_OWEN_STATES`].
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
pub fn message_owen(view: &EpisodeView, alpha: f64) -> Vec<f64> {
    let n = view.len();
    let g = Paths::new(view, alpha);
    let by_agent = view.messages_by_agent();
    // Active agents get mask bits 0..A.
    let mut bit = vec![NO_AGENT; by_agent.len()];
    let mut a_count = 0usize;
    for (a, ms) in by_agent.iter().enumerate() {
        if !ms.is_empty() {
            bit[a] = a_count as u32;
            a_count += 1;
        }
    }
    let masks = 1usize << a_count;
    // Ĝ(s) = (s−1)!(A−s)!/A! = 1 / (s · C(A, s)).
    let mut ghat = vec![0.0; a_count + 1];
    let mut binom = 1.0f64; // C(A, s)
    for s in 1..=a_count {
        binom = binom * (a_count + 1 - s) as f64 / s as f64;
        ghat[s] = 1.0 / (s as f64 * binom);
    }
    let mut phi = vec![0.0; view.meta.player_count as usize];
    let any_all_earlier = (0..n).any(|x| view.all_earlier(x));
    // Work rows reused across the agents' passes.
    let (mut fwd, mut bwd, mut later, mut earlier) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, members) in by_agent.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        let width = members.len() + 1; // count of k's messages: 0..=u_k
        let row = masks * width;
        let mbit = |m: usize| -> (usize, usize) {
            let a = view.authors[m];
            if a == NO_AGENT {
                (0, 0)
            } else {
                (1usize << bit[a as usize], usize::from(a as usize == k))
            }
        };
        fwd.clear();
        fwd.resize(n * row, 0.0);
        later.clear();
        later.resize(row, 0.0);
        earlier.clear();
        earlier.resize(row, 0.0);
        for x in 0..n {
            if g.q[x] != 0.0 {
                let (mb, c) = mbit(x);
                fwd[x * row + mb * width + c] += g.q[x];
            }
        }
        // A message whose parents are every earlier message (a chat's prefix
        // provenance) pushes the same row into each of them, shifted by the receiver's
        // own bits: those pushes are summed once (`later`, Σ step·f over such messages
        // after x) and applied when x is reached, so a chat costs O(n) rows, not O(n²).
        later.fill(0.0);
        let mut later_any = false;
        for x in (0..n).rev() {
            let (head, tail) = fwd.split_at_mut(x * row);
            let fx = &mut tail[..row];
            if later_any {
                let (mb, cp) = mbit(x);
                shift_add(fx, &later, masks, width, mb, cp, 1.0);
            }
            if g.step[x] == 0.0 || fx.iter().all(|&v| v == 0.0) {
                continue;
            }
            if view.all_earlier(x) {
                for (l, &v) in later.iter_mut().zip(fx.iter()) {
                    *l += g.step[x] * v;
                }
                later_any = true;
                continue;
            }
            for &p in view.listed_parents(x) {
                let p = p as usize;
                let (mb, cp) = mbit(p);
                shift_add(&mut head[p * row..(p + 1) * row], fx, masks, width, mb, cp, g.step[x]);
            }
        }
        bwd.clear();
        bwd.resize(n * row, 0.0);
        // The backward pass's mirror: Σ over earlier messages of their rows shifted by
        // their own bits, kept as a running sum for the all-earlier messages.
        earlier.fill(0.0);
        for x in 0..n {
            let (head, tail) = bwd.split_at_mut(x * row);
            let bx = &mut tail[..row];
            bx[0] = g.end[x];
            if g.step[x] != 0.0 {
                if view.all_earlier(x) {
                    for (b, &v) in bx.iter_mut().zip(earlier.iter()) {
                        *b += g.step[x] * v;
                    }
                } else {
                    for &p in view.listed_parents(x) {
                        let p = p as usize;
                        let (mb, cp) = mbit(p);
                        shift_add(bx, &head[p * row..(p + 1) * row], masks, width, mb, cp, g.step[x]);
                    }
                }
            }
            if any_all_earlier {
                let (mb, cp) = mbit(x);
                shift_add(&mut earlier, bx, masks, width, mb, cp, 1.0);
            }
        }
        let mut fz = vec![0.0; row];
        let mut bz = vec![0.0; row];
        for &j in members {
            let j = j as usize;
            fz.copy_from_slice(&fwd[j * row..(j + 1) * row]);
            bz.copy_from_slice(&bwd[j * row..(j + 1) * row]);
            zeta(&mut fz, a_count, width);
            zeta(&mut bz, a_count, width);
            let mut acc = 0.0;
            for v in 1..masks {
                let s = v.count_ones() as usize;
                let mut inner = 0.0;
                for c1 in 1..width {
                    let f = fz[v * width + c1];
                    if f == 0.0 {
                        continue;
                    }
                    for c2 in 0..width - c1 {
                        inner += f * bz[v * width + c2] / (c1 + c2) as f64;
                    }
                }
                acc += ghat[s] * inner;
            }
            phi[view.players[j] as usize] = acc;
        }
    }
    phi
}

/// `dst[(mask | mb)·width + c + cp] += w · src[mask·width + c]` over every mask and count:
/// a row moved past a message whose author has mask bit `mb` (and counts `cp` when it is
/// the union under evaluation).
fn shift_add(dst: &mut [f64], src: &[f64], masks: usize, width: usize, mb: usize, cp: usize, w: f64) {
    for mask in 0..masks {
        let from = &src[mask * width..mask * width + width - cp];
        let at = (mask | mb) * width + cp;
        for (d, &v) in dst[at..at + width - cp].iter_mut().zip(from) {
            *d += w * v;
        }
    }
}

/// In-place subset-sum transform over `bits` mask bits of rows of `width` entries.
fn zeta(a: &mut [f64], bits: usize, width: usize) {
    for b in 0..bits {
        for v in 0..1usize << bits {
            if v >> b & 1 == 1 {
                let u = v ^ (1 << b);
                for c in 0..width {
                    a[v * width + c] += a[u * width + c];
                }
            }
        }
    }
}
