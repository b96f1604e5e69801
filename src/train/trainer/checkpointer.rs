//! Checkpoint policy (§11): after each finished epoch, write one when it is due
//! (every `every` epochs, rotating the run's own files), and under an interrupt
//! flag keep the last finished epoch's state in memory, so that Ctrl-C or SIGTERM
//! writes it.

use std::path::PathBuf;

use crate::io::checkpoint;
use crate::io::weights::WeightsError;
use crate::ir::CheckpointPlan;
use crate::train::float::Float;
use crate::train::snapshot;
use crate::train::TrainError;

use super::Trainer;

/// The checkpoints of one run.
pub(crate) struct Checkpointer<'p> {
    plan: Option<&'p CheckpointPlan>,
    /// Whether the run can be interrupted (then every epoch is serialised).
    interruptible: bool,
    /// Serialised state after the last finished epoch not yet written, for Ctrl-C.
    pending: Option<(usize, Vec<u8>)>,
    /// The checkpoints this run wrote, after those of the run it resumed,
    /// oldest first: the only ones rotation deletes.
    written: Vec<PathBuf>,
}

impl<'p> Checkpointer<'p> {
    /// `resumed`: the checkpoints of the run this one continues (in its
    /// checkpoint directory, oldest first), which `keep` counts with its own.
    pub(crate) fn new(
        plan: Option<&'p CheckpointPlan>,
        interruptible: bool,
        resumed: Vec<PathBuf>,
    ) -> Self {
        Checkpointer {
            plan,
            interruptible,
            pending: None,
            written: resumed,
        }
    }

    /// After `epoch` finished (the trainer's state is that epoch's end).
    pub(crate) fn epoch_done<T: Float>(
        &mut self,
        tr: &Trainer<'_, T>,
        epoch: usize,
    ) -> Result<(), TrainError> {
        let Some(ck) = self.plan else {
            return Ok(());
        };
        let due = epoch.is_multiple_of(ck.every.max(1));
        if !due && !self.interruptible {
            return Ok(());
        }
        let bytes = snapshot::serialize(tr).map_err(|e| {
            TrainError::Weights(WeightsError::Write {
                path: checkpoint::path_for(&ck.path, epoch).display().to_string(),
                source: std::io::Error::other(e),
            })
        })?;
        if due {
            let p = checkpoint::write(&ck.path, epoch, &bytes)?;
            checkpoint::rotate(&mut self.written, p, ck.keep);
            self.pending = None;
        } else {
            self.pending = Some((epoch, bytes));
        }
        Ok(())
    }

    /// The run was interrupted: writes the last finished epoch not yet written.
    pub(crate) fn interrupted(&mut self) -> Result<(), TrainError> {
        if let (Some(ck), Some((e, bytes))) = (self.plan, self.pending.take()) {
            let p = checkpoint::write(&ck.path, e, &bytes)?;
            checkpoint::rotate(&mut self.written, p, ck.keep);
        }
        Ok(())
    }
}
