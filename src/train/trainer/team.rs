//! Whether the run's team of threads helps, measured as the run goes.
//!
//! Pieces are cut by shape alone, so a step gives the same bits on one thread
//! or on a team ([`linalg::use_team`]); the only question is speed. On an idle
//! machine the team wins (the products of a step run side by side). On a
//! machine busy with other work it can lose badly: a piece handed to a worker
//! the kernel has descheduled waits for it, and the step waits at every
//! barrier (measured on the 2-core machine under a load of 8: 784-128-10 ran
//! 63–133 steps/s with the team and 1 340–1 760 alone). So the trainer keeps
//! the team, after a short first look at one thread, and times windows of 16
//! steps: it probes one thread when that was faster than the team's last two
//! windows or when the team's last two windows got 1.5× slower, keeps the
//! faster, and probes the other way again on a doubling interval (64 to 512
//! windows; 8 to 512 after going alone). A way counts as fast as the faster of
//! its last two windows, so one window that met a hiccup decides nothing; a
//! window already slower than two windows of the other way ends at once.
//!
//! One thread is kept only when it beats the team by 10 %, and the team is
//! probed again soon after: a hiccup of the machine that spans two of the
//! team's windows (a few milliseconds) once sent a 784-128-10 run alone for 64
//! windows, 1 000 of its 2 400 steps at 0.6× the speed (round 14).

use std::time::Instant;

use crate::train::linalg;

/// Steps in a measured window.
const WINDOW: u32 = 16;
/// Steps of the run's first window, alone: a short look at one thread, so that
/// a busy machine is noticed at once and an idle one pays little.
const FIRST_WINDOW: u32 = 4;
/// Windows between two probes of the way not taken: from the first, doubled
/// each time a probe confirms the kept way, up to the last (so a steady machine
/// spends a window in 512 the slower way), back to the first on a change.
const PROBE_FIRST: u32 = 64;
const PROBE_LAST: u32 = 512;
/// Windows alone before the first probe of the team after going alone: the
/// team is the way of an idle machine, and what sent the run alone may have
/// been a hiccup.
const PROBE_TEAM_FIRST: u32 = 8;
/// One thread is kept after a probe only when its time a step is below this
/// fraction of the team's: on a tie the team, the way of an idle machine.
const ALONE_MARGIN: f64 = 0.9;
/// A team window this much slower than the team's last starts a probe at once
/// (the load changed).
const SLOWDOWN: f64 = 1.5;
/// A window slower than this many windows of the other way ends at once.
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
    /// Seconds per step of each way at its last two windows (the newest
    /// first): a way counts as fast as the faster of the two, so that one
    /// window that met a hiccup of the machine decides nothing on its own.
    last: [[Option<f64>; 2]; 2],
    /// Windows since the last probe.
    since_probe: u32,
    /// Windows between probes now.
    interval: u32,
}

impl Default for Chooser {
    /// The team is kept from the start; the first, short window probes one
    /// thread (its steps also warm the buffers, which only favours the team).
    fn default() -> Self {
        Chooser {
            now: Way::Alone,
            kept: Way::Team,
            last: [[None, None]; 2],
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
    /// Seconds per step of a way: the faster of its last two windows.
    fn speed(&self, w: Way) -> Option<f64> {
        match self.last[slot(w)] {
            [Some(a), Some(b)] => Some(a.min(b)),
            [a, b] => a.or(b),
        }
    }

    /// The way the current window runs.
    pub fn way(&self) -> Way {
        self.now
    }

    /// Steps in the current window.
    pub fn window_len(&self) -> u32 {
        // The run's first window: nothing measured yet.
        if self.last == [[None, None]; 2] {
            FIRST_WINDOW
        } else {
            WINDOW
        }
    }

    /// A window ran at `per_step` seconds a step; returns the way of the next.
    pub fn window_done(&mut self, per_step: f64) -> Way {
        let ran = self.now;
        let before = self.speed(ran);
        let seen = &mut self.last[slot(ran)];
        *seen = [Some(per_step), seen[0]];
        if ran != self.kept {
            // A probe ended: keep the faster way.
            if let (Some(t), Some(a)) = (self.speed(Way::Team), self.speed(Way::Alone)) {
                let faster = if a < ALONE_MARGIN * t {
                    Way::Alone
                } else {
                    Way::Team
                };
                self.interval = match (faster == self.kept, faster) {
                    (true, _) => (self.interval * 2).min(PROBE_LAST),
                    (false, Way::Alone) => PROBE_TEAM_FIRST,
                    (false, Way::Team) => PROBE_FIRST,
                };
                self.kept = faster;
            }
            self.since_probe = 0;
            self.now = self.kept;
            return self.now;
        }
        self.since_probe += 1;
        let other = self.speed(ran.other());
        // The other way beat this way's last two windows, or the team got much
        // slower than it was (a worker descheduled by other work): probe now.
        let now = self.speed(ran).unwrap_or(per_step);
        let beaten = other.is_none_or(|o| o < now);
        let slowed = ran == Way::Team && before.is_some_and(|b| now > SLOWDOWN * b);
        if beaten || slowed || self.since_probe >= self.interval {
            self.now = ran.other();
        }
        self.now
    }

    /// Whether the current window, `elapsed` seconds so far, has already lost:
    /// longer than `GIVE_UP` windows of the other way (a team's window on a
    /// busy machine would otherwise cost the steps of many windows).
    pub fn lost(&self, elapsed: f64) -> bool {
        self.speed(self.now.other())
            .is_some_and(|o| elapsed > GIVE_UP * f64::from(WINDOW) * o)
    }
}

/// The chooser with its clock, driven by the trainer around each step.
///
/// A window counts steps, not epochs: the clock stops between epochs
/// ([`Team::pause`]: validation, logging, checkpoints are not steps) and the
/// window goes on at the next epoch's first step. Ended at each epoch instead,
/// a window never ended in a run of fewer steps an epoch than a window (one
/// step an epoch in full-batch training): the first window, the look at one
/// thread, went on for the whole run, and 784-512-512-10 at one batch an epoch
/// ran at 262 steps a second instead of the team's 422.
#[derive(Debug)]
pub struct Team {
    chooser: Chooser,
    active: bool,
    /// Steps of the current window so far (0: no window under way).
    steps: u32,
    /// When the clock of the current window last started (`None`: stopped).
    started: Option<Instant>,
    /// Seconds of the current window's steps before the clock last stopped.
    banked: f64,
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
            banked: 0.0,
        }
    }

    /// Before a step: starts a window (its way and its clock), or restarts the
    /// clock of the window under way.
    pub fn before_step(&mut self) {
        if self.active && self.started.is_none() && linalg::leads_team() {
            if self.steps == 0 {
                linalg::use_team(self.chooser.way() == Way::Team);
                self.banked = 0.0;
            }
            self.started = Some(Instant::now());
        }
    }

    /// After a step: ends the window after its steps, or as soon as it has
    /// lost, and sets the way of the next.
    pub fn after_step(&mut self) {
        let Some(t0) = self.started else {
            return;
        };
        self.steps += 1;
        let elapsed = self.banked + t0.elapsed().as_secs_f64();
        if self.steps < self.chooser.window_len() && !self.chooser.lost(elapsed) {
            return;
        }
        let way = self.chooser.window_done(elapsed / f64::from(self.steps));
        (self.started, self.steps, self.banked) = (None, 0, 0.0);
        linalg::use_team(way == Way::Team);
    }

    /// Between epochs (validation, logging, checkpoints): the window's clock
    /// stops; the next step goes on with the same window.
    pub fn pause(&mut self) {
        if let Some(t0) = self.started.take() {
            self.banked += t0.elapsed().as_secs_f64();
        }
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

    /// A window goes on across epochs: with a pause after every step (one
    /// step an epoch), the first window, one thread's, ends after its steps and
    /// the team takes over, and the team's windows end too (when each epoch
    /// ended the window, the run stayed on one thread).
    #[test]
    fn a_window_spans_epochs() {
        linalg::pool(2, || {
            assert!(linalg::leads_team());
            let mut team = Team::new(true);
            let mut ways = Vec::new();
            for _ in 0..FIRST_WINDOW + 2 * WINDOW {
                team.before_step();
                let on_team = linalg::team_in_use();
                ways.push(on_team);
                // Steps alone slower by far, so that the team, once it
                // takes over, keeps the run (the timings decide nothing else).
                if !on_team {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                team.after_step();
                team.pause();
            }
            let first = FIRST_WINDOW as usize;
            assert!(ways[..first].iter().all(|&t| !t), "{ways:?}");
            assert!(ways[first..].iter().all(|&t| t), "{ways:?}");
            assert_eq!(
                team.chooser.last[slot(Way::Team)].iter().flatten().count(),
                2
            );
        });
    }

    /// Without adapting (`--threads` given) the team is left as it is.
    #[test]
    fn a_team_that_does_not_adapt_leaves_the_way_alone() {
        linalg::pool(2, || {
            let mut team = Team::new(false);
            for _ in 0..FIRST_WINDOW + WINDOW {
                team.before_step();
                assert!(linalg::team_in_use());
                team.after_step();
                team.pause();
            }
        });
    }

    #[test]
    fn keeps_the_team_when_it_is_faster_and_probes_rarely() {
        let ways = run(400, |_, w| if w == Way::Team { 1.0 } else { 1.6 });
        let alone = ways.iter().filter(|&&w| w == Way::Alone).count();
        assert_eq!(ways[0], Way::Alone, "a short look at one thread first");
        assert!(ways[1..64].iter().all(|&w| w == Way::Team));
        // 1 early, then after 64 and 128 windows.
        assert!(alone <= 3, "{alone} probes");
        assert_eq!(ways[399], Way::Team);
    }

    /// One window that meets a hiccup (another process takes the core for a
    /// moment) changes nothing: the team is kept and not even probed.
    #[test]
    fn one_slow_window_is_a_hiccup_not_a_load() {
        let ways = run(60, |i, w| match w {
            Way::Team if i == 30 => 10.0,
            Way::Team => 1.0,
            Way::Alone => 1.6,
        });
        assert!(ways[1..].iter().all(|&w| w == Way::Team), "{ways:?}");
    }

    /// A hiccup that spans two of the team's windows and starts a probe:
    /// a tie with one thread keeps the team; a loss sends the run alone for a
    /// few windows, not for the 64 of a probe interval.
    #[test]
    fn a_long_hiccup_costs_a_few_windows_alone() {
        for (hiccup, most_alone) in [(1.7, 1), (2.5, 10)] {
            let ways = run(200, |i, w| match w {
                Way::Team if (30..32).contains(&i) => hiccup,
                Way::Team => 1.0,
                Way::Alone => 1.6,
            });
            let alone = ways[1..100].iter().filter(|&&w| w == Way::Alone).count();
            assert!(
                alone <= most_alone,
                "hiccup {hiccup}: {alone} windows alone {ways:?}"
            );
            assert_eq!(ways[199], Way::Team);
        }
    }

    #[test]
    fn goes_alone_when_the_team_is_slower() {
        let ways = run(400, |_, w| if w == Way::Team { 10.0 } else { 1.0 });
        let team = ways.iter().filter(|&&w| w == Way::Team).count();
        assert!(team <= 6, "{team} windows with the team");
        assert_eq!(ways[399], Way::Alone);
    }

    #[test]
    fn a_window_that_has_lost_ends_early() {
        let mut c = Chooser::default();
        assert_eq!(c.window_len(), FIRST_WINDOW);
        assert!(!c.lost(1e9), "nothing to compare with yet");
        c.window_done(1.0); // alone: 1 s a step
        assert_eq!((c.way(), c.window_len()), (Way::Team, WINDOW));
        let window_alone = f64::from(WINDOW) * 1.0;
        assert!(!c.lost(GIVE_UP * window_alone * 0.9));
        assert!(c.lost(GIVE_UP * window_alone * 1.1));
        c.window_done(5.0); // the team lost: probe one thread again
        assert_eq!(c.way(), Way::Alone);
        assert!(!c.lost(GIVE_UP * f64::from(WINDOW) * 5.0 * 0.9));
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
