//! Line charts as inline SVG: per method a mean curve, its confidence band and one thin
//! line per seed, with axes, a legend and hover titles. No script.

use std::fmt::Write;

use super::esc;

/// One method's curves.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Mean curve (x, y).
    pub mean: Vec<(f64, f64)>,
    /// Band (x, lo, hi).
    pub band: Vec<(f64, f64, f64)>,
    /// Per-seed curves (label, points).
    pub seeds: Vec<(String, Vec<(f64, f64)>)>,
}

/// A chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// Y-axis range (values outside are drawn at the edge); None: the data's.
    pub y_range: Option<(f64, f64)>,
    /// A horizontal reference line (e.g. the target score) with its label.
    pub hline: Option<(f64, String)>,
    /// The series.
    pub series: Vec<Series>,
}

const W: f64 = 440.0;
const H: f64 = 270.0;
const L: f64 = 52.0;
const R: f64 = 12.0;
const T: f64 = 30.0;
const B: f64 = 40.0;

/// Round tick positions covering [lo, hi] (steps of 1, 2 or 5 × 10ᵏ).
pub fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick label with as many decimals as the tick spacing `step` needs.
fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

fn spacing(t: &[f64]) -> f64 {
    if t.len() > 1 {
        t[1] - t[0]
    } else {
        1.0
    }
}

/// The chart as an `<svg>` element.
pub fn line_chart(c: &Chart) -> String {
    let xs = c.series.iter().flat_map(|s| {
        s.mean
            .iter()
            .map(|p| p.0)
            .chain(s.seeds.iter().flat_map(|q| q.1.iter().map(|p| p.0)))
    });
    let (x0, x1) = min_max(xs);
    let (y0, y1) = c.y_range.unwrap_or_else(|| {
        let ys = c.series.iter().flat_map(|s| {
            s.band
                .iter()
                .flat_map(|b| [b.1, b.2])
                .chain(s.mean.iter().map(|p| p.1))
                .chain(s.seeds.iter().flat_map(|q| q.1.iter().map(|p| p.1)))
        });
        let (a, b) = min_max(ys);
        let pad = ((b - a) * 0.05).max(1e-9);
        (a - pad, b + pad)
    });
    let (x1, y1) = (
        if x1 > x0 { x1 } else { x0 + 1.0 },
        if y1 > y0 { y1 } else { y0 + 1.0 },
    );
    let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| T + (1.0 - (y.clamp(y0, y1) - y0) / (y1 - y0)) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}">"#,
        esc(&c.title)
    );
    let _ = write!(
        s,
        r#"<text x="{L}" y="16" class="ct">{}</text>"#,
        esc(&c.title)
    );
    // Grid and axes.
    let yt = ticks(y0, y1, 5);
    for &v in &yt {
        let y = py(v);
        let _ = write!(
            s,
            r##"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{}" y="{:.1}" class="tk" text-anchor="end">{}</text>"##,
            W - R,
            L - 4.0,
            y + 3.5,
            fmt_tick(v, spacing(&yt))
        );
    }
    let xt = ticks(x0, x1, 6);
    for &v in &xt {
        let x = px(v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{T}" y2="{}" class="grid"/><text x="{x:.1}" y="{}" class="tk" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 14.0,
            fmt_tick(v, spacing(&xt))
        );
    }
    let _ = write!(
        s,
        r#"<rect x="{L}" y="{T}" width="{}" height="{}" class="frame"/>"#,
        W - L - R,
        H - T - B
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" class="al" text-anchor="middle">{}</text><text transform="translate(13,{}) rotate(-90)" class="al" text-anchor="middle">{}</text>"#,
        (L + W - R) / 2.0,
        H - 6.0,
        esc(&c.x_label),
        (T + H - B) / 2.0,
        esc(&c.y_label)
    );
    if let Some((v, label)) = &c.hline {
        if *v >= y0 && *v <= y1 {
            let y = py(*v);
            let _ = write!(
                s,
                r#"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="hl"><title>{}</title></line>"#,
                W - R,
                esc(label)
            );
        }
    }
    for se in &c.series {
        if se.band.len() > 1 {
            let mut pts: Vec<String> = se
                .band
                .iter()
                .map(|b| format!("{:.1},{:.1}", px(b.0), py(b.2)))
                .collect();
            pts.extend(
                se.band
                    .iter()
                    .rev()
                    .map(|b| format!("{:.1},{:.1}", px(b.0), py(b.1))),
            );
            let _ = write!(
                s,
                r#"<polygon points="{}" fill="{}" class="band"><title>{}: 95% interval</title></polygon>"#,
                pts.join(" "),
                se.color,
                esc(&se.name)
            );
        }
        for (label, pts) in &se.seeds {
            let _ = write!(
                s,
                r#"<polyline points="{}" stroke="{}" class="seed"><title>{} {}</title></polyline>"#,
                poly(pts, &px, &py),
                se.color,
                esc(&se.name),
                esc(label)
            );
        }
        let _ = write!(
            s,
            r#"<polyline points="{}" stroke="{}" class="mean"><title>{} (mean)</title></polyline>"#,
            poly(&se.mean, &px, &py),
            se.color,
            esc(&se.name)
        );
        if se.mean.len() <= 40 {
            for (i, &(x, y)) in se.mean.iter().enumerate() {
                let band = se
                    .band
                    .get(i)
                    .map(|b| format!(" [{:.1}, {:.1}]", b.1, b.2))
                    .unwrap_or_default();
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.4" fill="{}"><title>{}: step {} mean {:.1}{}</title></circle>"#,
                    px(x),
                    py(y),
                    se.color,
                    esc(&se.name),
                    x,
                    y,
                    band
                );
            }
        }
    }
    // Legend.
    let mut lx = L + 4.0;
    for se in &c.series {
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="{}" width="10" height="3" fill="{}"/><text x="{:.1}" y="{}" class="lg">{}</text>"#,
            T + 5.0,
            se.color,
            lx + 13.0,
            T + 9.0,
            esc(&se.name)
        );
        lx += 22.0 + 6.2 * se.name.chars().count() as f64;
    }
    s.push_str("</svg>");
    s
}

fn min_max(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

fn poly(pts: &[(f64, f64)], px: &impl Fn(f64) -> f64, py: &impl Fn(f64) -> f64) -> String {
    pts.iter()
        .filter(|p| p.1.is_finite())
        .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(-3.0, 3.0, 3), vec![-2.0, 0.0, 2.0]);
        assert_eq!(
            ticks(0.0, 300.0, 6),
            vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0]
        );
    }

    #[test]
    fn tick_labels_have_the_decimals_their_spacing_needs() {
        assert_eq!(fmt_tick(4.79, 0.01), "4.79");
        assert_eq!(fmt_tick(40.0, 10.0), "40");
        assert_eq!(fmt_tick(0.5, 0.5), "0.5");
    }

    #[test]
    fn chart_escapes_names_and_draws_every_series() {
        let c = Chart {
            title: "a <b>".into(),
            x_label: "step".into(),
            y_label: "score".into(),
            series: vec![Series {
                name: "m&m".into(),
                color: "#123456",
                mean: vec![(0.0, 1.0), (10.0, 2.0)],
                band: vec![(0.0, 0.5, 1.5), (10.0, 1.5, 2.5)],
                seeds: vec![("seed 0".into(), vec![(0.0, 1.0), (10.0, 2.0)])],
            }],
            ..Default::default()
        };
        let svg = line_chart(&c);
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("m&amp;m"));
        assert!(svg.contains("<polygon") && svg.matches("<polyline").count() == 2);
        assert!(!svg.contains("NaN"));
    }
}
