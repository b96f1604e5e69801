//! Files that are not recipes or data: weights (safetensors) and checkpoints,
//! safe writing (`atomic`) and the checks around a run's files (`guard`).
pub mod atomic;
pub mod checkpoint;
pub mod guard;
pub mod model_file;
pub mod weights;
