//! One module per subcommand.

pub mod denoise;
pub mod embed;
pub mod inspect;
pub mod list;
pub mod ot;
pub mod penalty;
pub mod plan;
pub mod report;
pub mod run;
pub mod submit;
pub mod train;
