//! The self-contained HTML report: one file, inline CSS and SVG, no script and nothing
//! fetched at view time. Per environment: learning curves with 95% bands, training-batch
//! success and entropy, the final-score table with intervals and paired tests, per-turn
//! credit heatmaps; then every run's configuration.

mod heatmap;
mod svg;
mod table;

use std::fmt::Write;

pub use heatmap::{diverging, heatmap};
pub use svg::{line_chart, ticks, Chart, Series};

use crate::curve::{self, Point};
use crate::run::Metric;
use crate::source::{Entry, Sources};
use crate::summary::{self, Summary, LEVEL};

/// Report options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Page title.
    pub title: String,
    /// Baseline method of the paired tests (default: the compare's, else the first).
    pub baseline: Option<String>,
    /// Target score (default: per metric).
    pub target: Option<f64>,
    /// Trajectories per credit heatmap.
    pub heatmap_rows: usize,
    /// Free text shown under the title (e.g. when and how it was generated).
    pub subtitle: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "turnwise report".into(),
            baseline: None,
            target: None,
            heatmap_rows: 8,
            subtitle: String::new(),
        }
    }
}

/// Tableau 10: one colour per method, the same on every chart.
const COLORS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1480px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.sub{color:#666;margin:0 0 12px}.note{color:#555;font-size:12.5px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{width:440px;max-width:100%;height:auto;background:#fff}
.ct{font-size:13px;font-weight:600;fill:#222}.tk{font-size:10px;fill:#555}.al{font-size:11px;fill:#333}.lg{font-size:10.5px;fill:#222}
.grid{stroke:#eee;stroke-width:1}.frame{fill:none;stroke:#bbb}.hl{stroke:#888;stroke-dasharray:4 3}
.band{opacity:.18;stroke:none}.seed{fill:none;stroke-width:.9;opacity:.4}.mean{fill:none;stroke-width:2.2}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f5f5f5}td.l,th.l{text-align:left}tr.base td{background:#fafafa}.bad{color:#b2182b;font-weight:600}
.heats{display:flex;flex-wrap:wrap;gap:18px}.heatbox{max-width:100%;overflow-x:auto}.heat{display:block}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;font-size:12px;overflow-x:auto;max-height:420px}
details{margin:4px 0}summary{cursor:pointer}.sw{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
"#;

/// Centered moving average with window `w`, then at most `max` evenly spaced points.
fn smooth(pts: &[(f64, f64)], w: usize, max: usize) -> Vec<(f64, f64)> {
    let h = w / 2;
    let sm: Vec<(f64, f64)> = (0..pts.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(h), (i + h + 1).min(pts.len()));
            let ys: Vec<f64> = pts[a..b]
                .iter()
                .map(|p| p.1)
                .filter(|y| y.is_finite())
                .collect();
            (
                pts[i].0,
                if ys.is_empty() {
                    f64::NAN
                } else {
                    crate::stats::mean(&ys)
                },
            )
        })
        .collect();
    let stride = sm.len().div_ceil(max.max(1)).max(1);
    let mut out: Vec<(f64, f64)> = sm.iter().step_by(stride).copied().collect();
    if let (Some(l), Some(o)) = (sm.last(), out.last()) {
        if l.0 != o.0 {
            out.push(*l);
        }
    }
    out
}

/// One chart of a metric over seeds: the band and mean from the per-seed curves.
fn series_of(name: &str, color: &'static str, curves: Vec<(u64, Vec<(f64, f64)>)>) -> Series {
    let pts: Vec<Vec<Point>> = curves
        .iter()
        .map(|(_, c)| {
            c.iter()
                .map(|&(x, y)| Point {
                    step: x as u64,
                    seconds: 0.0,
                    score: y,
                })
                .collect()
        })
        .collect();
    let b = curve::band(&pts, LEVEL);
    Series {
        name: name.into(),
        color,
        mean: b
            .steps
            .iter()
            .zip(&b.mean)
            .map(|(s, m)| (*s as f64, *m))
            .collect(),
        band: if curves.len() > 1 {
            b.steps
                .iter()
                .zip(&b.ci)
                .map(|(s, c)| (*s as f64, c.lo, c.hi))
                .collect()
        } else {
            vec![]
        },
        seeds: if curves.len() > 1 {
            curves
                .into_iter()
                .map(|(s, c)| (format!("seed {s}"), c))
                .collect()
        } else {
            vec![]
        },
    }
}

fn charts(
    env: &str,
    groups: &[(&String, Vec<&Entry>)],
    color: &dyn Fn(&str) -> &'static str,
    target: f64,
) -> String {
    let metric = groups[0].1[0].run.metric;
    let y_range = match metric {
        Metric::NormalisedScore => {
            let lo = groups
                .iter()
                .flat_map(|g| g.1.iter().flat_map(|e| e.run.evals.iter().map(|p| p.score)))
                .fold(0.0f64, f64::min);
            Some((lo.max(-50.0), 110.0))
        }
        Metric::SuccessPercent => Some((0.0, 100.0)),
    };
    // One chart: per method, one curve per seed from `points`, with mean and band.
    let chart =
        |title: &str, y: &str, y_range, hline, points: &dyn Fn(&Entry) -> Vec<(f64, f64)>| Chart {
            title: title.into(),
            x_label: "RL step".into(),
            y_label: y.into(),
            y_range,
            hline,
            series: groups
                .iter()
                .map(|(label, es)| {
                    let curves = es.iter().map(|e| (e.run.seed, points(e))).collect();
                    series_of(label, color(label), curves)
                })
                .collect(),
        };
    let eval = chart(
        "Evaluation score (mean, 95% band, seeds)",
        metric.label(),
        y_range,
        Some((target, format!("target {target}"))),
        &|e| {
            e.run
                .evals
                .iter()
                .map(|p| (p.step as f64, p.score))
                .collect()
        },
    );
    let train = |title: &str, y: &str, f: &dyn Fn(&crate::run::StepPoint) -> f64, range| {
        chart(title, y, range, None, &|e| {
            let raw: Vec<(f64, f64)> = e.run.steps.iter().map(|s| (s.step as f64, f(s))).collect();
            let w = (raw.len() / 25).max(1);
            smooth(&raw, w, 80)
        })
    };
    let succ = train(
        "Training batches: success %",
        "success %",
        &|s| 100.0 * s.success,
        Some((0.0, 100.0)),
    );
    let ent = train(
        "Training: policy entropy",
        "nats / token",
        &|s| s.entropy,
        None,
    );
    let _ = env;
    format!(
        r#"<div class="charts">{}{}{}</div>"#,
        line_chart(&eval),
        line_chart(&succ),
        line_chart(&ent)
    )
}

fn heatmaps(groups: &[(&String, Vec<&Entry>)], rows: usize) -> String {
    let mut s = String::from(r#"<div class="heats">"#);
    for (label, es) in groups {
        let e = es[0];
        let _ = write!(
            s,
            r#"<div class="heatbox"><h4>{}, seed {}"#,
            esc(label),
            e.run.seed
        );
        match crate::credit::for_run(&e.run, rows) {
            Ok(v) => {
                let _ = write!(
                    s,
                    r#"{}</h4><p class="note">task group {} · {}</p>{}"#,
                    v.step.map(|k| format!(", step {k}")).unwrap_or_default(),
                    esc(&v.group_id),
                    esc(&v.origin),
                    heatmap(&v)
                );
            }
            Err(why) => {
                let _ = write!(s, r#"</h4><p class="note">no heatmap: {}</p>"#, esc(&why));
            }
        }
        s.push_str("</div>");
    }
    s.push_str("</div>");
    s
}

/// Renders the report of `src`; returns the page and its summary.
pub fn render(src: &Sources, opts: &Options) -> (String, Summary) {
    let baseline = src.baseline(opts.baseline.as_deref());
    let sum = summary::summarise(&src.entries, baseline.as_deref(), opts.target);
    let groups = summary::group(&src.entries);
    let mut labels: Vec<&String> = Vec::new();
    for ((_, l), _) in &groups {
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let color = |l: &str| COLORS[labels.iter().position(|x| *x == l).unwrap_or(0) % COLORS.len()];
    let mut envs: Vec<&String> = Vec::new();
    for ((e, _), _) in &groups {
        if !envs.contains(&e) {
            envs.push(e);
        }
    }
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<h1>{}</h1><p class="sub">{}</p><p class="note">{} runs · {} environment(s) · methods: {} · baseline: {} · {}</p>"#,
        esc(&opts.title),
        esc(&opts.subtitle),
        src.entries.len(),
        envs.len(),
        labels
            .iter()
            .map(|l| format!(
                r#"<span class="sw" style="background:{}"></span>{}"#,
                color(l),
                esc(l)
            ))
            .collect::<Vec<_>>()
            .join(" "),
        esc(baseline.as_deref().unwrap_or("none")),
        esc(summary::METHOD_NOTE)
    );
    for env in &envs {
        let eg: Vec<(&String, Vec<&Entry>)> = groups
            .iter()
            .filter(|((e, _), _)| e == *env)
            .map(|((_, l), es)| (l, es.clone()))
            .collect();
        let rows: Vec<_> = sum.groups.iter().filter(|g| &g.env == *env).collect();
        let target = rows[0].to_target.target;
        let _ = write!(
            body,
            r#"<h2 id="{}">{}</h2>"#,
            esc(&crate::manifest::slug(env)),
            esc(env)
        );
        body.push_str(&charts(env, &eg, &color, target));
        body.push_str(&table::final_table(&rows, env));
        let _ = write!(
            body,
            "<h3>Per-turn credit of sample trajectories</h3><p class=\"note\">One task group of one RL step per method (its first seed): each row a trajectory, each cell a turn coloured by the credit the method gave it (red positive, blue negative, scale per method), the strip under it the turn's reward. Hover a cell for the action.</p>{}",
            heatmaps(&eg, opts.heatmap_rows)
        );
    }
    body.push_str(&configs(src, &groups));
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{}</style></head><body>{}</body></html>\n",
        esc(&opts.title),
        CSS,
        body
    );
    (page, sum)
}

fn configs(src: &Sources, groups: &[((String, String), Vec<&Entry>)]) -> String {
    let mut s = String::from("<h2 id=\"configuration\">Configuration</h2>");
    for (dir, m) in &src.compares {
        let _ = write!(
            s,
            "<p>Compare folder <code>{}</code>: <code>{}</code></p>",
            esc(&dir.display().to_string()),
            esc(&m.command.join(" "))
        );
    }
    for ((env, label), es) in groups {
        let e = es[0];
        let seeds: Vec<String> = es.iter().map(|e| e.run.seed.to_string()).collect();
        let _ = write!(
            s,
            "<details><summary>{} · {} (seeds {}; shown: <code>{}</code>)</summary><pre>{}</pre></details>",
            esc(env),
            esc(label),
            seeds.join(", "),
            esc(&e.run.dir.join("config.toml").display().to_string()),
            esc(&e.run.config_text)
        );
    }
    if !src.skipped.is_empty() {
        s.push_str("<h3>Run folders that could not be read</h3><ul>");
        for (p, why) in &src.skipped {
            let _ = write!(
                s,
                "<li><code>{}</code>: {}</li>",
                esc(&p.display().to_string()),
                esc(why)
            );
        }
        s.push_str("</ul>");
    }
    s
}
