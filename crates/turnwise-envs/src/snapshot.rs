//! Environment snapshots: a saved state that an environment of the same kind can be
//! restored to, after which its steps continue exactly as the original's would (ExIt's
//! restarts from intermediate states of earlier episodes; `docs/training.md`). Built-in
//! environments snapshot by copying themselves ([`Snapshot::of`]); external ones may
//! leave [`crate::Env::snapshot`] at its default (`None`).

use std::any::Any;

/// An opaque saved environment state.
pub struct Snapshot(Box<dyn Any + Send>);

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot(..)")
    }
}

impl Snapshot {
    /// A snapshot holding `state` (a copy of the environment, or of its fields).
    pub fn new<S: Send + 'static>(state: S) -> Snapshot {
        Snapshot(Box::new(state))
    }

    /// A snapshot holding a copy of `env`.
    pub fn of<E: Clone + Send + 'static>(env: &E) -> Snapshot {
        Snapshot::new(env.clone())
    }

    /// The saved state, when it is an `S`.
    pub fn get<S: 'static>(&self) -> Option<&S> {
        self.0.downcast_ref()
    }

    /// Overwrites `env` with the saved copy when the snapshot was taken from an `E`;
    /// returns whether it was (a foreign snapshot leaves `env` unchanged).
    pub fn restore_into<E: Clone + 'static>(&self, env: &mut E) -> bool {
        match self.get::<E>() {
            Some(saved) => {
                *env = saved.clone();
                true
            }
            None => false,
        }
    }
}

/// Implements [`crate::Env::snapshot`] and [`crate::Env::restore`] by copying `Self`
/// (inside an `impl Env for …` block of a `Clone` environment).
#[macro_export]
macro_rules! snapshot_by_clone {
    () => {
        fn snapshot(&self) -> Option<$crate::snapshot::Snapshot> {
            Some($crate::snapshot::Snapshot::of(self))
        }

        fn restore(&mut self, snapshot: &$crate::snapshot::Snapshot) -> bool {
            snapshot.restore_into(self)
        }
    };
}
