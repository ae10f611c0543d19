//! The package's own Python loop for `turnwise env bench`: a hosted game's backend called
//! in-process by `python/servers/bench.py`, in a Python process that stays up for the whole
//! bench so the bench can alternate it with the server episode by episode.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::hosted::{python, servers_dir};

/// Expert episodes played by one side of `turnwise env bench`.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct Played {
    /// Steps taken.
    pub steps: usize,
    /// Wall-clock seconds spent stepping (resets excluded).
    pub seconds: f64,
    /// CPU seconds spent stepping (of the thread that steps).
    pub cpu_seconds: f64,
}

/// The package's own Python loop, in-process, in a Python process of its own
/// (`python/servers/bench.py`): it plays expert episodes when asked, so `turnwise env
/// bench` can alternate it episode by episode with the server in one run.
pub struct InProcessLoop {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl InProcessLoop {
    /// Starts `bench.py` for `game` with `options`.
    pub fn start(game: &str, options: &[(String, String)]) -> Result<InProcessLoop, String> {
        let mut child = Command::new(python())
            .arg(servers_dir().join("bench.py"))
            .args(["--game", game])
            .args(
                options
                    .iter()
                    .flat_map(|(k, v)| ["--option".to_owned(), format!("{k}={v}")]),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python().display()))?;
        let input = child.stdin.take().expect("piped stdin");
        let output = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(InProcessLoop {
            child,
            input,
            output,
        })
    }

    /// Plays the expert episodes of seeds `seed..seed + episodes`.
    pub fn play(&mut self, seed: u64, episodes: usize) -> Result<Played, String> {
        writeln!(self.input, "{seed} {episodes}")
            .and_then(|_| self.input.flush())
            .map_err(|e| format!("bench.py: {e} (its errors are above)"))?;
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .map_err(|e| format!("bench.py: {e}"))?;
        parse_played(&line)
    }
}

/// Reads `bench.py`'s answer line: `{"steps", "seconds", "cpu_seconds"}`, every key
/// required (a missing or mistyped one is an error naming it, not a zero).
fn parse_played(line: &str) -> Result<Played, String> {
    serde_json::from_str(line)
        .map_err(|e| format!("bench.py answered {line:?}: {e} (its errors are above)"))
}

impl Drop for InProcessLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_played;

    #[test]
    fn answers_parse_and_missing_keys_are_errors() {
        let p = parse_played(r#"{"steps": 12, "seconds": 0.5, "cpu_seconds": 0.25}"#).unwrap();
        assert_eq!(p.steps, 12);
        assert_eq!((p.seconds, p.cpu_seconds), (0.5, 0.25));
        let e = parse_played(r#"{"steps": 12, "seconds": 0.5}"#).unwrap_err();
        assert!(e.contains("cpu_seconds"), "{e}");
        let e = parse_played(r#"{"steps": "12", "seconds": 0.5, "cpu_seconds": 0.2}"#).unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
        assert!(parse_played("Traceback (most recent call last):").is_err());
    }
}
