//! # turnwise-openenv
//!
//! OpenEnv (`openenv-core` on PyPI) both ways, so turnwise-envs stays free of network code:
//!
//! - [`client`]: the `openenv` environment, one WebSocket session of any OpenEnv server per
//!   environment instance, with a timeout on every request;
//! - [`server`]: `turnwise env serve`, any registered environment over the same protocol;
//! - [`hosted`]: TextWorld and ScienceWorld through the Python OpenEnv servers in
//!   `python/servers/`, started on demand;
//! - [`in_process`]: the same games called in-process by their Python package, the other
//!   side of `turnwise env bench`;
//! - [`wire`]: the message format both sides share.
//!
//! Call [`register`] once to make these environments known to `turnwise_envs::registry`.

pub mod client;
pub mod hosted;
pub mod in_process;
pub mod server;
pub mod wire;

/// Adds `openenv` and the hosted benchmarks to the environment registry (idempotent).
pub fn register() {
    turnwise_envs::registry::register(&[
        &client::SPEC,
        &hosted::TEXTWORLD_COOKING,
        &hosted::TEXTWORLD_TEXT_NAV,
        &hosted::SCIENCEWORLD,
    ]);
}
