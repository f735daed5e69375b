//! tasking
