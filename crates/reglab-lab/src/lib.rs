//! reglab-lab: data, models' experiments, probes, results.
//!
//! - [`data`]: loaders that fill [`reglab_core::Dataset`] / [`reglab_core::Split`] from real data —
//!   MNIST and Fashion-MNIST (IDX files, plain or gzip) and the scikit-learn 8×8 digits embedded
//!   in the binary — selected by a [`data::DataSource`] (`digits | mnist[:DIR] | fashion[:DIR]`).

pub mod data;
