//! `early_stop = patience(p, monitor, min_delta)`: Keras `EarlyStopping`. The best
//! value starts as epoch 1's; an epoch improves when it beats the best by more than
//! `min_delta`; training stops after the p-th consecutive epoch without improvement.

use crate::ir::EarlyStop;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopper {
    pub config: EarlyStop,
    /// Best value so far (as logged, not negated); `None` before epoch 1.
    pub best: Option<f64>,
    pub best_epoch: usize,
    /// Consecutive epochs without improvement.
    pub wait: usize,
}

/// What the stopper decided after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// This epoch is the new best (its parameters are the ones to save).
    pub improved: bool,
    pub stop: bool,
}

impl EarlyStopper {
    pub fn new(config: EarlyStop) -> Self {
        EarlyStopper {
            config,
            best: None,
            best_epoch: 0,
            wait: 0,
        }
    }

    pub fn observe(&mut self, epoch: usize, value: f64) -> Verdict {
        let improved = match self.best {
            None => true,
            Some(best) => {
                if self.config.monitor.higher_is_better() {
                    value - self.config.min_delta > best
                } else {
                    value + self.config.min_delta < best
                }
            }
        };
        if improved {
            self.best = Some(value);
            self.best_epoch = epoch;
            self.wait = 0;
        } else {
            self.wait += 1;
        }
        Verdict {
            improved,
            stop: !improved && self.wait >= self.config.patience,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Monitor;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut s = EarlyStopper::new(EarlyStop {
            patience: 2,
            monitor: Monitor::ValidLoss,
            min_delta: 0.01,
        });
        let vals = [1.0, 0.5, 0.495, 0.4, 0.399, 0.398];
        let verdicts: Vec<Verdict> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| s.observe(i + 1, v))
            .collect();
        assert!(verdicts[0].improved && verdicts[1].improved);
        assert!(!verdicts[2].improved && !verdicts[2].stop); // by less than min_delta
        assert!(verdicts[3].improved);
        assert!(!verdicts[4].stop && verdicts[5].stop);
        assert_eq!(s.best_epoch, 4);
    }

    #[test]
    fn accuracy_is_higher_better() {
        let mut s = EarlyStopper::new(EarlyStop {
            patience: 1,
            monitor: Monitor::ValidAccuracy,
            min_delta: 0.0,
        });
        assert!(s.observe(1, 0.5).improved);
        assert!(s.observe(2, 0.6).improved);
        let v = s.observe(3, 0.6);
        assert!(!v.improved && v.stop);
        assert_eq!(s.best_epoch, 2);
    }
}
