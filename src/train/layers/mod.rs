//! The layers of §5, one file each, forward and backward side by side.

pub mod activation;
pub mod batch_norm;
pub mod dense;
pub mod dropout;
pub mod layer_norm;

use activation::Activation;
use batch_norm::BatchNorm;
use dense::Dense;
use dropout::Dropout;
use layer_norm::LayerNorm;

/// One layer of the network with its own (non-trainable) state; trainable
/// parameters live in the network's flat vector at the offsets the layer holds.
#[derive(Debug, Clone)]
pub enum Node<T> {
    Dense(Dense),
    Activation(Activation),
    Dropout(Dropout<T>),
    BatchNorm(BatchNorm<T>),
    LayerNorm(LayerNorm<T>),
}
