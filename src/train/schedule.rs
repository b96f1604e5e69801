//! Learning-rate schedules (§9): the rate of each epoch, and the one schedule with
//! state, `reduce_on_plateau`.

use crate::ir::Schedule;

/// A schedule with its state. `rate(e)` is the rate of epoch e (from 1); `observe`
/// is called after each epoch with the monitored value (only `reduce_on_plateau`
/// uses it).
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduler {
    pub schedule: Schedule,
    pub base: f64,
    pub epochs: usize,
    /// `reduce_on_plateau` state: current rate, best value, bad epochs.
    pub plateau: PlateauState,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateauState {
    pub rate: f64,
    /// Best monitored value so far, oriented so that lower is better; +∞ at first.
    pub best: f64,
    pub bad_epochs: usize,
}

impl Scheduler {
    pub fn new(schedule: &Schedule, base: f64, epochs: usize) -> Self {
        Scheduler {
            schedule: schedule.clone(),
            base,
            epochs,
            plateau: PlateauState {
                rate: base,
                best: f64::INFINITY,
                bad_epochs: 0,
            },
        }
    }

    /// The rate used during epoch `e` (1-based).
    pub fn rate(&self, e: usize) -> f64 {
        // The stateless schedules' one formula, shared with `explain`.
        self.schedule
            .rate(self.base, e, self.epochs)
            .unwrap_or(self.plateau.rate)
    }

    /// After an epoch: feed the monitored value (lower is better: the caller negates
    /// accuracies). Only `reduce_on_plateau` changes.
    pub fn observe(&mut self, value: f64) {
        if let Schedule::ReduceOnPlateau {
            factor, patience, ..
        } = self.schedule
        {
            let st = &mut self.plateau;
            if value < st.best {
                st.best = value;
                st.bad_epochs = 0;
            } else {
                st.bad_epochs += 1;
            }
            if st.bad_epochs > patience {
                let new = st.rate * factor;
                if st.rate - new > 1e-8 {
                    st.rate = new;
                }
                st.bad_epochs = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Monitor;

    fn rates(s: Schedule, base: f64, epochs: usize) -> Vec<f64> {
        let sc = Scheduler::new(&s, base, epochs);
        (1..=epochs).map(|e| sc.rate(e)).collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1e-12),
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn cosine_matches_pytorch() {
        let r = rates(Schedule::Cosine { min_lr: 0.01 }, 0.5, 6);
        assert!((r[0] - 0.5).abs() < 1e-15);
        assert!((r[1] - 0.4671762239271875).abs() < 1e-12);
        assert!((r[2] - 0.3775).abs() < 1e-12);
    }

    #[test]
    fn step_and_exponential() {
        close(
            &rates(
                Schedule::Step {
                    every: 2,
                    factor: 0.5,
                },
                0.01,
                6,
            ),
            &[0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025],
        );
        close(
            &rates(Schedule::Exponential { gamma: 0.9 }, 0.05, 3),
            &[0.05, 0.045, 0.0405],
        );
    }

    #[test]
    fn warmup_then_inner_schedule() {
        let inner = Schedule::Step {
            every: 2,
            factor: 0.5,
        };
        let r = rates(
            Schedule::Warmup {
                epochs: 2,
                then: Box::new(inner),
            },
            0.02,
            7,
        );
        close(&r, &[0.01, 0.02, 0.02, 0.02, 0.01, 0.01, 0.005]);
        // warm-up into cosine: T = E − W
        let r = rates(
            Schedule::Warmup {
                epochs: 2,
                then: Box::new(Schedule::Cosine { min_lr: 0.001 }),
            },
            0.01,
            8,
        );
        assert!((r[0] - 0.005).abs() < 1e-15 && (r[1] - 0.01).abs() < 1e-15);
        assert!((r[2] - 0.01).abs() < 1e-15);
        let want = 0.001 + 0.009 * (1.0 + (std::f64::consts::PI / 6.0).cos()) / 2.0;
        assert!((r[3] - want).abs() < 1e-15);
    }

    #[test]
    fn reduce_on_plateau_waits_past_patience() {
        let s = Schedule::ReduceOnPlateau {
            factor: 0.5,
            patience: 1,
            monitor: Monitor::TrainLoss,
        };
        let mut sc = Scheduler::new(&s, 1.0, 10);
        let mut seen = vec![];
        for v in [1.0, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8] {
            seen.push(sc.rate(1));
            sc.observe(v);
        }
        // bad epochs: 0,0,1,2→reduce,0,1,2→reduce
        assert_eq!(seen, vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]);
        assert_eq!(sc.rate(8), 0.25);
    }
}
