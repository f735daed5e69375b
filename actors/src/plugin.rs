//! What a plugin declares below the HTTP layer: its detail types (content, remote, repository,
//! publication, distribution), each with its `pulp_type`, href collection, PRN type and model
//! name, its repository hooks, and its task bodies by Pulp's task names.
//!
//! Core reads only these declarations: a row's `pulp_type` finds its [`Detail`] in [`Types`],
//! which gives its href and PRN, so generic lists (`repositories/`, `remotes/`, …) render every
//! row as the plugin that owns it would; task bodies are found by name in [`TaskBodies`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use pith_entities::content::{ContentTable, Reference};
use pith_entities::detail::DetailTable;
use pith_entities::entity::repository;
use pith_entities::sea_orm::DatabaseTransaction;
use pith_entities::versions::RepoKey;

use crate::tasks::{TaskContext, TaskError, TaskFuture, TaskOutput};

/// One detail type of a master model (Pulp's `pulp_type`: `<app_label>.<type>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detail {
    /// `<app_label>.<type>`, stored in the master table's `pulp_type` column.
    pub pulp_type: &'static str,
    /// The href collection under `api/v3/`, without slashes at either end
    /// (`repositories/file/file`).
    pub collection: &'static str,
    /// The PRN type (`<app_label>.<model, lower-case>`): `prn:<prn_type>:<id>`.
    pub prn_type: &'static str,
    /// The model's class name in Pulp, used in messages (`No <model> matches the given
    /// query.`).
    pub model: &'static str,
}

impl Detail {
    /// The href of object `id` (`{v3}<collection>/<id>/`).
    pub fn href(&self, v3: &str, id: &str) -> String {
        format!("{v3}{}/{id}/", self.collection)
    }

    /// The list href (`{v3}<collection>/`).
    pub fn list_href(&self, v3: &str) -> String {
        format!("{v3}{}/", self.collection)
    }

    /// The PRN of object `id`.
    pub fn prn(&self, id: &str) -> String {
        format!("prn:{}:{id}", self.prn_type)
    }
}

/// A content type: its detail and the plugin table that holds its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType {
    /// Type, hrefs and PRNs.
    pub detail: Detail,
    /// The detail table (one row per content unit, keyed by `content_id`) with its natural
    /// key, which core's content saver finds and creates units by.
    pub table: ContentTable,
    /// The other units a unit of this type refers to: `modify` adds them with it, orphan
    /// cleanup keeps a unit while another refers to it.
    pub references: &'static [Reference],
}

/// What a plugin does after a task made a new repository version (Pulp's `on_new_version`,
/// e.g. autopublish). Gets the context, `API_ROOT/api/v3/`, the repository and the new
/// version's id.
pub type OnNewVersion =
    for<'a> fn(
        &'a TaskContext,
        &'a str,
        &'a repository::Model,
        &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// What a plugin checks or completes in a new version before it is committed (Pulp's
/// `finalize_new_version`: validation, duplicate removal, substitution rules); an error rejects
/// the version and fails the task, leaving the repository as it was. Gets the context, the
/// transaction that made the version, the repository and the new version's number.
pub type FinalizeNewVersion =
    for<'a> fn(
        &'a TaskContext,
        &'a DatabaseTransaction,
        &'a repository::Model,
        i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// A repository type.
#[derive(Clone, Copy, Debug)]
pub struct RepositoryType {
    /// Type, hrefs and PRNs.
    pub detail: Detail,
    /// The repository key (Pulp's `repo_key_fields`): adding a unit with the key of one
    /// already in the version replaces it.
    pub key: RepoKey,
    /// Runs on each new version inside its transaction; `None`: every version is accepted.
    pub finalize_new_version: Option<FinalizeNewVersion>,
    /// Runs after each new version (autopublish); `None`: nothing to do.
    pub on_new_version: Option<OnNewVersion>,
    /// Content a distribution of this repository pulls through is added to it, in a new
    /// version (Pulp's `PULL_THROUGH_SUPPORTED`).
    pub pull_through_add: bool,
}

/// The bytes a pull-through fetched, verified and still in a temporary file, for the remote
/// type to turn into content.
#[derive(Clone, Copy, Debug)]
pub struct PulledArtifact<'a> {
    /// The path asked for below the distribution's base path.
    pub relative_path: &'a str,
    /// The file holding the bytes (read it to parse package metadata).
    pub file: &'a std::path::Path,
    /// Their sha256.
    pub sha256: &'a str,
    /// Their size.
    pub size: u64,
}

/// The unit pulled-through bytes become: its type and values, as core's content saver takes
/// them; the bytes are its one artifact, at the path that was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledContent {
    /// The content type (`pulp_type`).
    pub content_type: &'static str,
    /// Values of its natural key, in the table's order.
    pub key: Vec<String>,
    /// Values of its other fields, in the table's order.
    pub fields: Vec<pith_entities::sea_orm::Value>,
}

/// Pulp's pull-through caching for one remote type: a distribution naming such a remote in
/// its `remote` field serves a path it has no content at by fetching it from upstream, and
/// keeps what it fetched as content (linked to a remote artifact, so the next request is
/// served from the store and the repository, if the type adds, holds it).
#[derive(Clone, Copy, Debug)]
pub struct PullThrough {
    /// The remote type these hooks are for.
    pub remote_type: &'static str,
    /// The distribution types whose `remote` field takes such a remote.
    pub distribution_types: &'static [&'static str],
    /// Pulp's `get_remote_artifact_url`: the upstream URL of a path, `None` when the remote
    /// has nothing there. [`join_url`] is Pulp's default.
    pub url: fn(&pith_entities::entity::remote::Model, &str) -> Option<String>,
    /// Pulp's `get_remote_artifact_content_type` and `init_from_artifact_and_relative_path`:
    /// the unit fetched bytes become; `Ok(None)` keeps nothing (metadata passed through as it
    /// is), an error keeps nothing and is logged (the client still got the bytes).
    pub content: fn(&PulledArtifact<'_>) -> Result<Option<PulledContent>, String>,
}

/// Pulp's default upstream URL of a pulled-through path: the remote's URL joined with it.
pub fn join_url(
    remote: &pith_entities::entity::remote::Model,
    relative_path: &str,
) -> Option<String> {
    if relative_path.starts_with('/') {
        return None;
    }
    let base = remote.url.trim_end_matches('/');
    Some(format!("{base}/{relative_path}"))
}

/// The master models a plugin's type may add fields to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Master {
    /// `core_remote`.
    Remote,
    /// `core_repository`.
    Repository,
    /// `core_publication`.
    Publication,
    /// `core_distribution`.
    Distribution,
}

/// The fields one type adds to its master model, in its detail table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeTable {
    /// The master model.
    pub master: Master,
    /// The type (`pulp_type`).
    pub pulp_type: &'static str,
    /// Its detail table.
    pub table: DetailTable,
}

/// Every detail type the running plugins declare.
#[derive(Clone, Debug, Default)]
pub struct Types {
    /// Content types.
    pub content: Vec<ContentType>,
    /// Remote types.
    pub remotes: Vec<Detail>,
    /// Repository types.
    pub repositories: Vec<RepositoryType>,
    /// Publication types.
    pub publications: Vec<Detail>,
    /// Distribution types.
    pub distributions: Vec<Detail>,
    /// The detail tables of types that add fields to their master model.
    pub tables: Vec<TypeTable>,
    /// The pull-through hooks of remote types that have them.
    pub pull_through: Vec<PullThrough>,
}

fn by_type<'a, T>(all: &'a [T], pulp_type: &str, detail: impl Fn(&T) -> &Detail) -> Option<&'a T> {
    all.iter().find(|t| detail(t).pulp_type == pulp_type)
}

impl Types {
    /// Adds another plugin's types.
    pub fn extend(&mut self, other: Types) {
        self.content.extend(other.content);
        self.remotes.extend(other.remotes);
        self.repositories.extend(other.repositories);
        self.publications.extend(other.publications);
        self.distributions.extend(other.distributions);
        self.tables.extend(other.tables);
        self.pull_through.extend(other.pull_through);
    }

    /// The pull-through hooks of remote type `remote_type`.
    pub fn pull_through(&self, remote_type: &str) -> Option<&PullThrough> {
        self.pull_through
            .iter()
            .find(|p| p.remote_type == remote_type)
    }

    /// The remote types a distribution of type `distribution_type` may pull through from
    /// (none: the type has no `remote` field).
    pub fn pull_through_remotes(&self, distribution_type: &str) -> Vec<&'static str> {
        self.pull_through
            .iter()
            .filter(|p| p.distribution_types.contains(&distribution_type))
            .map(|p| p.remote_type)
            .collect()
    }

    /// Splits validated fields of an object of type `pulp_type` into those of its detail
    /// table (with the table) and those of the master model.
    pub fn split_fields(
        &self,
        master: Master,
        pulp_type: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> (
        Option<DetailTable>,
        serde_json::Map<String, serde_json::Value>,
        serde_json::Map<String, serde_json::Value>,
    ) {
        let table = self.table(master, pulp_type).copied();
        let (mut detail, mut core) = (serde_json::Map::new(), serde_json::Map::new());
        for (k, v) in fields {
            if table.is_some_and(|t| t.field(k).is_some()) {
                detail.insert(k.clone(), v.clone());
            } else {
                core.insert(k.clone(), v.clone());
            }
        }
        (table, detail, core)
    }

    /// The detail table of type `pulp_type` of `master`, if it adds fields.
    pub fn table(&self, master: Master, pulp_type: &str) -> Option<&DetailTable> {
        self.tables
            .iter()
            .find(|t| t.master == master && t.pulp_type == pulp_type)
            .map(|t| &t.table)
    }

    /// Every reference between content units, of every type.
    pub fn references(&self) -> Vec<Reference> {
        self.content
            .iter()
            .flat_map(|t| t.references.iter().copied())
            .collect()
    }

    /// The content type stored as `pulp_type`.
    pub fn content(&self, pulp_type: &str) -> Option<&ContentType> {
        by_type(&self.content, pulp_type, |t| &t.detail)
    }

    /// The remote type stored as `pulp_type`.
    pub fn remote(&self, pulp_type: &str) -> Option<&Detail> {
        by_type(&self.remotes, pulp_type, |t| t)
    }

    /// The repository type stored as `pulp_type`.
    pub fn repository(&self, pulp_type: &str) -> Option<&RepositoryType> {
        by_type(&self.repositories, pulp_type, |t| &t.detail)
    }

    /// The publication type stored as `pulp_type`.
    pub fn publication(&self, pulp_type: &str) -> Option<&Detail> {
        by_type(&self.publications, pulp_type, |t| t)
    }

    /// The distribution type stored as `pulp_type`.
    pub fn distribution(&self, pulp_type: &str) -> Option<&Detail> {
        by_type(&self.distributions, pulp_type, |t| t)
    }

    /// The repository type of `pulp_type`, or an error naming it (a row written by a plugin
    /// that is not running).
    pub fn repository_or_err(&self, pulp_type: &str) -> Result<&RepositoryType, TaskError> {
        self.repository(pulp_type)
            .ok_or_else(|| TaskError::Invalid(unknown("repository", pulp_type)))
    }

    /// The href of repository `id` of type `pulp_type` (or of the first known type when the
    /// type is unknown, so that a listing never fails on one stray row).
    pub fn repository_href(&self, v3: &str, pulp_type: &str, id: &str) -> String {
        match self.repository(pulp_type).or(self.repositories.first()) {
            Some(t) => t.detail.href(v3, id),
            None => format!("{v3}repositories/{id}/"),
        }
    }
}

/// The message for a row whose type no running plugin declares.
pub fn unknown(what: &str, pulp_type: &str) -> String {
    format!("No installed plugin provides the {what} type {pulp_type:?}.")
}

/// A task body constructor.
pub type BodyFn = fn(TaskContext) -> TaskFuture;

/// A task body under Pulp's task name.
#[derive(Clone, Copy, Debug)]
pub struct TaskBody {
    /// Pulp's dotted task name (`<package>.app.tasks.<module>.<function>`).
    pub name: &'static str,
    /// Runs it.
    pub run: BodyFn,
    /// Whether it may change what the content app serves (distributions, publications,
    /// versions that may autopublish): the content app's index is told when it ends.
    pub changes_served_content: bool,
}

/// A body for Pulp's `general_create`, chosen by the `table` argument the dispatching
/// handler names (Pulp chooses by app label and serializer name).
#[derive(Clone, Copy, Debug)]
pub struct Creator {
    /// The master or detail table the created object lives in.
    pub table: &'static str,
    /// Creates it.
    pub run: BodyFn,
}

/// Every task body of core and the running plugins.
#[derive(Clone, Debug, Default)]
pub struct TaskBodies {
    bodies: HashMap<&'static str, TaskBody>,
    creators: HashMap<&'static str, BodyFn>,
}

impl TaskBodies {
    /// Adds bodies (a later one with the same name replaces an earlier one).
    pub fn add(&mut self, bodies: impl IntoIterator<Item = TaskBody>) {
        for b in bodies {
            self.bodies.insert(b.name, b);
        }
    }

    /// Adds `general_create` bodies.
    pub fn add_creators(&mut self, creators: impl IntoIterator<Item = Creator>) {
        for c in creators {
            self.creators.insert(c.table, c.run);
        }
    }

    /// Whether a body named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.bodies.contains_key(name)
    }

    /// The `general_create` body for objects in `table`.
    pub fn creator(&self, table: &str) -> Option<BodyFn> {
        self.creators.get(table).copied()
    }

    /// The running body for task `name`; unknown names fail the task with a message that
    /// says so.
    pub fn body(&self, name: &str, ctx: TaskContext) -> TaskFuture {
        let Some(b) = self.bodies.get(name) else {
            let msg = format!("Pith has no task named {name:?}.");
            return Box::pin(async move { Err(TaskError::Invalid(msg)) });
        };
        let db = ctx.deps.db.clone();
        let fut = (b.run)(ctx);
        if !b.changes_served_content {
            return fut;
        }
        Box::pin(async move {
            let out: Result<TaskOutput, TaskError> = fut.await;
            pith_entities::content_generation::changed(&db).await;
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: Detail = Detail {
        pulp_type: "x.y",
        collection: "repositories/x/y",
        prn_type: "x.yrepository",
        model: "YRepository",
    };

    #[test]
    fn hrefs_and_prns() {
        assert_eq!(REPO.href("/v3/", "1"), "/v3/repositories/x/y/1/");
        assert_eq!(REPO.list_href("/v3/"), "/v3/repositories/x/y/");
        assert_eq!(REPO.prn("1"), "prn:x.yrepository:1");
        let types = Types {
            repositories: vec![RepositoryType {
                detail: REPO,
                key: RepoKey::NONE,
                finalize_new_version: None,
                on_new_version: None,
                pull_through_add: false,
            }],
            ..Types::default()
        };
        assert!(types.repository("x.y").is_some());
        assert!(types.repository_or_err("x.z").is_err());
        assert_eq!(
            types.repository_href("/v3/", "x.z", "1"),
            "/v3/repositories/x/y/1/"
        );
    }
}
