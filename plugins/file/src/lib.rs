//! pulp_file for Pith: the file content type (a `relative_path` and one artifact), file
//! remotes that sync from a `PULP_MANIFEST`, file repositories (keyed by `relative_path`, with
//! autopublish), publications that carry a `PULP_MANIFEST`, and file distributions.
//!
//! Laid out as a Pulp plugin is: [`models`] (types, tables, migrations), [`content`] (the
//! content model's queries and its `general_create` body), [`serializers`], [`viewsets`]
//! (its endpoints), [`tasks`] (sync and publish). Core reads all of it from [`plugin`], the
//! one declaration, and never names the plugin.

pub mod content;
pub mod models;
pub mod serializers;
pub mod tasks;
pub mod viewsets;

use pith_actors::plugin::{Creator, TaskBody, Types};
use pith_entities::migration::PluginMigrations;
use pith_http::plugin::{Component, Plugin};

/// pulp_file's declaration: everything core needs to serve it.
pub fn plugin() -> Plugin {
    Plugin {
        component: Component {
            component: APP_LABEL,
            version: pith_http::config::PULP_CORE_VERSION,
            // pulp_file ships inside the pulpcore package.
            package: "pulpcore",
            module: "pulp_file.app",
            domain_compatible: true,
        },
        types: types(),
        remotes: vec![viewsets::REMOTES],
        repositories: vec![viewsets::REPOSITORIES],
        publications: vec![viewsets::PUBLICATIONS],
        distributions: vec![viewsets::DISTRIBUTIONS],
        tasks: bodies(),
        creators: creators(),
        migrations: MIGRATIONS,
        endpoints: viewsets::endpoints(),
        serializers: serializers::SERIALIZERS,
        // pulp_file serves everything through core's API and content app as they are.
        prefixes: Vec::new(),
        distribution_hooks: Vec::new(),
        settings: &[],
        permissions: models::PERMISSIONS,
        content_guards: Vec::new(),
        roles: models::ROLES,
        access_policies: viewsets::ACCESS_POLICIES,
    }
}

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
fn types() -> Types {
    Types {
        content: vec![models::FILE_CONTENT],
        remotes: vec![models::FILE_REMOTE],
        repositories: vec![models::file_repository()],
        publications: vec![models::FILE_PUBLICATION],
        distributions: vec![models::FILE_DISTRIBUTION],
        tables: models::tables(),
        pull_through: Vec::new(),
    }
}

/// pulp_file's task bodies.
fn bodies() -> Vec<TaskBody> {
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
fn creators() -> Vec<Creator> {
    vec![Creator {
        table: models::FILE_CONTENT.table.name,
        run: |c| Box::pin(content::create(c)),
    }]
}

/// The plugin's migrations.
const MIGRATIONS: PluginMigrations = models::migrations;

#[cfg(test)]
mod tests {
    use pith_http::openapi::{consistency_errors, schema};
    use pith_http::plugin::{Core, Platform};
    use serde_json::json;

    fn platform() -> Platform {
        Platform::new(Core::new(true), vec![super::plugin()], true)
    }

    /// Core with the file plugin: every endpoint documented with exactly its methods, routing
    /// back, with unique operationIds and no dangling reference.
    #[test]
    fn schema_and_router_agree() {
        assert_eq!(consistency_errors(&platform()), Vec::<String>::new());
    }

    #[test]
    fn href_paths_operation_ids_and_versions() {
        let p = platform();
        let s = schema(p.schema_sources(), "/pulp/api/v3/", "http://x/", false);
        let sync = &s["paths"]["{file_file_repository_href}sync/"]["post"];
        assert_eq!(sync["operationId"], "repositories_file_file_sync");
        assert_eq!(sync["security"], json!([{"basicAuth": []}]));
        assert!(s["paths"]["{file_file_repository_version_href}repair/"]["post"].is_object());
        assert!(s["paths"]["{file_file_repository_href}versions/"]["get"].is_object());
        let create = &s["paths"]["/pulp/api/v3/publications/file/file/"]["post"];
        assert_eq!(create["operationId"], "publications_file_file_create");
        assert_eq!(
            s["paths"]["/pulp/api/v3/remotes/"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/Paginatedfile.FileRemoteResponseList"
        );
        assert_eq!(
            s["info"]["x-pulp-app-versions"],
            json!({"core": "3.123.1", "file": "3.123.1"})
        );
        let pk = schema(p.schema_sources(), "/pulp/api/v3/", "http://x/", true);
        assert!(
            pk["paths"]["/pulp/api/v3/repositories/file/file/{file_file_repository_pk}/versions/{number}/"]
                ["get"]
                .is_object()
        );
    }
}
