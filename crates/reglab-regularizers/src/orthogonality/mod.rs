//! Orthogonality penalties on the rows of `[out, in]`.

pub mod soft_orth;
