//! The final-score table of a summary as Markdown (for README results).

use std::fmt::Write;

use crate::summary::{OverSeeds, Summary};

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "–".into(),
    }
}

fn mean_ci(o: &OverSeeds) -> String {
    match (o.mean, o.ci) {
        (Some(m), Some(c)) => format!("{m:.1} [{:.1}, {:.1}]", c.lo, c.hi),
        (m, _) => num(m),
    }
}

/// One table per environment: method, final score with its 95% interval, per-seed
/// values (`*` = failed or unfinished), AUC, seeds reaching the target, the paired
/// difference to the baseline and its sign-flip p-value; LMRL-Gym's Table 2 under the
/// LMRL tasks.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let mut envs: Vec<&str> = Vec::new();
    for g in &s.groups {
        if !envs.contains(&g.env.as_str()) {
            envs.push(&g.env);
        }
    }
    for env in envs {
        let rows: Vec<_> = s.groups.iter().filter(|g| g.env == env).collect();
        let metric = rows[0].metric.label();
        let target = rows[0].to_target.target;
        let base = s.baseline.as_deref().unwrap_or("baseline");
        let _ = writeln!(
            out,
            "**`{env}`** ({metric})\n\n| method | final, mean [95% CI] | per seed | AUC | seeds reaching {target} | Δ vs {base} [95% CI] | p (sign-flip) |\n|---|---|---|---|---|---|---|"
        );
        for g in rows {
            let seeds: Vec<String> = g
                .seed_scores()
                .map(|(v, ok)| format!("{}{}", num(v), if ok { "" } else { "*" }))
                .collect();
            let (d, p) = match &g.vs_baseline {
                Some(v) => (
                    match (v.mean_diff, v.ci_diff) {
                        (Some(m), Some(c)) => format!("{m:+.1} [{:+.1}, {:+.1}]", c.lo, c.hi),
                        (m, _) => num(m),
                    },
                    v.p_permutation.map_or("–".into(), |p| format!("{p:.3}")),
                ),
                None => ("—".into(), "—".into()),
            };
            let _ = writeln!(
                out,
                "| `{}` | **{}** | {} | {} | {}/{} | {} | {} |",
                g.method,
                mean_ci(&g.final_score),
                seeds.join(", "),
                mean_ci(&g.auc),
                g.to_target.reached,
                g.seeds.len(),
                d,
                p
            );
        }
        if let Some(row) = crate::reference::lmrl_row(env) {
            let cells: Vec<String> = crate::reference::LMRL_METHODS
                .iter()
                .zip(row)
                .map(|(m, v)| format!("{m} {v:.1}"))
                .collect();
            let _ = writeln!(out, "\nLMRL-Gym Table 2 (paper): {}", cells.join(" · "));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::summary::{summarise, tests::entry};

    #[test]
    fn markdown_table_has_a_row_per_method_and_the_paper_row() {
        let es = vec![
            entry("lmrl/maze-fo", "grpo", 0, &[50.0, 90.0]),
            entry("lmrl/maze-fo", "grpo", 1, &[50.0, 92.0]),
            entry("lmrl/maze-fo", "trloo", 0, &[50.0, 99.0]),
            entry("lmrl/maze-fo", "trloo", 1, &[50.0, 98.0]),
        ];
        let md = super::table(&summarise(&es, Some("grpo"), None));
        assert!(
            md.contains("| `grpo` | **91.0 [90.0, 92.0]** | 90.0, 92.0 |"),
            "{md}"
        );
        assert!(md.contains("| `trloo` | **98.5"), "{md}");
        assert!(md.contains("+7.5 [+6.0, +9.0]"), "{md}");
        assert!(md.contains("ILQL 99.9"), "{md}");
    }
}
