//! The turnwise JSON Lines format (`docs/formats.md`).
//!
//! A batch file holds one [`Group`] per line, tagged with the format version
//! (`{"v": 1, "prompt_id": …, "trajectories": […]}`). The same reader also accepts the
//! reference test-vector schema (one [`Case`] per line: `method`, `params`, `groups`,
//! `expected`), so the vectors and real rollouts go through one code path.
//!
//! Files are read as a stream, one line at a time; every error names the file, the line,
//! and the path of the offending field. Files are written atomically (temp file + rename).

mod wire;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, ParseError};
use crate::trajectory::{Batch, Group};
use wire::{CaseWire, GroupWire};

/// The current version of the batch-file format (`v` on every group line).
pub const FORMAT_VERSION: u32 = 1;

/// One reference test case: a method, its parameters, a batch and the expected output.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Registered method name.
    pub method: String,
    /// Case name.
    pub name: String,
    /// Free-text note.
    pub note: String,
    /// Method parameters as given.
    pub params: serde_json::Map<String, Value>,
    /// The input groups.
    pub batch: Batch,
    /// Expected main output (shape depends on the method).
    pub expected: Option<Value>,
    /// Expected auxiliary outputs (`turn_rewards`, `clip_eps`, …).
    pub expected_extra: Option<Value>,
}

/// One line of an input file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A group of a turnwise batch file.
    Group(Group),
    /// A reference test case.
    Case(Box<Case>),
}

fn parse_error(
    file: &Path,
    line: usize,
    path: impl Into<String>,
    message: impl Into<String>,
) -> ParseError {
    ParseError {
        file: file.to_path_buf(),
        line,
        path: path.into(),
        message: message.into(),
    }
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    file: &Path,
    line: usize,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        parse_error(file, line, path, msg)
    })
}

/// Parses one non-empty line of a batch or vector file.
pub fn parse_record(text: &str, file: &Path, line: usize) -> Result<Record, ParseError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| parse_error(file, line, ".", format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = &value else {
        return Err(parse_error(file, line, ".", "expected a JSON object"));
    };
    if obj.contains_key("method") || obj.contains_key("groups") {
        let case: CaseWire = from_value(value, file, line)?;
        let groups = case
            .groups
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                g.into_group()
                    .map_err(|(p, m)| parse_error(file, line, format!("groups[{i}].{p}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Record::Case(Box::new(Case {
            method: case.method,
            name: case.name,
            note: case.note,
            params: case.params,
            batch: Batch { groups },
            expected: case.expected,
            expected_extra: case.expected_extra,
        })));
    }
    match obj.get("v") {
        None => {
            return Err(parse_error(
                file,
                line,
                "v",
                format!("missing format version (a group line needs \"v\": {FORMAT_VERSION}; a test case needs \"method\")"),
            ))
        }
        Some(Value::Number(n)) if n.as_u64() == Some(FORMAT_VERSION as u64) => {}
        Some(other) => {
            return Err(parse_error(
                file,
                line,
                "v",
                format!("unsupported format version {other}; this turnwise reads version {FORMAT_VERSION}"),
            ))
        }
    }
    let group: GroupWire = from_value(value, file, line)?;
    let group = group
        .into_group()
        .map_err(|(p, m)| parse_error(file, line, p, m))?;
    Ok(Record::Group(group))
}

/// Streams the records of a file, one line at a time. Blank lines are skipped.
pub struct RecordReader<R> {
    reader: R,
    file: PathBuf,
    line: usize,
    buf: String,
}

impl<R: BufRead> RecordReader<R> {
    /// Reads records from `reader`; `file` names it in errors.
    pub fn new(reader: R, file: impl Into<PathBuf>) -> Self {
        RecordReader {
            reader,
            file: file.into(),
            line: 0,
            buf: String::new(),
        }
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    /// The 1-based line number and the record.
    type Item = Result<(usize, Record), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    let err = if e.kind() == std::io::ErrorKind::InvalidData {
                        Error::Parse(parse_error(
                            &self.file,
                            self.line,
                            ".",
                            "line is not valid UTF-8",
                        ))
                    } else {
                        Error::Io {
                            path: self.file.clone(),
                            source: e,
                        }
                    };
                    return Some(Err(err));
                }
            }
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            return Some(
                parse_record(text, &self.file, self.line)
                    .map(|r| (self.line, r))
                    .map_err(Error::from),
            );
        }
    }
}

/// Opens `path` for streaming (`-` reads standard input).
pub fn open(path: &Path) -> Result<RecordReader<Box<dyn BufRead>>, Error> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = File::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    Ok(RecordReader::new(reader, path))
}

/// Reads a whole file into one [`Batch`]: the groups of group lines and of test cases, in order.
pub fn read_batch(path: &Path) -> Result<Batch, Error> {
    let mut batch = Batch::default();
    for rec in open(path)? {
        match rec? {
            (_, Record::Group(g)) => batch.groups.push(g),
            (_, Record::Case(c)) => batch.groups.extend(c.batch.groups),
        }
    }
    Ok(batch)
}

/// Serialises one group as a batch-file line (without the trailing newline).
pub fn group_to_line(group: &Group) -> String {
    serde_json::to_string(&GroupWire::from_group(group, Some(FORMAT_VERSION)))
        .expect("a group always serialises")
}

/// Serialises a group as the `groups` element of a test case (no version tag).
pub fn group_to_value(group: &Group) -> Value {
    serde_json::to_value(GroupWire::from_group(group, None)).expect("a group always serialises")
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and
/// synced, then renamed over `path`. A crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

/// The temporary sibling used by [`write_atomic`] and [`AtomicWriter`].
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// A buffered writer whose file appears at its final path only on [`AtomicWriter::commit`].
pub struct AtomicWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: std::io::BufWriter<File>,
}

impl AtomicWriter {
    /// Starts writing `path` (through a temporary sibling).
    pub fn create(path: &Path) -> Result<Self, Error> {
        let tmp = tmp_path(path);
        let f = File::create(&tmp).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(AtomicWriter {
            path: path.to_path_buf(),
            tmp,
            out: std::io::BufWriter::new(f),
        })
    }

    /// Appends one group line.
    pub fn write_group(&mut self, group: &Group) -> Result<(), Error> {
        let line = group_to_line(group);
        self.write_line(&line)
    }

    /// Appends one raw line (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<(), Error> {
        let io = |e| Error::Io {
            path: self.path.clone(),
            source: e,
        };
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<(), Error> {
        let io = |e| Error::Io {
            path: self.path.clone(),
            source: e,
        };
        let f = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests;
