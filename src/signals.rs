//! Training signals (DESIGN §5): turning agent credit into per-message rewards.
//!
//! **Label split** (`--split label`, and message credit for measured coalition values):
//! agent i's credit φ_i is spread over its messages by their scores. Non-redundant
//! harmful messages (score < 0) share −ρ·|φ_i| in proportion to |score|; non-redundant
//! helpful messages (score > 0) share φ_i + ρ·|φ_i| in proportion to score; redundant
//! copies (a later member of a redundancy group) and zero-score messages get 0. When the
//! agent has no helpful message, or no harmful one, ρ is not used and φ_i is shared by
//! the helpful ones, or, with none, equally by its non-redundant messages. The shares sum
//! to φ_i exactly (up to rounding), and every |r_m| ≤ (1 + ρ)·|φ_i|.

/// One message as the label split sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    /// The message's score q (0 when unscored).
    pub score: f64,
    /// A later copy within a redundancy group.
    pub redundant: bool,
}

/// Splits `phi` over messages labelled `labels` (see the module docs). Returns one share
/// per label; the shares sum to `phi`.
pub fn label_split(phi: f64, labels: &[Label], rho: f64) -> Vec<f64> {
    let mut out = vec![0.0; labels.len()];
    if labels.is_empty() || phi == 0.0 {
        return out;
    }
    let pos: f64 = labels
        .iter()
        .filter(|l| !l.redundant && l.score > 0.0)
        .map(|l| l.score)
        .sum();
    let neg: f64 = labels
        .iter()
        .filter(|l| !l.redundant && l.score < 0.0)
        .map(|l| -l.score)
        .sum();
    if pos > 0.0 {
        let harm = if neg > 0.0 { rho * phi.abs() } else { 0.0 };
        for (o, l) in out.iter_mut().zip(labels) {
            if l.redundant {
                continue;
            }
            if l.score > 0.0 {
                *o = (phi + harm) * l.score / pos;
            } else if l.score < 0.0 {
                *o = -harm * (-l.score) / neg;
            }
        }
    } else {
        let k = labels.iter().filter(|l| !l.redundant).count();
        let (k, all) = if k == 0 {
            (labels.len(), true)
        } else {
            (k, false)
        };
        for (o, l) in out.iter_mut().zip(labels) {
            if all || !l.redundant {
                *o = phi / k as f64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(score: f64, redundant: bool) -> Label {
        Label { score, redundant }
    }

    #[test]
    fn conserves_and_bounds() {
        let rho = 0.25;
        let cases: Vec<Vec<Label>> = vec![
            vec![l(0.5, false), l(-0.5, false), l(0.9, true)],
            vec![l(-0.2, false), l(-0.9, false)],
            vec![l(0.0, false), l(0.0, true)],
            vec![l(0.3, true)],
            vec![l(1.0, false)],
        ];
        for phi in [1.0, -0.7, 0.0, 3.5] {
            for labels in &cases {
                let r = label_split(phi, labels, rho);
                let sum: f64 = r.iter().sum();
                assert!((sum - phi).abs() < 1e-12, "{phi} {labels:?} -> {r:?}");
                for x in &r {
                    assert!(x.abs() <= (1.0 + rho) * phi.abs() + 1e-12);
                }
            }
        }
        let r = label_split(1.0, &cases[0], rho);
        assert_eq!(r, vec![1.25, -0.25, 0.0]);
    }
}
