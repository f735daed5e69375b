//! The plugin interface: what a Pulp plugin declares (its `status/` component, detail types,
//! endpoints with their OpenAPI operations, serializers, task bodies and migrations), and the
//! [`Platform`] that core builds from its own declarations and every plugin's. Core reads only
//! these declarations; it names no plugin.

use std::sync::Arc;

use pith_actors::plugin::{Creator, Detail, TaskBodies, TaskBody, Types};
use pith_entities::migration::PluginMigrations;
use serde_json::{Map, Value, json};

use crate::openapi::components::Serializer;
use crate::router::{Endpoint, Routes};
use crate::urls;

/// A component of `status/` (`versions`) and of the schema's `x-pulp-app-versions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Component {
    /// The app label (`file`).
    pub component: &'static str,
    /// The version of Pulp's API this component implements.
    pub version: &'static str,
    /// The Python package Pulp reports for it (a plugin may ship inside `pulpcore`).
    pub package: &'static str,
    /// The Python module Pulp reports (`<package>.app`).
    pub module: &'static str,
    /// Whether it works with domains.
    pub domain_compatible: bool,
}

/// The viewset of one detail type (Pulp's `NamedModelViewSet` subclass with its
/// `endpoint_name`): its type, the tag its operations are listed under, the serializer that
/// names its request and response schemas, and its href path parameter.
#[derive(Clone, Copy, Debug)]
pub struct ViewSet {
    /// Type, hrefs and PRNs.
    pub detail: Detail,
    /// The operations' tag (`Remotes: <Plugin>`); binding classes are named from it.
    pub tag: &'static str,
    /// The serializer's component name (`<app>.<Model>`: requests; `…Response` answers).
    pub serializer: &'static str,
    /// The href path parameter (`<app>_<type>_remote_href`).
    pub href_param: &'static str,
}

impl ViewSet {
    /// The operationId prefix (`remotes_<app>_<type>`).
    pub fn prefix(&self) -> String {
        self.detail.collection.replace('/', "_")
    }

    /// The response schema's name.
    pub fn response(&self) -> String {
        format!("{}Response", self.serializer)
    }
}

/// A repository type's viewset and that of its versions.
#[derive(Clone, Copy, Debug)]
pub struct RepositoryViewSet {
    /// The repositories.
    pub repositories: ViewSet,
    /// The versions' tag (`Repositories: <Plugin> Versions`).
    pub versions_tag: &'static str,
    /// The versions' href path parameter (`<app>_<type>_repository_version_href`).
    pub version_href_param: &'static str,
    /// The repository id's name in `pk_path=1` paths (`<app>_<type>_repository_pk`).
    pub repository_pk: &'static str,
    /// The remote types its `remote` may name (Pulp's `REMOTE_TYPES`).
    pub remote_types: &'static [Detail],
    /// Field values a new repository starts with (before the request's), as `set_field`
    /// reads them.
    pub defaults: &'static [(&'static str, &'static str)],
}

/// Everything one plugin declares.
pub struct Plugin {
    /// Its `status/` component.
    pub component: Component,
    /// Its detail types (below HTTP: tables, repository keys and hooks).
    pub types: Types,
    /// Its remote types' viewsets (core builds their standard endpoints).
    pub remotes: Vec<ViewSet>,
    /// Its repository types' viewsets.
    pub repositories: Vec<RepositoryViewSet>,
    /// Its publication types' viewsets.
    pub publications: Vec<ViewSet>,
    /// Its distribution types' viewsets.
    pub distributions: Vec<ViewSet>,
    /// Its task bodies by Pulp's task names.
    pub tasks: Vec<TaskBody>,
    /// Its `general_create` bodies.
    pub creators: Vec<Creator>,
    /// Its migrations.
    pub migrations: PluginMigrations,
    /// Its own endpoints under `api/v3/` (content, `sync/`, publication create, …); a row
    /// with the template of a standard endpoint adds its methods to it.
    pub endpoints: Vec<Endpoint>,
    /// Its serializers (component schemas).
    pub serializers: &'static [Serializer],
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

/// What core declares for itself, in the same shape.
#[derive(Debug)]
pub struct Core {
    /// `core`'s component.
    pub component: Component,
    /// Core's endpoints (status, tasks, artifacts, uploads, …).
    pub endpoints: Vec<Endpoint>,
    /// Core's serializers.
    pub serializers: &'static [Serializer],
    /// Core's task bodies.
    pub bodies: TaskBodies,
}

impl Core {
    /// Core as this build has it: pulpcore's component, endpoints, serializers and task
    /// bodies (the test-only body with `test_tasks`).
    pub fn new(test_tasks: bool) -> Core {
        Core {
            component: Component {
                component: "core",
                version: crate::config::PULP_CORE_VERSION,
                package: "pulpcore",
                module: "pulpcore.app",
                domain_compatible: true,
            },
            endpoints: urls::core_endpoints(),
            serializers: crate::openapi::components::SERIALIZERS,
            bodies: pith_actors::tasks::core_bodies(test_tasks),
        }
    }
}

/// Core with the running plugins: the one place every other part of core reads plugins from.
#[derive(Debug)]
pub struct Platform {
    /// `status/`'s `versions`, core first.
    pub components: Vec<Component>,
    /// `{"core": "3.123.1", "file": …}` (status, workers, `x-pulp-app-versions`).
    pub versions: Value,
    /// Every detail type.
    pub types: Types,
    /// Every repository type's viewset.
    pub repositories: Vec<RepositoryViewSet>,
    /// Every serializer.
    pub serializers: Vec<&'static Serializer>,
    /// Every endpoint.
    pub routes: Arc<Routes>,
    /// Every task body.
    pub bodies: TaskBodies,
    /// The plugins' migrations (core's run with them).
    pub migrations: Vec<PluginMigrations>,
}

impl Platform {
    /// Core and these plugins. Test-only endpoints are served with `test_tasks`.
    pub fn new(core: Core, plugins: Vec<Plugin>, test_tasks: bool) -> Platform {
        let mut components = vec![core.component];
        let mut types = Types::default();
        let mut serializers: Vec<&'static Serializer> = core.serializers.iter().collect();
        let mut endpoints = core.endpoints;
        let mut extra = Vec::new();
        let mut bodies = core.bodies;
        let mut migrations = Vec::new();
        let (mut remotes, mut repositories, mut publications, mut distributions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in plugins {
            components.push(p.component);
            types.extend(p.types);
            serializers.extend(p.serializers.iter());
            remotes.extend(p.remotes);
            repositories.extend(p.repositories);
            publications.extend(p.publications);
            distributions.extend(p.distributions);
            extra.extend(p.endpoints);
            bodies.add(p.tasks);
            bodies.add_creators(p.creators);
            migrations.push(p.migrations);
        }
        endpoints.extend(urls::generic_lists(
            &remotes,
            &repositories,
            &publications,
            &distributions,
        ));
        endpoints.extend(remotes.iter().flat_map(|v| urls::remote_endpoints(*v)));
        endpoints.extend(
            repositories
                .iter()
                .flat_map(|v| urls::repository_endpoints(*v)),
        );
        endpoints.extend(
            publications
                .iter()
                .flat_map(|v| urls::publication_endpoints(*v)),
        );
        endpoints.extend(
            distributions
                .iter()
                .flat_map(|v| urls::distribution_endpoints(*v)),
        );
        endpoints.extend(extra);
        let versions: Map<String, Value> = components
            .iter()
            .map(|c| (c.component.to_owned(), json!(c.version)))
            .collect();
        Platform {
            components,
            versions: Value::Object(versions),
            types,
            repositories,
            serializers,
            routes: Arc::new(Routes::new(endpoints, test_tasks)),
            bodies,
            migrations,
        }
    }

    /// What the schema is built from.
    pub fn schema_sources(&self) -> crate::openapi::Sources<'_> {
        crate::openapi::Sources {
            routes: &self.routes,
            serializers: &self.serializers,
            versions: &self.versions,
        }
    }

    /// `status/`'s `versions` list.
    pub fn versions_list(&self) -> Value {
        self.components
            .iter()
            .map(|c| {
                json!({"component": c.component, "version": c.version, "package": c.package,
                       "module": c.module, "domain_compatible": c.domain_compatible})
            })
            .collect()
    }
}
