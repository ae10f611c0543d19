//! `openenv`: an [`Env`] backed by one session of an OpenEnv server (a WebSocket
//! connection to `<url>/ws`, as openenv-core's `EnvClient`). Every request has a timeout;
//! a server that is unreachable when the environment is built is an error naming the URL,
//! unless this process has reached it before (the trainer builds its environments again at
//! every step: a server restarting between two steps fails that step's episodes, recorded
//! and capped by `env.max_failed_episodes`, not the run); a request that fails or times
//! out mid-episode ends the episode as truncated with `info.error` set, and the next reset
//! opens a new session.

use std::collections::BTreeSet;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};
use turnwise_core::ToolCall;
use turnwise_envs::options::{OptionKind, OptionSpec, Options};
use turnwise_envs::registry::EnvSpec;
use turnwise_envs::{ActionFormat, Env, EnvError, Info, Observation, Step, Text};

use crate::wire;

/// Connection settings of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's base URL (`http://host:port` or `ws://host:port`).
    pub url: String,
    /// The action's JSON field that carries the text.
    pub action_field: String,
    /// The observation's JSON field that carries the text.
    pub observation_field: String,
    /// Time limit of every request after the connection is open.
    pub timeout: Duration,
    /// Time limit of opening the connection.
    pub connect_timeout: Duration,
    /// The action format; `None`: the server's `action_format` field, else raw lines.
    pub format: Option<ActionFormat>,
    /// Instructions shown before the first observation when the server sends none.
    pub instructions: String,
    /// Extra fields of every reset request (e.g. a task name).
    pub reset_data: Map<String, Value>,
}

/// The WebSocket URL of a server's session endpoint.
pub fn ws_url(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    let rest = if let Some(r) = u.strip_prefix("http://") {
        r
    } else if let Some(r) = u.strip_prefix("ws://") {
        r
    } else if u.starts_with("https://") || u.starts_with("wss://") {
        return Err(format!(
            "{url}: TLS is not supported; reach the server over http:// (e.g. a local tunnel)"
        ));
    } else {
        return Err(format!("{url}: expected an http:// or ws:// URL"));
    };
    Ok(if rest.ends_with("/ws") {
        format!("ws://{rest}")
    } else {
        format!("ws://{rest}/ws")
    })
}

type Socket = WebSocket<TcpStream>;

/// Opens a session socket; on success the URL counts as reached ([`reached`]), on failure
/// the error names the URL.
fn connect(cfg: &ClientConfig) -> Result<Socket, String> {
    let ws =
        dial(cfg).map_err(|e| format!("cannot reach the OpenEnv server at {}: {e}", cfg.url))?;
    if let Ok(mut r) = REACHED.lock() {
        r.insert(cfg.url.clone());
    }
    Ok(ws)
}

fn dial(cfg: &ClientConfig) -> Result<Socket, String> {
    let url = ws_url(&cfg.url)?;
    let req = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("{}: {e}", cfg.url))?;
    let host = req.uri().host().unwrap_or("127.0.0.1").to_owned();
    let port = req.uri().port_u16().unwrap_or(80);
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("no address for {host}");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout) {
            Ok(stream) => {
                let io = |e: std::io::Error| e.to_string();
                stream.set_read_timeout(Some(cfg.timeout)).map_err(io)?;
                stream.set_write_timeout(Some(cfg.timeout)).map_err(io)?;
                stream.set_nodelay(true).map_err(io)?;
                return match tungstenite::client(req, stream) {
                    Ok((ws, _)) => Ok(ws),
                    Err(e) => Err(format!("WebSocket handshake with {url} failed: {e}")),
                };
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The server URLs this process has opened a session with.
static REACHED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn reached(url: &str) -> bool {
    REACHED.lock().is_ok_and(|r| r.contains(url))
}

/// One session of an OpenEnv server.
pub struct OpenEnvClient {
    cfg: ClientConfig,
    ws: Option<Socket>,
    episode: u64,
    done: bool,
    format: ActionFormat,
    instructions: Text,
    expert: Option<String>,
    space: Vec<Text>,
    budget: Option<u32>,
    gold: Option<String>,
    reference: Option<Vec<ToolCall>>,
    fields: &'static [&'static str],
}

impl OpenEnvClient {
    /// Opens a session; an unreachable server is an error naming the URL, unless this
    /// process has reached it before: then the client starts without a session and its
    /// first reset tries again (failing that episode, with the error, if it is still down).
    pub fn connect(cfg: ClientConfig) -> Result<OpenEnvClient, EnvError> {
        let ws = match connect(&cfg) {
            Ok(ws) => Some(ws),
            Err(_) if reached(&cfg.url) => None,
            Err(message) => {
                return Err(EnvError::Unavailable {
                    env: "openenv".into(),
                    message,
                })
            }
        };
        Ok(OpenEnvClient {
            format: cfg.format.unwrap_or(ActionFormat::Line("\n")),
            instructions: Text::Owned(cfg.instructions.clone()),
            cfg,
            ws,
            episode: 0,
            done: true,
            expert: None,
            space: Vec::new(),
            budget: None,
            gold: None,
            reference: None,
            fields: &[],
        })
    }

    /// Sends one message and waits (at most the timeout) for its reply's `data`.
    fn request(&mut self, msg: &Value) -> Result<Value, String> {
        if self.ws.is_none() {
            self.ws = Some(connect(&self.cfg)?);
        }
        let r = Self::exchange(self.ws.as_mut().expect("connected"), msg, &self.cfg);
        if r.is_err() {
            // The session is lost (or its state unknown): the next reset reconnects.
            self.ws = None;
        }
        r
    }

    fn exchange(ws: &mut Socket, msg: &Value, cfg: &ClientConfig) -> Result<Value, String> {
        let describe = |e: tungstenite::Error| match e {
            tungstenite::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                format!(
                    "no reply from {} within {:.1} s",
                    cfg.url,
                    cfg.timeout.as_secs_f64()
                )
            }
            e => format!("connection to {} failed: {e}", cfg.url),
        };
        ws.send(Message::text(msg.to_string())).map_err(describe)?;
        loop {
            match ws.read().map_err(describe)? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .map_err(|e| format!("{}: reply is not JSON: {e}", cfg.url))?;
                    let data = v.get("data").cloned().unwrap_or(Value::Null);
                    return match v.get("type").and_then(Value::as_str) {
                        Some("error") => Err(format!(
                            "server error: {} ({})",
                            data.get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("unknown"),
                            data.get("code").and_then(Value::as_str).unwrap_or("?")
                        )),
                        _ => Ok(data),
                    };
                }
                Message::Close(_) => return Err(format!("{} closed the session", cfg.url)),
                _ => continue,
            }
        }
    }

    /// Text, info and the remote extras of an observation payload.
    fn read_observation(&mut self, data: &Value) -> Result<(Text, Info), String> {
        let o = data.get("observation").cloned().unwrap_or(Value::Null);
        let text = wire::text_field(&o, &self.cfg.observation_field).ok_or_else(|| {
            let fields: Vec<&str> = o
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            format!(
                "the observation has no text field `{}` (fields: {}); set observation_field",
                self.cfg.observation_field,
                fields.join(", ")
            )
        })?;
        self.expert = o
            .get("expert_action")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.space = o
            .get("action_space")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| Text::Owned(s.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        self.budget = o
            .get("budget_left")
            .and_then(Value::as_u64)
            .map(|b| b as u32);
        Ok((text, wire::info_from(&o)))
    }

    fn failed_step(&mut self, e: String) -> Step {
        self.done = true;
        Step {
            truncated: true,
            info: Info {
                error: Some(Text::Owned(e)),
                ..Info::default()
            },
            ..Step::default()
        }
    }
}

impl Drop for OpenEnvClient {
    fn drop(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            // OpenEnv's close message, then wait (briefly) for the server to close first,
            // so that neither side logs a half-closed socket.
            let _ = ws.send(Message::text(json!({"type": "close"}).to_string()));
            let _ = ws
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(500)));
            while let Ok(m) = ws.read() {
                if m.is_close() {
                    break;
                }
            }
            let _ = ws.close(None);
            let _ = ws.flush();
        }
    }
}

impl Env for OpenEnvClient {
    fn reset(&mut self, seed: u64) -> Observation {
        let mut data = self.cfg.reset_data.clone();
        data.insert("seed".into(), json!(seed));
        data.insert(
            "episode_id".into(),
            json!(format!("{seed}-{}", self.episode)),
        );
        self.episode += 1;
        self.done = false;
        let msg = json!({"type": "reset", "data": data});
        // A session idle since the last episode may have been closed by the server (or a
        // proxy): a reset is safe to repeat, once, on a new session.
        let fresh = self.ws.is_none();
        let r = self
            .request(&msg)
            .or_else(|e| if fresh { Err(e) } else { self.request(&msg) })
            .and_then(|d| {
                let o = d.get("observation").cloned().unwrap_or(Value::Null);
                let obs = self.read_observation(&d)?;
                Ok((o, obs))
            });
        match r {
            Ok((o, (text, info))) => {
                if let Some(i) = wire::text_field(&o, "instructions") {
                    self.instructions = i;
                }
                if self.cfg.format.is_none() {
                    self.format = match o.get("action_format").and_then(Value::as_str) {
                        Some("answer") => ActionFormat::AnswerTag,
                        Some("tool") => ActionFormat::ToolCall,
                        Some("free") => ActionFormat::Free,
                        _ => ActionFormat::Line("\n"),
                    };
                }
                self.gold = o
                    .get("gold_action")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.reference = o
                    .get("reference_tool_calls")
                    .and_then(wire::calls_from_json);
                self.fields = o.get("credit_fields").map_or(&[], wire::credit_fields_from);
                Observation { text, info }
            }
            Err(e) => {
                self.done = true;
                Observation {
                    text: Text::Borrowed(""),
                    info: Info {
                        error: Some(Text::Owned(e)),
                        ..Info::default()
                    },
                }
            }
        }
    }

    fn step(&mut self, action: &str) -> Step {
        if self.done {
            return Step {
                terminated: true,
                ..Step::default()
            };
        }
        let mut data = Map::new();
        data.insert(self.cfg.action_field.clone(), json!(action));
        let msg = json!({"type": "step", "data": data});
        let r = self.request(&msg).and_then(|d| {
            let (text, info) = self.read_observation(&d)?;
            Ok((d, text, info))
        });
        match r {
            Ok((d, text, info)) => {
                let o = &d["observation"];
                let done = d.get("done").and_then(Value::as_bool).unwrap_or(false);
                let truncated = o.get("truncated").and_then(Value::as_bool).unwrap_or(false);
                self.done = done || truncated;
                Step {
                    observation: text,
                    reward: d.get("reward").and_then(Value::as_f64).unwrap_or(0.0),
                    terminated: done && !truncated,
                    truncated,
                    info,
                }
            }
            Err(e) => self.failed_step(e),
        }
    }

    fn instructions(&self) -> Text {
        self.instructions.clone()
    }

    fn stop(&self) -> Option<&'static str> {
        match self.format {
            ActionFormat::Line(s) => Some(s),
            _ => None,
        }
    }

    fn action_format(&self) -> ActionFormat {
        self.format
    }

    fn expert_action(&self) -> Option<String> {
        if self.done {
            None
        } else {
            self.expert.clone()
        }
    }

    fn budget_left(&self) -> Option<u32> {
        self.budget
    }

    fn action_space(&self) -> Vec<Text> {
        self.space.clone()
    }

    fn gold_action(&self) -> Option<String> {
        self.gold.clone()
    }

    fn reference_tool_calls(&self) -> Option<Vec<ToolCall>> {
        self.reference.clone()
    }

    fn credit_fields(&self) -> &'static [&'static str] {
        self.fields
    }

    fn is_remote(&self) -> bool {
        true
    }
}

/// Reads the client options shared by `openenv` and the hosted benchmarks.
pub fn config_from(opts: &Options, url: &str) -> Result<ClientConfig, EnvError> {
    let secs = |k: &str| -> Result<Duration, EnvError> {
        let v = opts.float(k);
        if !(v > 0.0 && v <= 86_400.0) {
            return Err(opts.bad(k, &v.to_string(), "seconds in (0, 86400]"));
        }
        Ok(Duration::from_secs_f64(v))
    };
    let reset_data = match opts.str("reset_data").trim() {
        "" => Map::new(),
        t => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => m,
            _ => return Err(opts.bad("reset_data", t, "a JSON object")),
        },
    };
    ws_url(url).map_err(|e| opts.bad("url", url, &e))?;
    Ok(ClientConfig {
        url: url.to_owned(),
        action_field: opts.str("action_field").to_owned(),
        observation_field: opts.str("observation_field").to_owned(),
        timeout: secs("timeout_s")?,
        connect_timeout: secs("connect_timeout_s")?,
        format: match opts.str("format") {
            "line" => Some(ActionFormat::Line("\n")),
            "answer" => Some(ActionFormat::AnswerTag),
            "tool" => Some(ActionFormat::ToolCall),
            "free" => Some(ActionFormat::Free),
            _ => None,
        },
        instructions: opts.str("instructions").to_owned(),
        reset_data,
    })
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let cfg = config_from(opts, opts.str("url"))?;
    Ok(Box::new(OpenEnvClient::connect(cfg)?))
}

/// The options of every OpenEnv client environment.
pub const CLIENT_OPTIONS: [OptionSpec; 7] = [
    OptionSpec {
        name: "action_field",
        kind: OptionKind::Str,
        default: "text",
        doc: "the action's JSON field that carries the text",
    },
    OptionSpec {
        name: "observation_field",
        kind: OptionKind::Str,
        default: "text",
        doc: "the observation's JSON field that carries the text",
    },
    OptionSpec {
        name: "timeout_s",
        kind: OptionKind::Float,
        default: "60",
        doc: "time limit of every request; a request past it ends the episode (truncated, error recorded)",
    },
    OptionSpec {
        name: "connect_timeout_s",
        kind: OptionKind::Float,
        default: "10",
        doc: "time limit of opening a session",
    },
    OptionSpec {
        name: "format",
        kind: OptionKind::Choice(&["auto", "line", "answer", "tool", "free"]),
        default: "auto",
        doc: "action format: the server's `action_format` field (auto), raw lines ending in \\n, <answer> tags, <tool_call>s, or free text (the whole reply)",
    },
    OptionSpec {
        name: "instructions",
        kind: OptionKind::Str,
        default: "",
        doc: "task text shown before the first observation when the server sends no `instructions`",
    },
    OptionSpec {
        name: "reset_data",
        kind: OptionKind::Str,
        default: "",
        doc: "a JSON object of extra reset fields (the seed is always sent)",
    },
];

const OPTIONS: [OptionSpec; 8] = {
    let url = OptionSpec {
        name: "url",
        kind: OptionKind::Str,
        default: "http://127.0.0.1:8000",
        doc: "the OpenEnv server (http:// or ws://); one WebSocket session per episode slot",
    };
    let c = CLIENT_OPTIONS;
    [url, c[0], c[1], c[2], c[3], c[4], c[5], c[6]]
};

/// `openenv`: any OpenEnv server whose actions and observations carry text.
pub static SPEC: EnvSpec = EnvSpec {
    name: "openenv",
    doc: "Any OpenEnv server (openenv-core's WebSocket protocol: reset / step / state per session) whose actions and observations carry text; one session per episode, every request timed out.",
    options: &OPTIONS,
    make,
};
