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
}

/// Which service answers a top-level prefix: Pulp serves pulp_python's `/pypi/` and
/// pulp_container's `/v2/` and `/token/` from its API app, not the content app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Processes that run the REST API (`pith serve`, `pith api`).
    Api,
    /// Processes that run the content app (`pith serve`, `pith content`).
    Content,
}

/// A top-level path prefix a plugin answers outside `api/v3/` and the content app's prefix
/// (`/pypi/`, `/v2/`): every request under it goes to its handler, with the rest of the path
/// (after the prefix) as the one id.
#[derive(Clone)]
pub struct Prefix {
    /// The prefix, with slashes at both ends (`/pypi/`); a plugin may compute it from its
    /// settings (`PYPI_PATH_PREFIX`, made static with [`crate::router::template`]).
    pub path: &'static str,
    /// The service that answers it.
    pub service: Service,
    /// Answered without credentials (the handler may still ask for them, as an index does
    /// for uploads); otherwise Basic authentication is required first.
    pub open: bool,
    /// Answers every method under it.
    pub handler: crate::router::Handler,
}

impl std::fmt::Debug for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefix")
            .field("path", &self.path)
            .field("service", &self.service)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// What the content app asks a distribution type before serving from the index (Pulp's
/// `Distribution.content_handler` and `content_headers_for`).
#[derive(Clone, Copy, Debug)]
pub struct DistributionHooks {
    /// The distribution type (`pulp_type`).
    pub pulp_type: &'static str,
    /// Answers a path of a distribution itself (generated metadata, a redirect), or `None`
    /// to let the content app serve it from the index; gets the distribution's id and the
    /// path below its base path.
    pub content_handler: Option<ContentHandler>,
    /// Extra headers for a served file at this path (below the base path).
    pub content_headers: Option<ContentHeaders>,
    /// Extra entries of a directory listing (Pulp's `content_handler_list_directory`): names
    /// the type serves itself below a directory (`a.txt`, `sub/`), shown with the index's.
    pub list_directory: Option<ListDirectory>,
}

/// A distribution type's own entries of directory `dir` (below its base path; `""` is the
/// top) of distribution `id`.
pub type ListDirectory = for<'a> fn(
    &'a crate::HttpState,
    &'a str,
    &'a str,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<String>, crate::ApiError>> + Send + 'a>,
>;

/// Extra response headers for a path below a distribution's base path.
pub type ContentHeaders = fn(&str) -> Vec<(&'static str, String)>;

/// A distribution type's own answer for a path, see [`DistributionHooks::content_handler`].
pub type ContentHandler = for<'a> fn(
    &'a crate::HttpState,
    &'a crate::Req,
    &'a str,
    &'a str,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Option<crate::request::Response>, crate::ApiError>>
            + Send
            + 'a,
    >,
>;

/// A content-guard type (Pulp's `ContentGuard` subclass, its serializer and viewset): core
/// builds its endpoints, lists it in `contentguards/`, and asks its [`Permit`] before the
/// content app serves anything of a distribution it guards.
#[derive(Clone, Copy, Debug)]
pub struct ContentGuardType {
    /// Its viewset (`contentguards/<app>/<type>/`).
    pub viewset: ViewSet,
    /// Its own fields, in its detail table (none: only `name` and `description`).
    pub table: Option<pith_entities::detail::DetailTable>,
    /// The fields of `table` a create must give.
    pub required: &'static [&'static str],
    /// It asks other guards, named in its `guards` field (Pulp's composite guard).
    pub members: bool,
    /// Its objects get a random secret when created (Pulp's redirect guard signs URLs with it).
    pub secret: bool,
    /// Checks a field value beyond its type (Pulp's `validate_<field>`): field, value → the
    /// message of a refusal.
    pub validate: Option<ValidateField>,
    /// Whether a request may have what the guarded distribution serves.
    pub permit: Permit,
}

/// A type's check of one field value: field name, value → the message refusing it.
pub type ValidateField = fn(&crate::HttpState, &str, &Value) -> Result<(), String>;

/// A guard type's decision on one request: `Ok(Err(reason))` refuses it (a 403).
pub type Permit = for<'a> fn(
    &'a crate::HttpState,
    &'a crate::Req,
    &'a crate::content_guard::Guard,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Result<(), String>, crate::ApiError>> + Send + 'a>,
>;

/// A setting a plugin reads, under Pulp's name (`PYTHON_GROUP_UPLOADS`), set as the
/// environment variable `PULP_<NAME>` as Pulp's dynaconf reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Pulp's name.
    pub name: &'static str,
    /// The value when unset.
    pub default: &'static str,
}

/// A model permission (Pulp's `<app_label>.<codename>`, e.g. `file.sync_filerepository`),
/// for the roles and access policies of the RBAC layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    /// `<app_label>.<codename>`.
    pub name: &'static str,
    /// Its description (`Can sync file repository`).
    pub description: &'static str,
}

/// A role core or a plugin declares (Pulp's viewsets' `LOCKED_ROLES`): created at start with
/// exactly these permissions and not changeable through the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockedRole {
    /// `<app>.<name>` (`file.filerepository_owner`).
    pub name: &'static str,
    /// Its permissions.
    pub permissions: &'static [&'static str],
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
    /// Its top-level prefixes outside `api/v3/`.
    pub prefixes: Vec<Prefix>,
    /// Its distribution types' content-app hooks.
    pub distribution_hooks: Vec<DistributionHooks>,
    /// Its settings.
    pub settings: &'static [Setting],
    /// Its model permissions (the RBAC layer builds roles and access policies on them).
    pub permissions: &'static [Permission],
    /// Its content-guard types (Pulp's certguard is such a plugin).
    pub content_guards: Vec<ContentGuardType>,
    /// Its locked roles.
    pub roles: &'static [LockedRole],
    /// Its viewsets' default access policies.
    pub access_policies: &'static [crate::access_policy::ViewSetPolicy],
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
    /// Core's content-guard types.
    pub content_guards: Vec<ContentGuardType>,
    /// Core's locked roles.
    pub roles: &'static [LockedRole],
    /// Core's viewsets' default access policies.
    pub access_policies: &'static [crate::access_policy::ViewSetPolicy],
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
            content_guards: crate::content_guard::core_types(),
            roles: crate::api::roles::CORE_ROLES,
            access_policies: crate::api::access_policies::CORE_POLICIES,
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
    /// Every top-level prefix outside `api/v3/`.
    pub prefixes: Vec<Prefix>,
    /// Every distribution type's content-app hooks.
    pub distribution_hooks: Vec<DistributionHooks>,
    /// Every declared setting with its value (see [`Platform::with_settings`]).
    pub settings: std::collections::BTreeMap<&'static str, String>,
    /// Every model permission.
    pub permissions: Vec<Permission>,
    /// Every content-guard type, core's first.
    pub content_guards: Vec<ContentGuardType>,
    /// Every locked role, core's first.
    pub roles: Vec<LockedRole>,
    /// Every viewset's default access policy.
    pub access_policies: Vec<crate::access_policy::ViewSetPolicy>,
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
        let (mut prefixes, mut distribution_hooks, mut settings, mut permissions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut guards = core.content_guards;
        let mut roles: Vec<LockedRole> = core.roles.to_vec();
        let mut policies = core.access_policies.to_vec();
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
            prefixes.extend(p.prefixes);
            distribution_hooks.extend(p.distribution_hooks);
            settings.extend(p.settings.iter().copied());
            permissions.extend(p.permissions.iter().copied());
            guards.extend(p.content_guards);
            roles.extend(p.roles.iter().copied());
            policies.extend(p.access_policies.iter().copied());
        }
        endpoints.extend(urls::generic_lists(
            &remotes,
            &repositories,
            &publications,
            &distributions,
        ));
        // A viewset is under the policy declared with its collection's name.
        let policy = |name: &str| {
            policies
                .iter()
                .find(|p| p.viewset_name == name)
                .map(|p| p.viewset_name)
        };
        endpoints.extend(urls::content_guard_list());
        endpoints.extend(
            guards.iter().flat_map(|g| {
                urls::content_guard_endpoints(*g, policy(g.viewset.detail.collection))
            }),
        );
        endpoints.extend(
            remotes
                .iter()
                .flat_map(|v| urls::remote_endpoints(*v, policy(v.detail.collection))),
        );
        endpoints.extend(repositories.iter().flat_map(|v| {
            let name = v.repositories.detail.collection;
            urls::repository_endpoints(*v, policy(name), policy(&format!("{name}/versions")))
        }));
        endpoints.extend(
            publications
                .iter()
                .flat_map(|v| urls::publication_endpoints(*v, policy(v.detail.collection))),
        );
        endpoints.extend(
            distributions
                .iter()
                .flat_map(|v| urls::distribution_endpoints(*v, policy(v.detail.collection))),
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
            prefixes,
            distribution_hooks,
            settings: settings
                .iter()
                .map(|s| (s.name, s.default.to_owned()))
                .collect(),
            permissions,
            content_guards: guards,
            roles,
            access_policies: policies,
        }
    }

    /// The declared settings' values from `lookup` (Pulp's name → value; the binary reads
    /// `PULP_<NAME>` from the environment), defaults where it has none.
    pub fn with_settings(mut self, lookup: impl Fn(&str) -> Option<String>) -> Platform {
        for (name, value) in self.settings.iter_mut() {
            if let Some(v) = lookup(name) {
                *value = v;
            }
        }
        self
    }

    /// A declared setting's value (`None`: no running plugin declares it).
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.get(name).map(String::as_str)
    }

    /// The prefix `path` falls under, among those `service` answers.
    pub fn prefix(&self, path: &str, service: Service) -> Option<&Prefix> {
        self.prefixes
            .iter()
            .find(|p| p.service == service && path.starts_with(p.path))
    }

    /// The content-guard type stored as `pulp_type`.
    pub fn content_guard(&self, pulp_type: &str) -> Option<&ContentGuardType> {
        self.content_guards
            .iter()
            .find(|g| g.viewset.detail.pulp_type == pulp_type)
    }

    /// The content-app hooks of distribution type `pulp_type`, if it declares any.
    pub fn distribution_hooks(&self, pulp_type: &str) -> Option<&DistributionHooks> {
        self.distribution_hooks
            .iter()
            .find(|h| h.pulp_type == pulp_type)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn no_migrations() -> Vec<Box<dyn pith_entities::sea_orm_migration::MigrationTrait>> {
        Vec::new()
    }

    fn index() -> Plugin {
        Plugin {
            component: Component {
                component: "idx",
                version: "1.0.0",
                package: "pulp-idx",
                module: "pulp_idx.app",
                domain_compatible: false,
            },
            types: Types::default(),
            remotes: Vec::new(),
            repositories: Vec::new(),
            publications: Vec::new(),
            distributions: Vec::new(),
            tasks: Vec::new(),
            creators: Vec::new(),
            migrations: no_migrations,
            endpoints: Vec::new(),
            serializers: &[],
            prefixes: vec![Prefix {
                path: "/idx/",
                service: Service::Api,
                open: true,
                handler: crate::router::handler(|_, _, _| {
                    Box::pin(async { Err(crate::ApiError::NotFound("Not found.".into())) })
                }),
            }],
            distribution_hooks: vec![DistributionHooks {
                pulp_type: "idx.idx",
                content_handler: None,
                content_headers: Some(|_| vec![("x-idx", "1".into())]),
                list_directory: None,
            }],
            settings: &[
                Setting {
                    name: "IDX_GROUP_UPLOADS",
                    default: "false",
                },
                Setting {
                    name: "IDX_PATH_PREFIX",
                    default: "/idx/",
                },
            ],
            permissions: &[Permission {
                name: "idx.view_idxrepository",
                description: "Can view idx repository",
            }],
            content_guards: Vec::new(),
            roles: &[],
            access_policies: &[],
        }
    }

    /// A plugin's prefixes, distribution hooks, settings and permissions reach the platform;
    /// settings take the environment's value over the default.
    #[test]
    fn plugin_slots() {
        let p = Platform::new(Core::new(false), vec![index()], false)
            .with_settings(|n| (n == "IDX_GROUP_UPLOADS").then(|| "true".to_owned()));
        assert_eq!(p.setting("IDX_GROUP_UPLOADS"), Some("true"));
        assert_eq!(p.setting("IDX_PATH_PREFIX"), Some("/idx/"));
        assert_eq!(p.setting("NOPE"), None);
        assert!(p.prefix("/idx/simple/", Service::Api).is_some());
        assert!(p.prefix("/idx/simple/", Service::Content).is_none());
        assert!(p.prefix("/other/", Service::Api).is_none());
        let h = p.distribution_hooks("idx.idx").unwrap();
        assert_eq!(
            (h.content_headers.unwrap())("a"),
            vec![("x-idx", "1".into())]
        );
        assert!(p.distribution_hooks("other.type").is_none());
        assert_eq!(p.permissions.len(), 1);
        assert_eq!(p.versions["idx"], "1.0.0");
    }
}
