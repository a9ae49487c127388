//! One record, start to finish, on the CPU: plan it ([`crate::plan`]), run its jobs with
//! the reference estimators ([`crate::engine::execute`]) and finish it
//! ([`crate::finish`]). The streaming pipeline does the same per chunk, on either
//! backend; these helpers serve library callers and tests that hold single records.

use crate::options::ScoreOptions;

use crate::csr::EpisodeView;
use crate::engine::execute;
use crate::error::{ErrorKind, RecordError};
use crate::model::{Episode, Game, Record};
use crate::output::{EpisodeOut, GameOut, OutRecord};
use crate::plan::{JobList, PlanKind};

fn option_error(e: crate::options::OptionError) -> RecordError {
    RecordError::new(None, 0, e.option, ErrorKind::InvalidOption, e.to_string())
}

/// Scores one episode whose rows are `view` (record `view` of its batch).
#[cfg(test)]
pub fn score_episode(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
) -> Result<EpisodeOut, RecordError> {
    score_episode_with_pairs(ep, view, opts).map(|(out, _)| out)
}

/// Scores one episode and returns its output record and its preference-pair records.
/// Invalid options are an error naming the option.
pub fn score_episode_with_pairs(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
) -> Result<(EpisodeOut, Vec<serde_json::Value>), RecordError> {
    opts.validate().map_err(option_error)?;
    // The jobs name record 0, read from `view` itself.
    let mut list = JobList::new();
    let plan = list.plan_episode(ep, view, 0, opts)?;
    let results = execute::run_cpu(&view, &list.games, &list.jobs, &opts.model, &opts.sampling);
    let PlanKind::Episode(p) = &plan.kind else {
        unreachable!("an episode's plan")
    };
    crate::finish::finish_episode(
        ep,
        view,
        p,
        &list.jobs[plan.jobs.clone()],
        &results[plan.jobs],
        opts,
    )
}

/// Scores one game record on the CPU.
pub fn score_game(g: &Game, opts: &ScoreOptions) -> Result<GameOut, RecordError> {
    opts.validate().map_err(option_error)?;
    let mut list = JobList::new();
    let plan = list.plan_game(g, opts)?;
    let batch = crate::csr::CsrBatch::default();
    let results = execute::run_cpu(&batch, &list.games, &list.jobs, &opts.model, &opts.sampling);
    let k = plan.jobs.start;
    crate::finish::finish_game(g, &list.jobs[k], &results[k])
}

/// Scores a validated record on the CPU; returns the output record and any
/// preference-pair records.
pub fn score_record(
    rec: &Record,
    opts: &ScoreOptions,
) -> Result<(OutRecord, Vec<serde_json::Value>), RecordError> {
    match rec {
        Record::Episode(ep) => {
            let batch = crate::csr::CsrBatch::from_episodes([ep]).map_err(|o| {
                RecordError::new(
                    Some(ep.id.clone()),
                    ep.line,
                    "messages",
                    ErrorKind::TooLarge,
                    o.to_string(),
                )
            })?;
            score_episode_with_pairs(ep, batch.episode(0), opts)
                .map(|(o, p)| (OutRecord::Episode(o), p))
        }
        Record::Game(g) => score_game(g, opts).map(|o| (OutRecord::Game(o), Vec::new())),
    }
}
