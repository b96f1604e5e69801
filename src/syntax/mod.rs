//! (stage module, being written)
