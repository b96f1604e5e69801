//! (formatter, being written)
