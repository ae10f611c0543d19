//! The final-score table of one environment (and, for LMRL tasks, the paper's Table 2).

use std::fmt::Write;

use super::esc;
use crate::stats::Interval;
use crate::summary::{GroupSummary, OverSeeds};

/// `x` with one decimal, or a dash.
pub fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "–".into(),
    }
}

/// `[lo, hi]` with one decimal, or nothing.
pub fn ci(c: Option<Interval>) -> String {
    c.map(|c| format!(" [{:.1}, {:.1}]", c.lo, c.hi))
        .unwrap_or_default()
}

fn mean_ci(o: &OverSeeds) -> String {
    format!("<b>{}</b>{}", num(o.mean), ci(o.ci))
}

fn p(x: Option<f64>) -> String {
    match x {
        Some(v) if v < 0.001 => "<0.001".into(),
        Some(v) => format!("{v:.3}"),
        None => "–".into(),
    }
}

/// The table as HTML.
pub fn final_table(rows: &[&GroupSummary], env: &str) -> String {
    let metric = rows[0].metric.label();
    let base = rows
        .iter()
        .find_map(|r| r.vs_baseline.as_ref().map(|v| v.baseline.clone()));
    let mut s = String::new();
    let _ = write!(
        s,
        "<table><tr><th class=\"l\">method</th><th>seeds</th><th>final {m}<br>mean [95% CI]</th><th class=\"l\">per seed</th><th>final success</th><th>warm start</th><th>AUC [95% CI]</th><th>reached {t}<br>seeds · mean steps · mean s</th><th>Δ vs {b}<br>mean [95% CI]</th><th>p<br>sign-flip</th><th>p<br>paired t</th><th>wall s</th></tr>",
        m = esc(metric),
        t = rows[0].to_target.target,
        b = esc(base.as_deref().unwrap_or("baseline"))
    );
    for r in rows {
        let per_seed: Vec<String> = r
            .seed_scores()
            .zip(&r.status)
            .map(|((v, ok), st)| {
                if ok {
                    num(v)
                } else {
                    format!(
                        r#"<span class="bad" title="{}">{}*</span>"#,
                        esc(st),
                        num(v)
                    )
                }
            })
            .collect();
        let t = &r.to_target;
        let (d, pp, pt) = match &r.vs_baseline {
            Some(v) => (
                format!("{}{}", num(v.mean_diff), ci(v.ci_diff)),
                format!(
                    "{} <span class=\"note\">(min {:.3})</span>",
                    p(v.p_permutation),
                    v.p_min
                ),
                p(v.p_t),
            ),
            None => ("baseline".into(), String::new(), String::new()),
        };
        let _ = write!(
            s,
            "<tr{}><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}/{} · {} · {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if r.vs_baseline.is_none() { " class=\"base\"" } else { "" },
            esc(&r.method),
            r.seeds.len(),
            mean_ci(&r.final_score),
            per_seed.join(", "),
            r.final_success.mean.map(|m| format!("{m:.2}")).unwrap_or("–".into()),
            num(r.warm_start.mean),
            num(r.auc.mean),
            ci(r.auc.ci),
            t.reached,
            r.seeds.len(),
            num(t.mean_steps),
            num(t.mean_seconds),
            d,
            pp,
            pt,
            num(r.wall_s.mean)
        );
    }
    s.push_str("</table>");
    if rows
        .iter()
        .any(|r| r.status.iter().any(|x| x != "finished"))
    {
        s.push_str("<p class=\"note\"><span class=\"bad\">*</span> run failed or did not finish: its last evaluation is shown (hover for the reason).</p>");
    }
    if let Some(row) = crate::reference::lmrl_row(env) {
        let _ = write!(
            s,
            "<p class=\"note\">LMRL-Gym Table 2 (GPT-2 policies, one run each, same normalisation): {}</p>",
            crate::reference::LMRL_METHODS
                .iter()
                .zip(row)
                .map(|(m, v)| format!("{} {v:.1}", esc(m)))
                .collect::<Vec<_>>()
                .join(" · ")
        );
    }
    s
}
