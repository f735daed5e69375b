//! pulp_file's tasks: `synchronize` and `publish`.

pub mod publishing;
pub mod synchronizing;
