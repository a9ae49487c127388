//! Exact estimators by enumeration of all 2^n coalitions (n ≤ [`MAX_EXACT_PLAYERS`]):
//! the Shapley value, and the Owen value for a coalition structure (message credit with
//! agents as a priori unions).

use crate::game::Evaluator;

/// Most players for exact enumeration.
pub const MAX_EXACT_PLAYERS: usize = 20;

/// v(S) for every bitmask S. O(2^n · cost of one evaluation).
pub fn value_table(game: &mut dyn Evaluator) -> Vec<f64> {
    let n = game.players();
    assert!(
        n <= MAX_EXACT_PLAYERS,
        "exact enumeration needs n <= {MAX_EXACT_PLAYERS}"
    );
    (0..1u64 << n).map(|s| game.value_mask(s)).collect()
}

/// `w[s] = s!(n−s−1)!/n!`, the Shapley weight of a coalition of size s not containing i.
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
pub fn shapley_weights(n: usize) -> Vec<f64> {
    // Built as 1/(n·C(n−1, s)) to avoid factorial overflow.
    let mut w = vec![0.0; n.max(1)];
    let mut binom = 1.0f64; // C(n-1, s)
    for s in 0..n {
        w[s] = 1.0 / (n as f64 * binom);
        binom = binom * (n - 1 - s) as f64 / (s + 1) as f64;
    }
    w
}

/// Shapley values from a full value table of length 2^n. O(n·2^n).
pub fn shapley_from_table(table: &[f64]) -> Vec<f64> {
    let n = table.len().trailing_zeros() as usize;
    let w = shapley_weights(n);
    let mut phi = vec![0.0; n];
    for (i, phi_i) in phi.iter_mut().enumerate() {
        let bit = 1usize << i;
        let mut acc = 0.0;
        for s in 0..table.len() {
            if s & bit == 0 {
                acc += w[s.count_ones() as usize] * (table[s | bit] - table[s]);
            }
        }
        *phi_i = acc;
    }
    phi
}

/// Exact Shapley values of `game`.
pub fn shapley_exact(game: &mut dyn Evaluator) -> Vec<f64> {
    shapley_from_table(&value_table(game))
}

/// The Owen value from a full value table over players, with `unions` a partition of
/// the players (each inner list non-empty). By the formula
/// Ow_j = Σ_{R ⊆ M∖{k}} Σ_{T ⊆ U_k∖{j}} w_m(|R|)·w_{u_k}(|T|)·(v(Q_R ∪ T ∪ j) − v(Q_R ∪ T)),
/// with Q_R the players of the unions in R and w_n the Shapley weights for n players.
/// O(Σ_k 2^(m−1) · u_k · 2^(u_k − 1)).
pub fn owen_from_table(table: &[f64], unions: &[Vec<usize>]) -> Vec<f64> {
    let n = table.len().trailing_zeros() as usize;
    let m = unions.len();
    let wm = shapley_weights(m);
    let union_mask: Vec<usize> = unions
        .iter()
        .map(|u| u.iter().fold(0usize, |acc, &p| acc | 1 << p))
        .collect();
    let mut phi = vec![0.0; n];
    for (k, members) in unions.iter().enumerate() {
        let u = members.len();
        let wu = shapley_weights(u);
        // Local subset t of the union's members → global player mask.
        let mut local = vec![0usize; 1 << u];
        for t in 1..1usize << u {
            let low = t.trailing_zeros() as usize;
            local[t] = local[t & (t - 1)] | 1 << members[low];
        }
        for r in 0..1usize << m {
            if r >> k & 1 == 1 {
                continue;
            }
            let mut base = 0usize;
            for (l, mask) in union_mask.iter().enumerate() {
                if r >> l & 1 == 1 {
                    base |= mask;
                }
            }
            let w_r = wm[r.count_ones() as usize];
            for (ji, &j) in members.iter().enumerate() {
                let mut acc = 0.0;
                // T ranges over subsets of the union's other members (local bit masks).
                for t in 0..1usize << u {
                    if t >> ji & 1 == 1 {
                        continue;
                    }
                    let s = base | local[t];
                    acc += wu[t.count_ones() as usize] * (table[s | 1 << j] - table[s]);
                }
                phi[j] += w_r * acc;
            }
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::needless_range_loop,
        reason = "the index is the formula's own index (several arrays are read at it)"
    )]
    fn weights_sum_to_one_over_sizes() {
        for n in 1..=20 {
            let w = shapley_weights(n);
            // Σ_s C(n−1, s)·w[s] = 1.
            let mut binom = 1.0;
            let mut total = 0.0;
            for s in 0..n {
                total += binom * w[s];
                binom = binom * (n - 1 - s) as f64 / (s + 1) as f64;
            }
            assert!((total - 1.0).abs() < 1e-12, "n={n}: {total}");
        }
    }
}
