//! Software prefetching for the pointer-chasing reads of the turn-level estimators.
//!
//! Method-specific quantities live behind several pointers (trajectory → `turns` buffer →
//! `Turn::ext` box → `Vec` data), so a pass over a million turns is bound by memory
//! latency, not arithmetic. [`Lookahead`] runs a three-stage pipeline in batch order:
//! while trajectory `i` is computed, the turn structs of `i + 3`, the extension boxes of
//! `i + 2` and the value buffers of `i + 1` are requested, each stage reading only lines
//! the previous stage brought in. Prefetches are hints: they never change results.

use turnwise_core::{Group, Trajectory, TurnExt};

/// Hints the CPU to bring the cache line holding `*p` into cache (no-op elsewhere).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint and never faults, whatever the address; SSE is
        // part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Which per-turn extension field a method reads (its address inside the box) and which
/// heap buffer hangs off it.
#[derive(Clone, Copy)]
pub struct Field {
    /// Address of the field inside the turn's extension box.
    pub addr: fn(&TurnExt) -> *const u8,
    /// The heap buffer the field points to, if any.
    pub data: fn(&TurnExt) -> Option<*const u8>,
}

/// `gold_logprob` (IGPO, A²TGPO, SIOP).
pub const GOLD_LOGPROB: Field = Field {
    addr: |e| (&e.gold_logprob as *const Option<Vec<f64>>).cast(),
    data: |e| e.gold_logprob.as_ref().map(|v| v.as_ptr().cast()),
};

/// A cursor over the trajectories of a batch, in batch order.
#[derive(Clone, Copy)]
struct Cursor {
    group: usize,
    traj: usize,
}

impl Cursor {
    fn get<'b>(&self, groups: &'b [Group]) -> Option<&'b Trajectory> {
        groups.get(self.group)?.trajectories.get(self.traj)
    }

    fn advance(&mut self, groups: &[Group]) {
        self.traj += 1;
        while let Some(g) = groups.get(self.group) {
            if self.traj < g.trajectories.len() {
                return;
            }
            self.group += 1;
            self.traj = 0;
        }
    }
}

/// The three-stage prefetch pipeline; call [`Lookahead::step`] once per trajectory, in
/// batch order, before computing it.
pub struct Lookahead<'b> {
    groups: &'b [Group],
    field: Field,
    stages: [Cursor; 3],
}

impl<'b> Lookahead<'b> {
    /// A pipeline over `groups` reading `field` of every turn. The first three
    /// trajectories are requested at once.
    pub fn new(groups: &'b [Group], field: Field) -> Self {
        let mut c = Cursor { group: 0, traj: 0 };
        while groups
            .get(c.group)
            .is_some_and(|g| g.trajectories.is_empty())
        {
            c.group += 1;
        }
        let mut s = Lookahead {
            groups,
            field,
            stages: [c; 3],
        };
        // Warm up: s0 three ahead, s1 two ahead, s2 one ahead of trajectory 0.
        for _ in 0..3 {
            s.stage0();
            s.stages[0].advance(groups);
        }
        for _ in 0..2 {
            s.stage1();
            s.stages[1].advance(groups);
        }
        s.stage2();
        s.stages[2].advance(groups);
        s
    }

    fn stage0(&self) {
        if let Some(t) = self.stages[0].get(self.groups) {
            if let Some(e) = t.ext.as_deref() {
                prefetch(&e.gold_logprob_initial);
                prefetch(&e.answer_cluster);
            }
            for u in &t.turns {
                prefetch(&u.ext);
            }
        }
    }

    fn stage1(&self) {
        if let Some(t) = self.stages[1].get(self.groups) {
            if let Some(e) = t.ext.as_deref() {
                if let Some(v) = &e.gold_logprob_initial {
                    prefetch(v.as_ptr());
                }
                if let Some(c) = &e.answer_cluster {
                    prefetch(c.as_ptr());
                }
            }
            for u in &t.turns {
                if let Some(e) = u.ext.as_deref() {
                    prefetch((self.field.addr)(e));
                }
            }
        }
    }

    fn stage2(&self) {
        if let Some(t) = self.stages[2].get(self.groups) {
            for u in &t.turns {
                if let Some(p) = u.ext.as_deref().and_then(self.field.data) {
                    prefetch(p);
                }
            }
        }
    }

    /// Issues the prefetches for the trajectories 1–3 places ahead and moves on.
    #[inline]
    pub fn step(&mut self) {
        self.stage0();
        self.stage1();
        self.stage2();
        for c in &mut self.stages {
            c.advance(self.groups);
        }
    }
}

/// Requests the trajectory extension boxes of every trajectory of `group` (SIOP reads
/// them all, for the answer modes, before it walks the turns).
#[inline]
pub fn group_exts(group: Option<&Group>) {
    for t in group.into_iter().flat_map(|g| &g.trajectories) {
        if let Some(e) = t.ext.as_deref() {
            prefetch(&e.answer_cluster);
            prefetch(&e.evidence);
        }
    }
}
