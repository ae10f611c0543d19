//! Stop requests: Ctrl-C (SIGINT), SIGTERM (what `timeout`, schedulers and `kill` send) and
//! SIGHUP all ask the trainer to finish its step, save and exit; a second one exits at
//! once (a checkpoint being written is then left as a temporary, removed by the next
//! start, and the previous checkpoint stays intact).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status of a run stopped by a signal (128 + SIGINT, the shell's convention).
pub const INTERRUPTED: i32 = 130;

/// Installs the handler; the flag turns true at the first stop request.
pub fn install() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond stop request: exiting now");
            std::process::exit(INTERRUPTED);
        }
        eprintln!("\nstop requested: finishing this step and saving (again to exit at once)");
    })?;
    Ok(stop)
}
