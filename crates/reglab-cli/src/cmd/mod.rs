//! One module per subcommand.

pub mod list;
pub mod penalty;
pub mod train;
