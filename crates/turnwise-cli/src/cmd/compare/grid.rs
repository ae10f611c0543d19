//! The grid of a compare: environments × methods × seeds, each cell a resolved
//! configuration written to `DIR/configs/…` and a run folder `DIR/runs/…`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use turnwise_report::manifest::{slug, Cell, CellState};
use turnwise_train::config::{self, Config};

/// One environment row of the grid: its base configuration and `--set` overrides.
#[derive(Debug, Clone)]
pub struct Row {
    /// The configuration file (None: the built-in default).
    pub config: Option<PathBuf>,
    /// The environment (None: the configuration's own).
    pub env: Option<String>,
}

/// The compare folder's shared warm starts (`sft.cache` of every cell with SFT).
pub const WARM_STARTS: &str = "warm_starts";

/// A cell with its resolved configuration.
#[derive(Debug)]
pub struct Planned {
    /// The manifest entry.
    pub cell: Cell,
    /// The resolved configuration.
    pub cfg: Config,
}

/// Resolves every cell: base file, then the user's `--set`s, then the cell's
/// environment, method (its parameters reset when it differs from the file's), shared
/// warm-start folder ([`WARM_STARTS`], unless the file sets `sft.cache` or uses LoRA), seed
/// and run folder.
pub fn plan(
    rows: &[Row],
    methods: &[String],
    seeds: &[u64],
    sets: &[String],
    dir: &Path,
) -> Result<Vec<Planned>> {
    // Every cell runs to `run.steps`: a wall-clock budget would make the budget depend on
    // the machine's load (a `--set run.time_budget_s=N` of the user's still applies).
    let sets: Vec<String> = std::iter::once("run.time_budget_s=0".to_owned())
        .chain(sets.iter().cloned())
        .collect();
    let sets = sets.as_slice();
    let mut out = Vec::new();
    for row in rows {
        let base = config::load(row.config.as_deref(), sets)?;
        let env = row.env.clone().unwrap_or_else(|| base.env.name.clone());
        for m in methods {
            for &seed in seeds {
                let rel = PathBuf::from(slug(&env))
                    .join(m)
                    .join(format!("seed-{seed}"));
                let run = PathBuf::from("runs").join(&rel);
                let mut cell_sets = sets.to_vec();
                if env != base.env.name {
                    cell_sets.push(format!("env.name={}", toml_str(&env)));
                    cell_sets.push("env.options={}".into());
                }
                if *m != base.credit.method {
                    cell_sets.push(format!("credit.method={}", toml_str(m)));
                    cell_sets.push("credit.params={}".into());
                }
                if base.sft.enabled && base.sft.cache.is_empty() && base.model.lora.is_none() {
                    // The cells of one seed share its warm start (SFT does not depend on
                    // the credit method): trained once, loaded by the others.
                    cell_sets.push(format!(
                        "sft.cache={}",
                        toml_str(&dir.join(WARM_STARTS).display().to_string())
                    ));
                }
                cell_sets.push(format!("run.seed={seed}"));
                cell_sets.push(format!(
                    "run.out={}",
                    toml_str(&dir.join(&run).display().to_string())
                ));
                let cfg = config::load(row.config.as_deref(), &cell_sets)
                    .with_context(|| format!("cell {env} × {m} × seed {seed}"))?;
                out.push(Planned {
                    cell: Cell {
                        env: env.clone(),
                        method: m.clone(),
                        seed,
                        run: run.display().to_string(),
                        config: PathBuf::from("configs")
                            .join(rel.with_extension("toml"))
                            .display()
                            .to_string(),
                        log: PathBuf::from("logs")
                            .join(rel.with_extension("log"))
                            .display()
                            .to_string(),
                        state: CellState::Pending,
                        attempts: 0,
                        cpu_s: None,
                        error: None,
                    },
                    cfg,
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in &out {
        if !seen.insert(p.cell.run.clone()) {
            bail!(
                "two cells share the run folder {} (the same environment given twice?)",
                p.cell.run
            );
        }
    }
    Ok(out)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The first key whose value differs between two configurations, as a dotted path.
pub fn first_difference(a: &Config, b: &Config) -> Option<String> {
    let (Ok(ta), Ok(tb)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else {
        return Some("(unserialisable)".into());
    };
    diff(&ta, &tb, "")
}

fn diff(a: &toml::Value, b: &toml::Value, path: &str) -> Option<String> {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(u, v, &p),
                    _ => Some(p),
                }
            })
        }
        _ if a == b => None,
        _ => Some(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_override_env_method_seed_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [Row {
            config: None,
            env: Some("lmrl/maze-po".into()),
        }];
        let p = plan(
            &rows,
            &["grpo".into(), "gigpo".into()],
            &[0, 1],
            &["run.steps=3".into()],
            dir.path(),
        )
        .unwrap();
        assert_eq!(p.len(), 4);
        let c = &p[1];
        assert_eq!((c.cell.method.as_str(), c.cell.seed), ("grpo", 1));
        assert_eq!(c.cell.run, "runs/lmrl-maze-po/grpo/seed-1");
        assert_eq!(c.cfg.env.name, "lmrl/maze-po");
        assert_eq!(c.cfg.credit.method, "grpo");
        assert_eq!((c.cfg.run.seed, c.cfg.run.steps), (1, 3));
        assert_eq!(c.cfg.run.time_budget_s, 0.0);
        assert!(c.cfg.run.out.ends_with("runs/lmrl-maze-po/grpo/seed-1"));
        assert_eq!(
            first_difference(&p[0].cfg, &p[1].cfg).as_deref(),
            Some("run.out")
        );
        assert_eq!(first_difference(&p[0].cfg, &p[0].cfg), None);
    }

    #[test]
    fn a_bad_method_is_refused_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [Row {
            config: None,
            env: None,
        }];
        let e = plan(&rows, &["grpoo".into()], &[0], &[], dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("grpo"), "{e:#}");
    }
}
