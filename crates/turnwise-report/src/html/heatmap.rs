//! Per-turn credit heatmaps as inline SVG: one row per trajectory, one cell per turn
//! coloured by the credited value (blue negative, red positive, white zero; the scale is
//! symmetric around zero and shared by the rows of one view), with the turn's reward as a
//! strip under it and the action, reward and credit in each cell's hover title.

use std::fmt::Write;

use super::esc;
use crate::credit::CreditView;

const CELL_H: f64 = 13.0;
const STRIP_H: f64 = 5.0;
const ROW_GAP: f64 = 4.0;
const LABEL_W: f64 = 118.0;
const MAX_W: f64 = 560.0;

/// Diverging colour of `v` in [−1, 1]: blue (#2166ac) through white to red (#b2182b).
pub fn diverging(v: f64) -> String {
    let v = if v.is_finite() {
        v.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, t) = if v < 0.0 {
        ((33.0, 102.0, 172.0), -v)
    } else {
        ((178.0, 24.0, 43.0), v)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(end.0), mix(end.1), mix(end.2))
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "none".into()
    }
}

/// The heatmap of one view as an `<svg>` element.
pub fn heatmap(v: &CreditView) -> String {
    let turns = v
        .rows
        .iter()
        .map(|r| r.credit.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let cell_w = (MAX_W / turns as f64).clamp(4.0, 16.0);
    let scale = v
        .rows
        .iter()
        .flat_map(|r| r.credit.iter())
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(1e-12);
    let rscale = v
        .rows
        .iter()
        .flat_map(|r| r.rewards.iter())
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(1e-12);
    let row_h = CELL_H + STRIP_H + ROW_GAP;
    let w = (LABEL_W + cell_w * turns as f64 + 8.0).max(LABEL_W + 400.0);
    let h = 18.0 + row_h * v.rows.len() as f64 + 26.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="heat" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="credit heatmap of {}">"#,
        esc(&v.method)
    );
    for t in (0..turns).step_by(if turns > 20 { 5 } else { 1 }) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="12" class="tk" text-anchor="middle">{}</text>"#,
            LABEL_W + (t as f64 + 0.5) * cell_w,
            t + 1
        );
    }
    for (i, r) in v.rows.iter().enumerate() {
        let y = 18.0 + row_h * i as f64;
        let mark = match r.success {
            Some(true) => " ✓",
            Some(false) => " ✗",
            None => "",
        };
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" class="tk">return {:.2}{}</text>"#,
            y + CELL_H - 2.0,
            r.total,
            mark
        );
        for (t, c) in r.credit.iter().enumerate() {
            let x = LABEL_W + t as f64 * cell_w;
            let reward = r.rewards.get(t).copied().unwrap_or(0.0);
            let action = r.actions.get(t).map(|a| a.trim()).unwrap_or("");
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{CELL_H}" fill="{}" stroke="#ccc" stroke-width="0.4"><title>turn {}: {} | reward {} | credit {}</title></rect>"##,
                cell_w - 0.5,
                diverging(c / scale),
                t + 1,
                esc(action),
                fmt(reward),
                fmt(*c)
            );
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{STRIP_H}" fill="{}"/>"#,
                y + CELL_H,
                cell_w - 0.5,
                diverging(reward / rscale)
            );
        }
    }
    let ly = h - 14.0;
    for k in 0..=10 {
        let val = -1.0 + 0.2 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{ly:.1}" width="12" height="9" fill="{}"/>"#,
            LABEL_W + 12.0 * k as f64,
            diverging(val)
        );
    }
    let _ = write!(
        s,
        r#"<text x="0" y="{:.1}" class="tk">credit ±{}</text><text x="{:.1}" y="{:.1}" class="tk">strip under each row: reward (±{})</text>"#,
        ly + 8.0,
        fmt(scale),
        LABEL_W + 140.0,
        ly + 8.0,
        fmt(rscale)
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit::CreditRow;

    #[test]
    fn diverging_endpoints_and_zero() {
        assert_eq!(diverging(0.0), "#ffffff");
        assert_eq!(diverging(1.0), "#b2182b");
        assert_eq!(diverging(-1.0), "#2166ac");
        assert_eq!(diverging(f64::NAN), "#ffffff");
        assert_eq!(diverging(5.0), "#b2182b");
    }

    #[test]
    fn one_cell_per_turn_with_titles() {
        let v = CreditView {
            method: "grpo".into(),
            step: Some(3),
            origin: "test".into(),
            group_id: "g".into(),
            rows: vec![CreditRow {
                id: "t0".into(),
                rewards: vec![-1.0, 0.0],
                credit: vec![0.5, -0.25],
                actions: vec!["move <up>\n".into(), "move up\n".into()],
                total: -1.0,
                success: Some(true),
            }],
        };
        let svg = heatmap(&v);
        assert_eq!(svg.matches("<title>turn ").count(), 2);
        assert!(svg.contains("move &lt;up&gt;") && svg.contains("credit 0.500"));
    }
}
