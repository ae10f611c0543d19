//! Optimisation: AdamW ([`adamw`]), global gradient-norm clipping and learning-rate
//! schedules ([`schedule`]).

pub mod adamw;
pub mod schedule;

pub use adamw::{all_finite, AdamW, Snapshot};
pub use schedule::lr_at;
