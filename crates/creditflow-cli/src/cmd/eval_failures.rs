//! `creditflow eval-failures`: first-error predictions against gold labels.

use anyhow::Result;

use crate::args::EvalArgs;

/// Runs `creditflow eval-failures`.
pub fn run(a: &EvalArgs) -> Result<()> {
    let report = crate::eval::evaluate(&a.pred, &a.gold)?;
    print!("{report}");
    Ok(())
}
