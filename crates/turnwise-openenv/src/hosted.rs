//! TextWorld and ScienceWorld through the repository's Python OpenEnv servers
//! (`python/servers/serve.py`, a pool of worker processes). With `url` empty (the default)
//! turnwise starts one server per distinct game and options on a free loopback port, with
//! the Python of `scripts/setup.d/40-envs.sh`'s virtual environment, and the server ends
//! with the turnwise process (it exits when its standard input closes). With `url` set, the
//! environment connects to a server the user started:
//!
//! ```sh
//! $TURNWISE_CACHE/venv-envs/bin/python python/servers/serve.py --game textworld-cooking --port 8000
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Map;
use turnwise_envs::options::{OptionKind, OptionSpec, Options};
use turnwise_envs::registry::EnvSpec;
use turnwise_envs::{Env, EnvError};

use crate::client::{ClientConfig, OpenEnvClient};

/// The Python interpreter of the environment servers: `$TURNWISE_ENVS_PYTHON`, else the
/// venv `venv-envs` in turnwise's per-user cache.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TURNWISE_ENVS_PYTHON") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("TURNWISE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
                });
            base.join("turnwise")
        });
    cache.join("venv-envs").join("bin").join("python")
}

/// The folder of the Python servers: `$TURNWISE_SERVERS`, else `python/servers` of the
/// source tree turnwise was built from.
pub fn servers_dir() -> PathBuf {
    std::env::var_os("TURNWISE_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/servers"))
        })
}

/// A server process started by turnwise; its standard input stays open while it lives.
struct Started {
    child: Child,
    _stdin: ChildStdin,
    url: String,
}

static STARTED: Mutex<Vec<(String, Started)>> = Mutex::new(Vec::new());

/// Starts `serve.py --game GAME` with `options` and `workers` (once per distinct key) and
/// returns its URL; the server prints `listening on URL` when it accepts connections.
pub fn ensure_server(
    game: &str,
    options: &[(String, String)],
    workers: usize,
) -> Result<String, String> {
    let key = format!("{game} {workers} {options:?}");
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    started.retain_mut(|(_, s)| matches!(s.child.try_wait(), Ok(None)));
    if let Some((_, s)) = started.iter().find(|(k, _)| *k == key) {
        return Ok(s.url.clone());
    }
    let py = python();
    let script = servers_dir().join("serve.py");
    let mut cmd = Command::new(&py);
    cmd.arg(&script)
        .args(["--game", game, "--port", "0", "--exit-on-stdin-eof"])
        .args(["--workers", &workers.to_string()]);
    for (k, v) in options {
        cmd.arg("--option").arg(format!("{k}={v}"));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {} {} ({e}); run scripts/setup.sh, or set TURNWISE_ENVS_PYTHON",
                py.display(),
                script.display()
            )
        })?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let limit = Duration::from_secs(300);
    let url = match rx.recv_timeout(limit) {
        Ok(Some(Ok(line))) if line.starts_with("listening on ") => {
            line["listening on ".len()..].trim().to_owned()
        }
        other => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the {game} server did not start within {} s ({other:?}); its errors are above",
                limit.as_secs()
            ));
        }
    };
    started.push((
        key,
        Started {
            child,
            _stdin: stdin,
            url: url.clone(),
        },
    ));
    Ok(url)
}

/// A hosted benchmark: its registry entry and the Python game it runs.
pub struct Hosted {
    /// `serve.py --game` name.
    pub game: &'static str,
    /// Options passed to the Python game (the others configure the client).
    pub game_options: &'static [&'static str],
}

const URL: OptionSpec = OptionSpec {
    name: "url",
    kind: OptionKind::Str,
    default: "",
    doc: "a running server (http://host:port); empty: turnwise starts python/servers/serve.py",
};
const WORKERS: OptionSpec = OptionSpec {
    name: "workers",
    kind: OptionKind::Int,
    default: "2",
    doc: "worker processes of a server turnwise starts",
};
const TIMEOUT: OptionSpec = crate::client::CLIENT_OPTIONS[2];
const CONNECT: OptionSpec = crate::client::CLIENT_OPTIONS[3];
const MAX_STEPS_DOC: &str = "steps before the episode is truncated";

fn make_hosted(h: &Hosted, opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let unavailable = |message: String| EnvError::Unavailable {
        env: opts.env().to_owned(),
        message,
    };
    let url = match opts.str("url").trim() {
        "" => {
            let game_opts: Vec<(String, String)> = h
                .game_options
                .iter()
                .map(|k| (k.to_string(), opt_text(opts, k)))
                .collect();
            let workers = opts.count("workers", 1, 64)?;
            ensure_server(h.game, &game_opts, workers).map_err(unavailable)?
        }
        u => u.to_owned(),
    };
    let secs = |k: &str| Duration::from_secs_f64(opts.float(k).clamp(0.001, 86_400.0));
    let cfg = ClientConfig {
        url,
        action_field: "text".into(),
        observation_field: "text".into(),
        timeout: secs("timeout_s"),
        connect_timeout: secs("connect_timeout_s"),
        format: None,
        instructions: String::new(),
        reset_data: Map::new(),
    };
    Ok(Box::new(OpenEnvClient::connect(cfg)?))
}

/// An option's value as text, whatever its kind.
fn opt_text(opts: &Options, key: &str) -> String {
    let spec = crate::hosted::ALL_OPTIONS
        .iter()
        .flat_map(|o| o.iter())
        .find(|s| s.name == key)
        .map(|s| s.kind);
    match spec {
        Some(OptionKind::Int) => opts.int(key).to_string(),
        Some(OptionKind::Float) => opts.float(key).to_string(),
        Some(OptionKind::Bool) => opts.bool(key).to_string(),
        _ => opts.str(key).to_owned(),
    }
}

const COOKING_OPTIONS: &[OptionSpec] = &[
    URL,
    WORKERS,
    TIMEOUT,
    CONNECT,
    OptionSpec {
        name: "difficulty",
        kind: OptionKind::Int,
        default: "1",
        doc: "1..=4: recipe size, rooms, and the open / cook / cut / drop skills",
    },
    OptionSpec {
        name: "games",
        kind: OptionKind::Int,
        default: "10",
        doc: "distinct games: episode seed % games picks one (compiled once, cached)",
    },
    OptionSpec {
        name: "split",
        kind: OptionKind::Choice(&["train", "valid", "test"]),
        default: "train",
        doc: "food split of tw-cooking",
    },
    OptionSpec {
        name: "max_steps",
        kind: OptionKind::Int,
        default: "50",
        doc: MAX_STEPS_DOC,
    },
    OptionSpec {
        name: "admissible",
        kind: OptionKind::Bool,
        default: "true",
        doc: "append the admissible commands to each observation",
    },
    OptionSpec {
        name: "expert",
        kind: OptionKind::Bool,
        default: "true",
        doc: "compute TextWorld's policy commands (the expert) every step",
    },
];

const TEXT_NAV_OPTIONS: &[OptionSpec] = &[
    URL,
    WORKERS,
    TIMEOUT,
    CONNECT,
    OptionSpec {
        name: "observation",
        kind: OptionKind::Choice(&["partial", "full"]),
        default: "partial",
        doc: "partial (LMRL's default: room names hidden) or full (with the inventory)",
    },
    OptionSpec {
        name: "max_steps",
        kind: OptionKind::Int,
        default: "15",
        doc: "steps before truncation (LMRL's data collection used 15)",
    },
    OptionSpec {
        name: "expert",
        kind: OptionKind::Bool,
        default: "true",
        doc: "compute the expert's command every step",
    },
];

const SCIENCEWORLD_OPTIONS: &[OptionSpec] = &[
    URL,
    WORKERS,
    TIMEOUT,
    CONNECT,
    OptionSpec {
        name: "task",
        kind: OptionKind::Str,
        default: "find-living-thing",
        doc: "ScienceWorld task name",
    },
    OptionSpec {
        name: "simplification",
        kind: OptionKind::Str,
        default: "easy",
        doc: "ScienceWorld simplification string",
    },
    OptionSpec {
        name: "max_steps",
        kind: OptionKind::Int,
        default: "30",
        doc: MAX_STEPS_DOC,
    },
    OptionSpec {
        name: "expert",
        kind: OptionKind::Bool,
        default: "true",
        doc: "the next gold action while the episode follows the gold path",
    },
];

const ALL_OPTIONS: [&[OptionSpec]; 3] = [COOKING_OPTIONS, TEXT_NAV_OPTIONS, SCIENCEWORLD_OPTIONS];

static COOKING: Hosted = Hosted {
    game: "textworld-cooking",
    game_options: &[
        "difficulty",
        "games",
        "split",
        "max_steps",
        "admissible",
        "expert",
    ],
};
static TEXT_NAV: Hosted = Hosted {
    game: "textworld-text-nav",
    game_options: &["observation", "max_steps", "expert"],
};
static SCIENCE: Hosted = Hosted {
    game: "scienceworld",
    game_options: &["task", "simplification", "max_steps", "expert"],
};

/// `textworld/cooking`.
pub static TEXTWORLD_COOKING: EnvSpec = EnvSpec {
    name: "textworld/cooking",
    doc: "TextWorld cooking games (First TextWorld Problems style, TextWorld's tw-cooking generator) from a seed and a difficulty, through a Python OpenEnv server; reward = score gain / max score.",
    options: COOKING_OPTIONS,
    make: |o| make_hosted(&COOKING, o),
};

/// `textworld/text-nav`.
pub static TEXTWORLD_TEXT_NAV: EnvSpec = EnvSpec {
    name: "textworld/text-nav",
    doc: "LMRL-Gym Text-Nav (TextWorld house: stale food into the kitchen fridge) built as LMRL-Gym builds it, through a Python OpenEnv server; reward 1 on success.",
    options: TEXT_NAV_OPTIONS,
    make: |o| make_hosted(&TEXT_NAV, o),
};

/// `scienceworld`.
pub static SCIENCEWORLD: EnvSpec = EnvSpec {
    name: "scienceworld",
    doc: "ScienceWorld tasks (JVM) with their own scores, through a Python OpenEnv server; the seed picks a training variation; reward = score gain / 100.",
    options: SCIENCEWORLD_OPTIONS,
    make: |o| make_hosted(&SCIENCE, o),
};

/// The process ids of the servers of `game` that turnwise started and of their workers
/// (the workers from Linux `/proc`).
pub fn server_processes(game: &str) -> Vec<u32> {
    let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let mut pids = Vec::new();
    for (_, s) in started
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{game} ")))
    {
        let pid = s.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        pids.push(pid);
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    pids
}

/// Game name and game options of a hosted registry entry.
pub fn hosted_game(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    let h = match name {
        "textworld/cooking" => &COOKING,
        "textworld/text-nav" => &TEXT_NAV,
        "scienceworld" => &SCIENCE,
        _ => return None,
    };
    Some((h.game, h.game_options))
}

/// Game options of a hosted entry from `KEY=VALUE` overrides, defaults filled in.
pub fn game_option_pairs(
    name: &str,
    overrides: &[(String, String)],
) -> Result<Vec<(String, String)>, EnvError> {
    let spec = turnwise_envs::registry::get(name)?;
    let opts = Options::resolve(spec.name, spec.options, overrides)?;
    let (_, keys) = hosted_game(name).ok_or_else(|| EnvError::UnknownEnv {
        name: name.to_owned(),
        suggestion: None,
    })?;
    Ok(keys
        .iter()
        .map(|k| (k.to_string(), opt_text(&opts, k)))
        .collect())
}
