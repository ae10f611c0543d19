//! `turnwise env serve`: serves a registered environment over the OpenEnv protocol
//! (`turnwise_openenv::server`), for OpenEnv clients such as TRL's or torchforge's.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use turnwise_envs::options::Options;
use turnwise_openenv::server::{serve, ServeConfig};

/// Arguments of `turnwise env serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Environment name (see `turnwise envs`).
    #[arg(long)]
    env: String,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Option override `KEY=VALUE` (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Most sessions (WebSocket connections, one environment each) at once.
    #[arg(long, default_value_t = 1024)]
    max_sessions: usize,
    /// Server threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs the command (until the process is stopped); returns the exit status.
pub fn run(a: Args) -> Result<i32> {
    let options = a
        .options
        .iter()
        .map(|s| Options::split_kv(s))
        .collect::<Result<Vec<_>, _>>()?;
    let addr: SocketAddr = format!("{}:{}", a.host, a.port)
        .parse()
        .with_context(|| format!("--host {} --port {}: not an address", a.host, a.port))?;
    let cfg = ServeConfig {
        env: a.env.clone(),
        options,
        max_sessions: a.max_sessions,
    };
    serve(cfg, addr, a.threads, |bound| {
        println!("listening on http://{bound}");
        eprintln!(
            "serving {} over OpenEnv: sessions at ws://{bound}/ws, GET /health /metadata /schema",
            a.env
        );
    })?;
    Ok(0)
}
