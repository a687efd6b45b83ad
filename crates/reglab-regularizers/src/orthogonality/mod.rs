//! Orthogonality penalties on the rows of `[out, in]`.

pub mod conv_orth;
pub mod group_orth;
pub mod lambda_orth;
pub mod mhe;
pub mod ortho_offdiag;
pub mod soft_orth;
