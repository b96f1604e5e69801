//! Whether the run's team of threads helps, measured as the run goes.
//!
//! Pieces are cut by shape alone, so a step gives the same bits on one thread
//! or on a team ([`linalg::use_team`]); the only question is speed. On an idle
//! machine the team wins (the products of a step run side by side). On a
//! machine busy with other work it can lose badly: a piece handed to a worker
//! the kernel has descheduled waits for it, and the step waits at every
//! barrier (measured on the 2-core machine under a load of 8: 784-128-10 ran
//! 63–133 steps/s with the team and 1 340–1 760 alone). So the trainer times
//! windows of steps both ways and keeps the faster, probing the other way again
//! now and then and whenever the kept way slows down.

use std::time::Instant;

use crate::train::linalg;

/// Steps in a measured window.
const WINDOW: u32 = 16;
/// Windows between two probes of the way not taken: from the first, doubled
/// each time a probe confirms the kept way, up to the last (so a steady machine
/// spends a window in 512 the slower way), back to the first on a change.
const PROBE_FIRST: u32 = 16;
const PROBE_LAST: u32 = 512;
/// A window this much slower than the kept way's last probe starts a probe
/// early (the load changed).
const SLOWDOWN: f64 = 1.5;
/// A probe slower than this many windows of the kept way ends at once.
const GIVE_UP: f64 = 2.0;

/// The way steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Team,
    Alone,
}

impl Way {
    fn other(self) -> Way {
        match self {
            Way::Team => Way::Alone,
            Way::Alone => Way::Team,
        }
    }
}

/// The decisions, apart from the clock (so they can be tested with made-up
/// timings): feed it the seconds per step of each finished window, in order.
#[derive(Debug, Clone)]
pub struct Chooser {
    /// The way the current window runs.
    now: Way,
    /// The way kept between probes.
    kept: Way,
    /// Seconds per step of each way at its last full window.
    last: [Option<f64>; 2],
    /// Windows since the last probe.
    since_probe: u32,
    /// Windows between probes now.
    interval: u32,
}

impl Default for Chooser {
    fn default() -> Self {
        // Alone first: the team's first window is then a probe, cut short if
        // the machine is busy (alone, a window costs at most what a slower
        // one-thread step costs on an idle machine).
        Chooser {
            now: Way::Alone,
            kept: Way::Alone,
            last: [None, None],
            since_probe: 0,
            interval: PROBE_FIRST,
        }
    }
}

fn slot(w: Way) -> usize {
    match w {
        Way::Team => 0,
        Way::Alone => 1,
    }
}

impl Chooser {
    /// The way the current window runs.
    pub fn way(&self) -> Way {
        self.now
    }

    /// A window ran at `per_step` seconds a step; returns the way of the next.
    pub fn window_done(&mut self, per_step: f64) -> Way {
        let ran = self.now;
        let before = self.last[slot(ran)];
        self.last[slot(ran)] = Some(per_step);
        if ran != self.kept {
            // A probe ended: keep the faster way.
            if let (Some(t), Some(a)) = (self.last[0], self.last[1]) {
                let faster = if a < t { Way::Alone } else { Way::Team };
                self.interval = if faster == self.kept {
                    (self.interval * 2).min(PROBE_LAST)
                } else {
                    PROBE_FIRST
                };
                self.kept = faster;
            }
            self.since_probe = 0;
            self.now = self.kept;
            return self.now;
        }
        self.since_probe += 1;
        let other_unknown = self.last[slot(ran.other())].is_none();
        // Only the team can suddenly get much slower (a worker descheduled by
        // other work); alone, the run is probed on the usual interval.
        let slowed = ran == Way::Team && before.is_some_and(|b| per_step > SLOWDOWN * b);
        if other_unknown || slowed || self.since_probe >= self.interval {
            self.now = ran.other();
        }
        self.now
    }

    /// Whether a probe that has taken `elapsed` seconds so far has already lost:
    /// longer than [`GIVE_UP`] windows of the kept way (a probe of a team on a
    /// busy machine would otherwise cost the steps of many windows).
    pub fn probe_lost(&self, elapsed: f64) -> bool {
        self.now != self.kept
            && self.last[slot(self.kept)].is_some_and(|k| elapsed > GIVE_UP * f64::from(WINDOW) * k)
    }
}

/// The chooser with its clock, driven by the trainer around each step.
#[derive(Debug)]
pub struct Team {
    chooser: Chooser,
    active: bool,
    steps: u32,
    started: Option<Instant>,
}

impl Team {
    /// Adapts only when asked to (`--threads` not given), and only while the
    /// calling thread leads a team (the run is inside `linalg::pool`).
    pub fn new(adapt: bool) -> Team {
        Team {
            chooser: Chooser::default(),
            active: adapt,
            steps: 0,
            started: None,
        }
    }

    /// Before a step: starts a window's clock.
    pub fn before_step(&mut self) {
        if self.active && self.started.is_none() && linalg::leads_team() {
            linalg::use_team(self.chooser.way() == Way::Team);
            self.started = Some(Instant::now());
            self.steps = 0;
        }
    }

    /// After a step: ends the window after [`WINDOW`] steps and sets the way of
    /// the next.
    pub fn after_step(&mut self) {
        if !self.active {
            return;
        }
        self.steps += 1;
        let Some(t0) = self.started else {
            return;
        };
        let probing = self.chooser.way() != self.chooser.kept;
        if self.steps < WINDOW && !probing {
            return;
        }
        let elapsed = t0.elapsed().as_secs_f64();
        if self.steps < WINDOW && !self.chooser.probe_lost(elapsed) {
            return;
        }
        self.started = None;
        let way = self.chooser.window_done(elapsed / f64::from(self.steps));
        linalg::use_team(way == Way::Team);
    }

    /// Between epochs (validation, logging, checkpoints): the window's clock
    /// stops; the next step starts a new window in the same way.
    pub fn pause(&mut self) {
        self.started = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds windows whose time depends on the way; returns the ways taken.
    fn run(windows: usize, cost: impl Fn(usize, Way) -> f64) -> Vec<Way> {
        let mut c = Chooser::default();
        let mut ways = Vec::new();
        for i in 0..windows {
            let w = c.way();
            ways.push(w);
            c.window_done(cost(i, w));
        }
        ways
    }

    #[test]
    fn keeps_the_team_when_it_is_faster_and_probes_rarely() {
        let ways = run(400, |_, w| if w == Way::Team { 1.0 } else { 1.6 });
        let alone = ways.iter().filter(|&&w| w == Way::Alone).count();
        assert_eq!(ways[0], Way::Alone);
        assert_eq!(ways[1], Way::Team, "the other way is measured once early");
        // 1 early, then after 16, 32, 64, 128 windows.
        assert!(alone <= 5, "{alone} probes");
        assert_eq!(ways[399], Way::Team);
    }

    #[test]
    fn goes_alone_when_the_team_is_slower() {
        let ways = run(400, |_, w| if w == Way::Team { 10.0 } else { 1.0 });
        let team = ways.iter().filter(|&&w| w == Way::Team).count();
        assert!(team <= 6, "{team} windows with the team");
        assert_eq!(ways[399], Way::Alone);
    }

    #[test]
    fn a_probe_that_has_lost_ends_early() {
        let mut c = Chooser::default();
        assert!(!c.probe_lost(1e9), "nothing to compare with yet");
        c.window_done(1.0); // alone: 1 s a step
        assert_eq!(c.way(), Way::Team);
        assert!(!c.probe_lost(GIVE_UP * f64::from(WINDOW) * 0.9));
        assert!(c.probe_lost(GIVE_UP * f64::from(WINDOW) * 1.1));
        c.window_done(5.0);
        assert_eq!(c.way(), Way::Alone);
        assert!(!c.probe_lost(1e9), "not a probe");
    }

    #[test]
    fn follows_a_change_of_load_soon() {
        // The machine gets busy at window 100 and idle again at window 250.
        let busy = |i: usize| (100..250).contains(&i);
        let ways = run(1000, |i, w| match (w, busy(i)) {
            (Way::Team, false) => 1.0,
            (Way::Alone, false) => 1.6,
            (Way::Team, true) => 12.0,
            (Way::Alone, true) => 2.0,
        });
        // Alone within a few windows of the load; the team again within the
        // probe interval reached while alone (at most half the longest).
        assert!(ways[100..106].contains(&Way::Alone));
        assert!(ways[106..250].iter().filter(|&&w| w == Way::Alone).count() > 130);
        let back = 250 + PROBE_LAST as usize / 2;
        // Then alone only for the probes (after 16, 32, 64, … windows).
        assert!(ways[back..].iter().filter(|&&w| w == Way::Alone).count() <= 5);
    }
}
