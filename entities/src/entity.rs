//! sea-orm entities, one module per table.

pub mod app_status;
pub mod artifact;
pub mod content_guard;
pub mod created_resource;
pub mod distribution;
pub mod progress_report;
pub mod remote;
pub mod repository;
pub mod repository_version;
pub mod task;
pub mod task_resource;
pub mod upload;
pub mod user;
