//! pulp_file for Pith: the file content type (a `relative_path` and one artifact), file
//! remotes that sync from a `PULP_MANIFEST`, file repositories (keyed by `relative_path`, with
//! autopublish), publications that carry a `PULP_MANIFEST`, and file distributions.
//!
//! Laid out as a Pulp plugin is: [`models`] (types, tables, migrations), [`content`] (the
//! content model's queries and its `general_create` body), [`tasks`] (sync and publish).
//! Core finds all of it through [`types`], [`bodies`] and [`migrations`], never by name.

pub mod content;
pub mod models;
pub mod tasks;

use pith_actors::plugin::{Creator, TaskBody, Types};
use pith_entities::migration::PluginMigrations;

/// The app label.
pub const APP_LABEL: &str = "file";

/// pulp_file's task names.
pub mod task_names {
    /// Sync from a remote's `PULP_MANIFEST`.
    pub const SYNCHRONIZE: &str = "pulp_file.app.tasks.synchronizing.synchronize";
    /// Publish a version with its `PULP_MANIFEST`.
    pub const PUBLISH: &str = "pulp_file.app.tasks.publishing.publish";
}

/// The file plugin's detail types.
pub fn types() -> Types {
    Types {
        content: vec![models::FILE_CONTENT],
        remotes: vec![models::FILE_REMOTE],
        repositories: vec![models::file_repository()],
        publications: vec![models::FILE_PUBLICATION],
        distributions: vec![models::FILE_DISTRIBUTION],
    }
}

/// pulp_file's task bodies.
pub fn bodies() -> Vec<TaskBody> {
    vec![
        TaskBody {
            name: task_names::SYNCHRONIZE,
            run: |c| Box::pin(tasks::synchronizing::synchronize(c)),
            changes_served_content: true,
        },
        TaskBody {
            name: task_names::PUBLISH,
            run: |c| Box::pin(tasks::publishing::publish(c)),
            changes_served_content: true,
        },
    ]
}

/// `general_create` of file content (dispatched with `table` = the content table).
pub fn creators() -> Vec<Creator> {
    vec![Creator {
        table: models::FILE_CONTENT.table,
        run: |c| Box::pin(content::create(c)),
    }]
}

/// The plugin's migrations.
pub const MIGRATIONS: PluginMigrations = models::migrations;
