//! Files that are not recipes or data: weights (safetensors) and checkpoints.
pub mod atomic;
