//! Files that are not recipes or data: weights (safetensors) and checkpoints.
pub mod atomic;
pub mod checkpoint;
pub mod model_file;
pub mod weights;
