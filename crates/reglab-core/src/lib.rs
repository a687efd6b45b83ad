//! # reglab-core
//!
//! The layer every other reglab crate builds on: the [`Regularizer`] interface (value,
//! gradient, proximal step) for parameter-space regularizers, the `NAME=λ[:key=value]`
//! [`Spec`] syntax, [`Selection`] of tensors by role or name pattern, strength [`Schedule`]s,
//! the [`RegSet`] sum that reports each term, weight health probes ([`probe`]) and safetensors
//! files ([`tensorfile`]). No deep-learning framework here: regularizers
//! compute on plain `f32` buffers, in PyTorch layout `[out, in]` (see [`tensor`]).

pub mod batch;
pub mod dataset;
pub mod error;
pub mod linalg;
pub mod output;
pub mod probe;
pub mod regularizer;
pub mod schedule;
pub mod select;
pub mod spec;
pub mod sum;
pub mod tensor;
pub mod tensorfile;
pub mod testing;

pub use dataset::{Dataset, Split};
pub use error::{Error, Result};
pub use output::{OutputBatch, OutputRegularizer, OutputSet, OutputTerm};
pub use regularizer::{Mode, PostStep, Regularizer, Target, TargetGrad, TargetMut};
pub use schedule::Schedule;
pub use select::{Role, Selection};
pub use spec::{AsSpec, Spec};
pub use sum::{Evaluation, RegSet, Term};
pub use tensor::{Layout, MatRef, NamedTensor, TensorRef};
