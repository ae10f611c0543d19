//! `turnwise env serve`: any registered environment over the OpenEnv protocol, so OpenEnv's
//! Python client (and TRL / torchforge trainers built on it) can use turnwise's
//! environments. Routes as openenv-core's FastAPI server: `/ws` (sessions), `GET /health`,
//! `/metadata`, `/schema`, `/state`, `POST /reset` (stateless, as OpenEnv's) and `POST /step`
//! (answers 409: turnwise environments keep state, so steps need a session).
//!
//! Actions are `{"text": …}`; observations `{"text": …}` plus the `info` fields
//! ([`crate::wire::observation_json`]), `reward` and `done`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use turnwise_envs::{registry, Env};

use crate::wire::{self, code};

/// What a server serves.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The registered environment.
    pub env: String,
    /// Its option overrides.
    pub options: Vec<(String, String)>,
    /// Most sessions open at once; more get OpenEnv's `CAPACITY_REACHED` error.
    pub max_sessions: usize,
}

struct Shared {
    cfg: ServeConfig,
    doc: &'static str,
    sessions: AtomicUsize,
}

type App = Arc<Shared>;

/// Checks the environment builds, then returns the router.
pub fn router(cfg: ServeConfig) -> anyhow::Result<Router> {
    let spec = registry::get(&cfg.env)?;
    registry::make(&cfg.env, &cfg.options)?;
    let app = Arc::new(Shared {
        doc: spec.doc,
        cfg,
        sessions: AtomicUsize::new(0),
    });
    Ok(Router::new()
        .route("/ws", get(ws))
        .route(
            "/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .route("/metadata", get(metadata))
        .route("/schema", get(schema))
        .route(
            "/state",
            get(|| async { Json(json!({"episode_id": null, "step_count": 0})) }),
        )
        .route("/reset", post(reset_stateless))
        .route("/step", post(step_stateless))
        .with_state(app))
}

async fn metadata(State(app): State<App>) -> Json<Value> {
    Json(json!({
        "name": app.cfg.env,
        "description": app.doc,
        "version": env!("CARGO_PKG_VERSION"),
        "author": "turnwise",
    }))
}

async fn schema() -> Json<Value> {
    let text = |d: &str| json!({"type": "string", "description": d});
    Json(json!({
        "action": {"type": "object", "properties": {"text": text("the policy's output")}, "required": ["text"]},
        "observation": {"type": "object", "properties": {
            "text": text("what the policy sees"),
            "success": {"type": "boolean"}, "action_valid": {"type": "boolean"},
            "terminated": {"type": "boolean"}, "truncated": {"type": "boolean"},
            "ground_truth": {"type": ["string", "null"]}, "state_key": {"type": ["string", "null"]},
            "expert_action": {"type": ["string", "null"]},
            "action_space": {"type": "array", "items": {"type": "string"}}}},
        "state": {"type": "object", "properties": {"episode_id": {"type": ["string", "null"]}, "step_count": {"type": "integer"}}},
    }))
}

fn make_env(app: &Shared) -> Result<Box<dyn Env>, String> {
    registry::make(&app.cfg.env, &app.cfg.options).map_err(|e| e.to_string())
}

async fn reset_stateless(State(app): State<App>, body: Option<Json<Value>>) -> Response {
    let seed = body
        .as_ref()
        .and_then(|b| b.get("seed"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let app2 = app.clone();
    let r = tokio::task::spawn_blocking(move || {
        let mut env = make_env(&app2)?;
        let obs = env.reset(seed);
        Ok::<_, String>(wire::observation_json(
            &*env, &obs.text, &obs.info, None, true,
        ))
    })
    .await;
    match r {
        Ok(Ok(o)) => Json(json!({"observation": o, "reward": null, "done": false})).into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"detail": e})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"detail": e.to_string()})),
        )
            .into_response(),
    }
}

async fn step_stateless() -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({"detail": "turnwise environments keep state between steps: open a session at /ws (OpenEnv's EnvClient does)"})),
    )
        .into_response()
}

async fn ws(State(app): State<App>, up: WebSocketUpgrade) -> Response {
    up.on_upgrade(move |socket| session(app, socket))
}

/// One session: its own environment, messages answered in order.
async fn session(app: App, mut socket: WebSocket) {
    let n = app.sessions.fetch_add(1, Ordering::SeqCst);
    let _guard = Leave(app.clone());
    if n >= app.cfg.max_sessions {
        let msg = json!({"type": "error", "data": {"message": format!("server at capacity ({} sessions)", app.cfg.max_sessions), "code": code::CAPACITY_REACHED, "active_sessions": n, "max_sessions": app.cfg.max_sessions}});
        let _ = socket.send(Message::text(msg.to_string())).await;
        return;
    }
    let app2 = app.clone();
    let made = tokio::task::spawn_blocking(move || make_env(&app2))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    let env = match made {
        Ok(env) => env,
        Err(e) => {
            let msg = wire::error(&e, code::EXECUTION_ERROR);
            let _ = socket.send(Message::text(msg.to_string())).await;
            return;
        }
    };
    let mut s = Session {
        env,
        episodes: 0,
        steps: 0,
        seed: None,
    };
    while let Some(Ok(msg)) = socket.recv().await {
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => break,
            Message::Binary(_) => {
                let e = wire::error("binary messages are not supported", code::INVALID_JSON);
                if socket.send(Message::text(e.to_string())).await.is_err() {
                    break;
                }
                continue;
            }
            _ => continue,
        };
        let reply = match serde_json::from_str::<Value>(text.as_str()) {
            Err(e) => wire::error(&format!("Invalid JSON: {e}"), code::INVALID_JSON),
            Ok(v) => match v.get("type").and_then(Value::as_str).unwrap_or("") {
                "close" => break,
                t => s.handle(t, v.get("data").unwrap_or(&Value::Null)),
            },
        };
        if socket.send(Message::text(reply.to_string())).await.is_err() {
            break;
        }
    }
}

struct Leave(App);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Session {
    env: Box<dyn Env>,
    episodes: u64,
    steps: u64,
    seed: Option<u64>,
}

impl Session {
    fn handle(&mut self, kind: &str, data: &Value) -> Value {
        match kind {
            "reset" => {
                let seed = match data.get("seed") {
                    None | Some(Value::Null) => self.episodes,
                    Some(v) => match v.as_u64() {
                        Some(s) => s,
                        None => {
                            return wire::error(
                                "seed must be a non-negative integer",
                                code::VALIDATION_ERROR,
                            )
                        }
                    },
                };
                self.episodes += 1;
                self.steps = 0;
                self.seed = Some(seed);
                let obs = self.env.reset(seed);
                let o = wire::observation_json(&*self.env, &obs.text, &obs.info, None, true);
                wire::observation_message(o, None, false)
            }
            "step" => {
                let Some(action) = data.get("text").and_then(Value::as_str) else {
                    return wire::error(
                        "the action needs a string field \"text\"",
                        code::VALIDATION_ERROR,
                    );
                };
                if self.seed.is_none() {
                    return wire::error("reset before the first step", code::EXECUTION_ERROR);
                }
                self.steps += 1;
                let st = self.env.step(action);
                let o =
                    wire::observation_json(&*self.env, &st.observation, &st.info, Some(&st), false);
                wire::observation_message(o, Some(st.reward), st.done())
            }
            "state" => json!({"type": "state", "data": {
                "episode_id": self.seed.map(|s| format!("{s}-{}", self.episodes)),
                "step_count": self.steps, "seed": self.seed}}),
            other => wire::error(
                &format!("Unknown message type: {other}"),
                code::UNKNOWN_TYPE,
            ),
        }
    }
}

/// A server running on a background thread (tests, `env bench`, in-process hosting);
/// dropping it stops the server at once, ending its sessions.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

/// Starts a server on `addr` (port 0: any free port) on a background thread.
pub fn spawn(cfg: ServeConfig, addr: SocketAddr, threads: usize) -> anyhow::Result<Running> {
    let app = router(cfg)?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rt = runtime(threads)?;
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            // Stopping drops the runtime with every session: clients see the server die.
            tokio::select! {
                _ = axum::serve(l, app) => {}
                _ = rx => {}
            }
        });
        rt.shutdown_background();
    });
    Ok(Running {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// Serves on `addr` until the process ends; `ready` is called with the bound address.
pub fn serve(
    cfg: ServeConfig,
    addr: SocketAddr,
    threads: usize,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let app = router(cfg)?;
    let rt = runtime(threads)?;
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(addr).await?;
        ready(l.local_addr()?);
        axum::serve(l, app).await?;
        Ok(())
    })
}
