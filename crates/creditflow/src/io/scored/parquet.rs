//! Scored Parquet output (feature `parquet`): the §6 `episodes`, `agents` and `messages`
//! files that `score -o out.parquet` writes, read batch by batch in step and joined by
//! episode id into the same [`ScoredEpisode`]s as the JSON Lines records. The three
//! tables hold episodes in the same order, so one episode's rows are at the head of each
//! table when its `episodes` row is read: memory is one batch per table. The `errors`
//! table's rows count as error records, and each game of the `games` table as a game
//! record.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};

use super::{
    Scored, ScoredAgent, ScoredEpisode, ScoredError, ScoredFailure, ScoredFirstError, ScoredGame,
    ScoredMessage,
};
use crate::io::parquet::{ParquetBatches, batches, table_paths};
use crate::schema::Id;

/// One table, read a batch at a time, with a cursor on its current row.
struct Table {
    path: PathBuf,
    reader: Option<ParquetBatches>,
    batch: Option<RecordBatch>,
    /// Row within `batch`.
    row: usize,
    /// Rows of the file before `batch`.
    before: u64,
}

impl Table {
    fn open(path: &Path, required: bool) -> Result<Table, ScoredError> {
        let mut table = Table {
            path: path.to_path_buf(),
            reader: None,
            batch: None,
            row: 0,
            before: 0,
        };
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
            Err(e) => return Err(ScoredError::io(path, e)),
        }
        let reader = batches(path).map_err(|e| ScoredError::Columnar(e.to_string()))?;
        table.reader = Some(reader);
        Ok(table)
    }

    /// The current row (1-based in the file) and its batch, or `None` at the end.
    fn current(&mut self) -> Result<Option<(&RecordBatch, usize)>, ScoredError> {
        loop {
            if let Some(b) = &self.batch
                && self.row < b.num_rows()
            {
                break;
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            if let Some(b) = &self.batch {
                self.before += b.num_rows() as u64;
            }
            self.row = 0;
            match reader.next() {
                None => {
                    self.batch = None;
                    self.reader = None;
                    return Ok(None);
                }
                Some(Ok(b)) => self.batch = Some(b),
                Some(Err(e)) => {
                    return Err(ScoredError::Columnar(match e {
                        arrow_schema::ArrowError::ExternalError(e) => e.to_string(),
                        e => format!("reading {}: {e}", self.path.display()),
                    }));
                }
            }
        }
        let b = self.batch.as_ref().expect("a batch with rows");
        Ok(Some((b, self.row)))
    }

    fn bad(&self, column: &str, message: impl Into<String>) -> ScoredError {
        ScoredError::BadRow {
            path: self.path.clone(),
            row: self.before + self.row as u64 + 1,
            column: column.into(),
            message: message.into(),
        }
    }
}

/// Column readers that name the file, row and column of a wrong type or a null.
fn column<'a>(t: &Table, b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, ScoredError> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| t.bad(name, "missing column"))
}

fn string(
    t: &Table,
    b: &RecordBatch,
    row: usize,
    name: &str,
) -> Result<Option<String>, ScoredError> {
    let c = column(t, b, name)?;
    let c = c.as_string_opt::<i32>().ok_or_else(|| {
        t.bad(
            name,
            format!("must be a string column, found {}", c.data_type()),
        )
    })?;
    Ok(c.is_valid(row).then(|| c.value(row).to_string()))
}

fn required_string(
    t: &Table,
    b: &RecordBatch,
    row: usize,
    name: &str,
) -> Result<String, ScoredError> {
    string(t, b, row, name)?.ok_or_else(|| t.bad(name, "null"))
}

fn float(t: &Table, b: &RecordBatch, row: usize, name: &str) -> Result<f64, ScoredError> {
    let c = column(t, b, name)?;
    let c = c.as_primitive_opt::<Float64Type>().ok_or_else(|| {
        t.bad(
            name,
            format!("must be a double column, found {}", c.data_type()),
        )
    })?;
    if c.is_null(row) {
        return Err(t.bad(name, "null"));
    }
    Ok(c.value(row))
}

fn uint32(t: &Table, b: &RecordBatch, row: usize, name: &str) -> Result<Option<u32>, ScoredError> {
    let c = column(t, b, name)?;
    let c = c.as_primitive_opt::<UInt32Type>().ok_or_else(|| {
        t.bad(
            name,
            format!("must be a uint32 column, found {}", c.data_type()),
        )
    })?;
    Ok(c.is_valid(row).then(|| c.value(row)))
}

fn uint64(t: &Table, b: &RecordBatch, row: usize, name: &str) -> Result<Option<u64>, ScoredError> {
    let c = column(t, b, name)?;
    let c = c.as_primitive_opt::<UInt64Type>().ok_or_else(|| {
        t.bad(
            name,
            format!("must be a uint64 column, found {}", c.data_type()),
        )
    })?;
    Ok(c.is_valid(row).then(|| c.value(row)))
}

/// The scored episodes of a Parquet output, in order, then its error rows.
pub struct ParquetScored {
    episodes: Table,
    agents: Table,
    messages: Table,
    errors: Table,
    games: Table,
}

impl ParquetScored {
    /// Opens the tables of the output whose messages file is `path`.
    pub fn open(path: &Path) -> Result<Self, ScoredError> {
        let paths = table_paths(path);
        let find = |name: &str| {
            paths
                .iter()
                .find(|(t, _)| *t == name)
                .map(|(_, p)| p.clone())
                .expect("a §6 table")
        };
        Ok(ParquetScored {
            episodes: Table::open(&find("episodes"), true)?,
            agents: Table::open(&find("agents"), true)?,
            messages: Table::open(path, true)?,
            errors: Table::open(&find("errors"), false)?,
            games: Table::open(&find("games"), false)?,
        })
    }

    fn episode(&mut self) -> Result<Option<ScoredEpisode>, ScoredError> {
        let Some((b, row)) = self.episodes.current()? else {
            return Ok(None);
        };
        let b = b.clone();
        let t = &self.episodes;
        let id = required_string(t, &b, row, "episode_id")?;
        let flags_col = column(t, &b, "flags")?;
        let flags_col = flags_col
            .as_list_opt::<i32>()
            .ok_or_else(|| t.bad("flags", "must be a list column"))?;
        let mut flags = Vec::new();
        if flags_col.is_valid(row) {
            let items = flags_col.value(row);
            let items = items
                .as_string_opt::<i32>()
                .ok_or_else(|| t.bad("flags", "must be a list of strings"))?;
            flags.extend(items.iter().flatten().map(str::to_string));
        }
        let samples = {
            let c = column(t, &b, "samples")?;
            let c = c
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(|| t.bad("samples", "must be a uint64 column"))?;
            if c.is_valid(row) { c.value(row) } else { 0 }
        };
        let first_error = match uint32(t, &b, row, "first_error_index")? {
            None => None,
            Some(index) => Some(ScoredFirstError {
                index,
                message: Id(required_string(t, &b, row, "first_error_message")?),
                agent: required_string(t, &b, row, "first_error_agent")?,
                method: required_string(t, &b, row, "first_error_method")?,
            }),
        };
        let mut episode = ScoredEpisode {
            id: Id(id.clone()),
            branch: required_string(t, &b, row, "branch")?,
            reward: float(t, &b, row, "reward")?,
            baseline: float(t, &b, row, "baseline")?,
            method: required_string(t, &b, row, "method")?,
            samples,
            flags,
            agents: Vec::new(),
            messages: Vec::new(),
            first_error,
        };
        if episode.branch != "success" && episode.branch != "failure" {
            return Err(t.bad(
                "branch",
                format!("must be success or failure, found {:?}", episode.branch),
            ));
        }
        self.episodes.row += 1;
        while let Some((b, row)) = self.agents.current()? {
            let b = b.clone();
            let t = &self.agents;
            if required_string(t, &b, row, "episode_id")? != id {
                break;
            }
            episode.agents.push(ScoredAgent {
                agent: required_string(t, &b, row, "agent")?,
                credit: float(t, &b, row, "credit")?,
                se: float(t, &b, row, "se")?,
            });
            self.agents.row += 1;
        }
        while let Some((b, row)) = self.messages.current()? {
            let b = b.clone();
            let t = &self.messages;
            if required_string(t, &b, row, "episode_id")? != id {
                break;
            }
            episode.messages.push(ScoredMessage {
                id: Id(required_string(t, &b, row, "message_id")?),
                agent: required_string(t, &b, row, "agent")?,
                index: uint32(t, &b, row, "index")?.ok_or_else(|| t.bad("index", "null"))?,
                credit: float(t, &b, row, "credit")?,
                se: float(t, &b, row, "se")?,
                reward: float(t, &b, row, "reward")?,
            });
            self.messages.row += 1;
        }
        episode
            .check()
            .map_err(|(field, message)| self.episodes.bad(&field, message))?;
        Ok(Some(episode))
    }

    fn error(&mut self) -> Result<Option<Scored>, ScoredError> {
        let Some((b, row)) = self.errors.current()? else {
            return Ok(None);
        };
        let b = b.clone();
        let t = &self.errors;
        let failure = ScoredFailure {
            id: string(t, &b, row, "episode_id")?.map(Id),
            line: uint64(t, &b, row, "line")?,
            field: string(t, &b, row, "field")?,
            kind: string(t, &b, row, "kind")?.unwrap_or_else(|| "error".into()),
            error: string(t, &b, row, "error")?.unwrap_or_default(),
        };
        self.errors.row += 1;
        Ok(Some(Scored::Error(failure)))
    }
}

impl ParquetScored {
    /// The next game record: a run of `games` rows (one per player) with one game id.
    fn game(&mut self) -> Result<Option<Scored>, ScoredError> {
        let Some((b, row)) = self.games.current()? else {
            return Ok(None);
        };
        let b = b.clone();
        let t = &self.games;
        let mut game = ScoredGame {
            id: Id(required_string(t, &b, row, "game_id")?),
            method: required_string(t, &b, row, "method")?,
            samples: uint64(t, &b, row, "samples")?.unwrap_or(0),
            shapley: Vec::new(),
            se: Vec::new(),
        };
        while let Some((b, row)) = self.games.current()? {
            let b = b.clone();
            let t = &self.games;
            if required_string(t, &b, row, "game_id")? != game.id.0 {
                break;
            }
            game.shapley.push(float(t, &b, row, "shapley")?);
            game.se.push(float(t, &b, row, "se")?);
            self.games.row += 1;
        }
        Ok(Some(Scored::Game(game)))
    }
}

impl Iterator for ParquetScored {
    type Item = Result<Scored, ScoredError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.episode() {
            Ok(Some(e)) => return Some(Ok(Scored::Episode(Box::new(e)))),
            Ok(None) => {}
            Err(e) => {
                // One error ends the records: the cursors are no longer in step.
                self.episodes.reader = None;
                self.episodes.batch = None;
                self.errors.reader = None;
                self.errors.batch = None;
                return Some(Err(e));
            }
        }
        match self.error() {
            Ok(None) => self.game().transpose(),
            other => other.transpose(),
        }
    }
}
