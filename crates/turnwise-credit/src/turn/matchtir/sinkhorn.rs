//! Sinkhorn–Knopp optimal transport as POT's `ot.sinkhorn` (method `sinkhorn`, default
//! arguments), used by MatchTIR's `compute_process_ot` (`credit-turn.md` §5).

/// Transport plan `T = diag(u) K diag(v)` with `K = exp(−M/reg)` between marginals `a`
/// (rows) and `b` (columns), written row-major into `plan`. At most `max_iter`
/// iterations; the marginal error `‖Σ_i T_ij − b‖₂` is checked every 10 iterations and the
/// loop stops below `stop_thr`; a zero `Kᵀu` or a non-finite `u`/`v` reverts to the
/// previous `u`, `v` and stops (POT's guard). `work` is reused scratch.
#[allow(clippy::too_many_arguments)]
pub fn sinkhorn(
    a: &[f64],
    b: &[f64],
    m: &[f64],
    reg: f64,
    max_iter: usize,
    stop_thr: f64,
    work: &mut Vec<f64>,
    plan: &mut Vec<f64>,
) {
    let (p, g) = (a.len(), b.len());
    work.clear();
    work.resize(2 * p * g + 2 * (p + g) + g, 0.0);
    let (k, rest) = work.split_at_mut(p * g);
    let (kp, rest) = rest.split_at_mut(p * g);
    let (u, rest) = rest.split_at_mut(p);
    let (v, rest) = rest.split_at_mut(g);
    let (u_prev, rest) = rest.split_at_mut(p);
    let (v_prev, ktu) = rest.split_at_mut(g);
    for (kx, &mx) in k.iter_mut().zip(m) {
        *kx = (mx / -reg).exp();
    }
    for i in 0..p {
        for j in 0..g {
            kp[i * g + j] = (1.0 / a[i]) * k[i * g + j];
        }
    }
    u.fill(1.0 / p as f64);
    v.fill(1.0 / g as f64);
    for ii in 0..max_iter {
        u_prev.copy_from_slice(u);
        v_prev.copy_from_slice(v);
        // KtU = Kᵀ u; v = b / KtU
        ktu.fill(0.0);
        for i in 0..p {
            let row = &k[i * g..(i + 1) * g];
            for (t, &kij) in ktu.iter_mut().zip(row) {
                *t += kij * u[i];
            }
        }
        for j in 0..g {
            v[j] = b[j] / ktu[j];
        }
        // u = 1 / (Kp v), Kp = diag(1/a) K
        for i in 0..p {
            let row = &kp[i * g..(i + 1) * g];
            let dot: f64 = row.iter().zip(v.iter()).map(|(x, y)| x * y).sum();
            u[i] = 1.0 / dot;
        }
        let bad = ktu.contains(&0.0)
            || !u.iter().all(|x| x.is_finite())
            || !v.iter().all(|x| x.is_finite());
        if bad {
            u.copy_from_slice(u_prev);
            v.copy_from_slice(v_prev);
            break;
        }
        if ii % 10 == 0 {
            let mut err = 0.0;
            for j in 0..g {
                let mut col = 0.0;
                for i in 0..p {
                    col += u[i] * k[i * g + j] * v[j];
                }
                err += (col - b[j]) * (col - b[j]);
            }
            if err.sqrt() < stop_thr {
                break;
            }
        }
    }
    plan.clear();
    for i in 0..p {
        for j in 0..g {
            plan.push(u[i] * k[i * g + j] * v[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_the_requested_marginals() {
        let (a, b) = ([0.5, 0.5], [1.0 / 3.0; 3]);
        let m = [-1.0, 0.0, -0.5, 0.0, -1.0, -0.2];
        let (mut w, mut t) = (Vec::new(), Vec::new());
        sinkhorn(&a, &b, &m, 0.5, 1000, 1e-12, &mut w, &mut t);
        for j in 0..3 {
            assert!((t[j] + t[3 + j] - b[j]).abs() < 1e-9);
        }
        for i in 0..2 {
            assert!((t[3 * i..3 * i + 3].iter().sum::<f64>() - a[i]).abs() < 1e-9);
        }
    }
}
