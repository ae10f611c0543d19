//! `turnwise compare`: the grid environments × methods × seeds with the same budget per
//! run, as parallel `turnwise train` processes, resumable; writes `DIR/summary.json` and
//! `DIR/report.html` (turnwise-report) after every finished run.
//!
//! Folder: `compare.json` (the manifest), `configs/ENV/METHOD/seed-S.toml` (each cell's
//! resolved configuration), `runs/ENV/METHOD/seed-S/` (run folders), `logs/…` (each
//! child's output), `warm_starts/` (the SFT warm starts the cells of a seed share:
//! `sft.cache`), `summary.json`, `report.html`. Running the same command again
//! continues: finished runs are reused, interrupted ones resume from their last
//! checkpoint (or start again when they had none), and a run folder whose configuration
//! differs from the cell's is refused, never mixed.

mod grid;
mod pool;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use turnwise_report::manifest::{CellState, Manifest};
use turnwise_report::{html, run as runfile};
use turnwise_train::config;

use grid::{first_difference, Row};
use pool::{Running, Start};

/// Arguments of `turnwise compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML), one environment row of the grid each (repeatable);
    /// default: the built-in configs/maze.toml.
    #[arg(long = "config")]
    configs: Vec<PathBuf>,
    /// Credit methods, comma-separated (`turnwise methods`); the first is the baseline
    /// unless --baseline says otherwise.
    #[arg(long, value_delimiter = ',', required = true)]
    methods: Vec<String>,
    /// Seeds per method and environment: FIRST_SEED .. FIRST_SEED + N.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Run the configuration on this environment instead of its own (repeatable; with a
    /// single --config).
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    /// Override `KEY=VALUE` in every cell (repeatable), e.g. `--set run.steps=100`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// The compare folder.
    #[arg(long)]
    out: PathBuf,
    /// Runs at once (default: CPU cores / run.threads).
    #[arg(long)]
    jobs: Option<usize>,
    /// The method each other method is tested against (default: the first).
    #[arg(long)]
    baseline: Option<String>,
    /// Target score of "steps to target" (default: 95 normalised points, or 90% success).
    #[arg(long)]
    target: Option<f64>,
    /// Start cells that failed in an earlier invocation again (from their checkpoint).
    #[arg(long)]
    retry_failed: bool,
}

/// Holds `DIR/.compare.lock` (flock) for the life of the compare.
struct Lock(#[allow(dead_code)] std::fs::File);

fn lock(dir: &Path) -> Result<Lock> {
    use std::os::fd::AsRawFd;
    let p = dir.join(".compare.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .with_context(|| format!("opening {}", p.display()))?;
    // SAFETY: flock(2) on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "{}: another turnwise compare is running on this folder",
            dir.display()
        );
    }
    Ok(Lock(f))
}

fn rows(args: &Args) -> Result<Vec<Row>> {
    if args.envs.is_empty() {
        if args.configs.is_empty() {
            return Ok(vec![Row {
                config: None,
                env: None,
            }]);
        }
        return Ok(args
            .configs
            .iter()
            .map(|c| Row {
                config: Some(c.clone()),
                env: None,
            })
            .collect());
    }
    if args.configs.len() > 1 {
        bail!("--env runs one configuration on several environments: give a single --config (or one --config per environment without --env)");
    }
    Ok(args
        .envs
        .iter()
        .map(|e| Row {
            config: args.configs.first().cloned(),
            env: Some(e.clone()),
        })
        .collect())
}

fn default_jobs(threads: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // run.threads = 0 lets libtorch take every core: one run at a time.
    cores.checked_div(threads).unwrap_or(1).max(1)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let mut methods = args.methods.clone();
    methods.dedup();
    let baseline = args.baseline.clone().unwrap_or_else(|| methods[0].clone());
    if !methods.contains(&baseline) {
        bail!("--baseline {baseline}: not among --methods");
    }
    let seeds: Vec<u64> = (args.first_seed..args.first_seed + args.seeds).collect();
    let dir = args.out.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = lock(&dir)?;
    let planned = grid::plan(&rows(&args)?, &methods, &seeds, &args.sets, &dir)?;
    let old: HashMap<String, turnwise_report::manifest::Cell> =
        if dir.join(turnwise_report::manifest::FILE).exists() {
            Manifest::read(&dir)?
                .cells
                .into_iter()
                .map(|c| (c.run.clone(), c))
                .collect()
        } else {
            HashMap::new()
        };
    let mut cells = Vec::new();
    for p in &planned {
        let mut c = p.cell.clone();
        if let Some(o) = old.get(&c.run) {
            c.state = o.state;
            c.attempts = o.attempts;
            c.cpu_s = o.cpu_s;
            c.error = o.error.clone();
        }
        let run = dir.join(&c.run);
        if run.join("config.toml").is_file() {
            let mut stored = config::load(Some(&run.join("config.toml")), &[])
                .with_context(|| format!("reading the run in {}", run.display()))?;
            // The folder may be named through another path (cwd, symlink): not a setting.
            stored.run.out.clone_from(&p.cfg.run.out);
            stored.sft.cache.clone_from(&p.cfg.sft.cache);
            if let Some(k) = first_difference(&stored, &p.cfg) {
                bail!(
                    "{}: holds a run whose `{k}` differs from this compare's cell ({} × {} × seed {}); a compare never mixes runs: use another --out, or the original arguments",
                    run.display(),
                    c.env,
                    c.method,
                    c.seed
                );
            }
        }
        if runfile::is_run(&run) && runfile::read(&run)?.finished() {
            c.state = CellState::Done;
        } else if c.state == CellState::Done || (c.state == CellState::Failed && args.retry_failed)
        {
            c.state = CellState::Pending;
        }
        let cfg_path = dir.join(&c.config);
        if let Some(parent) = cfg_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        turnwise_core::jsonl::write_atomic(&cfg_path, toml::to_string(&p.cfg)?.as_bytes())?;
        cells.push(c);
    }
    // Cells of earlier invocations that this one does not name stay in the report.
    let planned_runs: Vec<&str> = cells.iter().map(|c| c.run.as_str()).collect::<Vec<_>>();
    let mut kept: Vec<_> = old
        .into_values()
        .filter(|c| !planned_runs.contains(&c.run.as_str()))
        .collect();
    kept.sort_by(|a, b| a.run.cmp(&b.run));
    let n_grid = cells.len();
    cells.extend(kept);
    let mut manifest = Manifest {
        version: 1,
        command: std::env::args().collect(),
        baseline,
        target: args.target,
        cells,
    };
    manifest.write(&dir)?;

    let jobs = args
        .jobs
        .unwrap_or_else(|| default_jobs(planned[0].cfg.run.threads));
    let todo: Vec<usize> = (0..n_grid)
        .filter(|&i| manifest.cells[i].state == CellState::Pending)
        .collect();
    let done = (0..n_grid)
        .filter(|&i| manifest.cells[i].state == CellState::Done)
        .count();
    eprintln!(
        "compare: {} runs ({} finished, {} failed earlier, {} to run), {} at a time; load average {}",
        n_grid,
        done,
        n_grid - done - todo.len(),
        todo.len(),
        jobs,
        loadavg()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    ctrlc::set_handler(move || s2.store(true, Ordering::SeqCst))?;
    let exe = std::env::current_exe()?;
    let mut queue = todo.into_iter();
    let mut running: Vec<Running> = Vec::new();
    let mut interrupted_sent = false;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        while !stopping && running.len() < jobs {
            let Some(i) = queue.next() else { break };
            let c = &mut manifest.cells[i];
            let run = dir.join(&c.run);
            pool::wait_unlocked(&run)?;
            let start = if pool::resumable(&run) {
                Start::Resume
            } else {
                if run.exists() {
                    // Killed before it wrote its configuration: nothing to keep.
                    std::fs::remove_dir_all(&run)
                        .with_context(|| format!("clearing {}", run.display()))?;
                }
                Start::Fresh
            };
            c.attempts += 1;
            eprintln!(
                "compare: start {} {} seed {} ({})",
                c.env,
                c.method,
                c.seed,
                if start == Start::Resume {
                    "resume"
                } else {
                    "fresh"
                }
            );
            running.push(pool::spawn(
                &exe,
                start,
                &dir.join(&c.config),
                &run,
                &dir.join(&c.log),
                i,
            )?);
            manifest.write(&dir)?;
        }
        if running.is_empty() {
            break;
        }
        if stopping && !interrupted_sent {
            eprintln!("compare: interrupted; each running training saves and exits");
            running.iter().for_each(pool::interrupt);
            interrupted_sent = true;
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut k = 0;
        while k < running.len() {
            let Some((status, cpu)) = pool::try_reap(&running[k])? else {
                k += 1;
                continue;
            };
            let r = running.swap_remove(k);
            let c = &mut manifest.cells[r.cell];
            c.cpu_s = Some(c.cpu_s.unwrap_or(0.0) + cpu);
            let run = dir.join(&c.run);
            let finished = runfile::is_run(&run) && runfile::read(&run)?.finished();
            let secs = r.started.elapsed().as_secs_f64();
            if finished {
                c.state = CellState::Done;
                c.error = None;
                let score = runfile::read(&run)?.last_score();
                eprintln!(
                    "compare: done {} {} seed {}: final score {} ({secs:.0} s wall, {cpu:.0} s CPU)",
                    c.env,
                    c.method,
                    c.seed,
                    score.map_or("?".into(), |s| format!("{s:.1}"))
                );
            } else if stop.load(Ordering::SeqCst) {
                c.state = CellState::Pending;
            } else {
                c.state = CellState::Failed;
                c.error = Some(
                    pool::last_error(&dir.join(&c.log))
                        .unwrap_or_else(|| format!("exited with {status}")),
                );
                eprintln!(
                    "compare: FAILED {} {} seed {}: {} (log {})",
                    c.env,
                    c.method,
                    c.seed,
                    c.error.as_deref().unwrap_or(""),
                    dir.join(&c.log).display()
                );
            }
            manifest.write(&dir)?;
            if let Err(e) = write_outputs(&dir, &manifest) {
                eprintln!("warning: summary/report not written: {e:#}");
            }
        }
    }
    write_outputs(&dir, &manifest)?;
    let pending = manifest.cells[..n_grid]
        .iter()
        .filter(|c| c.state == CellState::Pending)
        .count();
    let failed: Vec<String> = manifest.cells[..n_grid]
        .iter()
        .filter(|c| c.state == CellState::Failed)
        .map(|c| format!("{} {} seed {}", c.env, c.method, c.seed))
        .collect();
    eprintln!(
        "compare: wrote {} and {}; load average {}",
        dir.join("summary.json").display(),
        dir.join("report.html").display(),
        loadavg()
    );
    if !failed.is_empty() {
        eprintln!(
            "compare: {} run(s) failed (their last evaluation stands; --retry-failed starts them again): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    if pending > 0 {
        eprintln!(
            "compare: interrupted with {pending} run(s) left: run the same command again to continue"
        );
        return Ok(130);
    }
    Ok(0)
}

/// Writes `summary.json` and `report.html` of the compare folder.
fn write_outputs(dir: &Path, m: &Manifest) -> Result<()> {
    let opts = html::Options {
        title: format!("turnwise compare {}", dir.display()),
        baseline: Some(m.baseline.clone()),
        target: m.target,
        subtitle: m.command.join(" "),
        ..Default::default()
    };
    let sum = turnwise_report::write_report(&[dir.to_path_buf()], &dir.join("report.html"), &opts)?;
    let text = serde_json::to_string_pretty(&sum)? + "\n";
    turnwise_core::jsonl::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    Ok(())
}
