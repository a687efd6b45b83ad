//! Orthogonality penalties on the rows of `[out, in]`.
