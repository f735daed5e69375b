//! REST API handlers, one module per resource.

pub mod access_policies;
pub mod artifacts;
pub mod content;
pub mod content_guards;
pub mod details;
pub mod login;
pub mod orphans;
pub mod publishing;
pub mod remotes;
pub mod repositories;
pub mod roles;
pub mod status;
pub mod tasks;
pub mod testing;
pub mod uploads;
pub mod users;
pub mod workers;

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;

use crate::auth::User;
use crate::request::{Response, json as json_resp};
use crate::{HttpState, Req};

/// What every handler gets.
#[derive(Debug)]
pub struct Ctx {
    /// Shared state.
    pub state: Arc<HttpState>,
    /// The authenticated user (None on open endpoints).
    pub user: Option<User>,
    /// The request's correlation id (stored as tasks' `logging_cid`).
    pub cid: String,
    /// What lists and reads of the viewset may show this user (its policy's scoping).
    pub scope: Scope,
}

/// The objects of a scoped viewset a user may see (Pulp's `scope_queryset`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// All of them (a superuser, a holder of the model-wide view permission, or a viewset
    /// without scoping).
    All,
    /// Only these ids (those the user holds the view permission on).
    Only(Vec<String>),
    /// Content: only what is in the repositories the user may see.
    InRepositories(Seen),
    /// A master model's list (`repositories/`, `contentguards/`): what each type's own
    /// policy lets the user see.
    Among(Seen),
}

/// Objects a user may see: every one of some types (a model-wide view permission), and these
/// others by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Types (`pulp_type`) seen whole.
    pub types: Vec<String>,
    /// Objects seen one by one.
    pub ids: Vec<String>,
}

impl Scope {
    /// Whether object `id` is visible, for the scopes that tell without the database (content
    /// in repositories does not: that is checked against the content's repositories).
    pub fn sees(&self, id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(ids) => ids.iter().any(|i| i == id),
            Scope::InRepositories(_) => false,
            Scope::Among(seen) => seen.ids.iter().any(|i| i == id),
        }
    }
}

impl Ctx {
    /// Dispatches a task as this request's user: the `tasks` policy's creation hooks give
    /// them its owner role, so they can follow it.
    pub async fn dispatch(
        &self,
        spec: pith_actors::tasking::TaskSpec,
    ) -> Result<uuid::Uuid, crate::ApiError> {
        let id = self.state.tasking.dispatch(spec).await?;
        access_policies::created(self, "tasks", &id.to_string()).await?;
        Ok(id)
    }

    /// `API_ROOT` + `api/v3/`.
    pub fn v3(&self) -> String {
        self.state.config.v3()
    }

    /// Href of the current user, for `created_by`.
    pub fn user_href(&self) -> Option<String> {
        self.user
            .as_ref()
            .map(|u| format!("{}users/{}/", self.v3(), u.id))
    }
}

/// Pulp's `202 {"task": href}`.
pub fn accepted(v3: &str, task: uuid::Uuid) -> Response {
    json_resp(
        StatusCode::ACCEPTED,
        &json!({ "task": format!("{v3}tasks/{task}/") }),
    )
}

/// 200 with a JSON body.
pub fn ok(v: &Value) -> Response {
    json_resp(StatusCode::OK, v)
}

/// The default domain's id, from the database (`core_domain` is created by the migrations).
pub async fn domain_id(state: &HttpState) -> Result<String, crate::ApiError> {
    pith_entities::nodes::default_domain(&state.db)
        .await?
        .ok_or_else(|| {
            crate::ApiError::Internal("the default domain is missing; run `pith migrate`".into())
        })
}

/// Pulp's canonical relative path (of content, or a distribution's `base_path`): no
/// leading/trailing `/`, no empty, `.` or `..` segment, no whitespace, `?`, `#` or `\\`.
pub fn check_relative_path(p: &str) -> Result<(), String> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.ends_with('/')
        || p.chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#' || c == '\\')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        Err(format!("The path {p:?} is not a canonical relative path."))
    } else {
        Ok(())
    }
}

/// Parses a detail id (a UUID) or answers Pulp's 404 for `model`.
pub fn parse_id(raw: &str, model: &str) -> Result<uuid::Uuid, crate::ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| crate::ApiError::not_found(model))
}

/// True when `req` has the query flag `name=true`.
pub fn flag(req: &Req, name: &str) -> bool {
    req.query
        .iter()
        .any(|(k, v)| k == name && matches!(v.as_str(), "true" | "True" | "1"))
}

/// Core's serializers for task bodies (see [`pith_actors::tasks::Serializers`]): the same
/// functions the viewsets answer with, so a task's `result` and a later `GET` agree.
#[derive(Debug)]
pub struct TaskSerializers {
    /// The running plugins (viewsets name the hrefs serializers write).
    pub platform: Arc<crate::plugin::Platform>,
}

#[async_trait::async_trait]
impl pith_actors::tasks::Serializers for TaskSerializers {
    async fn version(
        &self,
        deps: &pith_actors::tasks::TaskDeps,
        v3: &str,
        repo_href: &str,
        v: &pith_entities::entity::repository_version::Model,
    ) -> Result<Value, pith_entities::DbError> {
        repositories::version_json(&deps.db, &deps.types, v3, repo_href, v).await
    }

    async fn publication(
        &self,
        deps: &pith_actors::tasks::TaskDeps,
        v3: &str,
        id: &str,
    ) -> Result<Option<Value>, pith_entities::DbError> {
        publishing::publication_json(&deps.db, &deps.types, v3, id).await
    }

    async fn updated(
        &self,
        deps: &pith_actors::tasks::TaskDeps,
        v3: &str,
        content_base: &str,
        table: &str,
        id: &str,
    ) -> Result<Option<Value>, pith_entities::DbError> {
        use pith_entities::entity::{distribution, remote, repository};
        use pith_entities::sea_orm::EntityTrait;
        let (db, types) = (&deps.db, &deps.types);
        Ok(match table {
            "core_distribution" => match distribution::Entity::find_by_id(id.to_owned())
                .one(&db.read)
                .await?
            {
                Some(d) => Some(
                    publishing::distribution_json(db, &self.platform, v3, content_base, &d).await?,
                ),
                None => None,
            },
            "core_remote" => match remote::Entity::find_by_id(id.to_owned())
                .one(&db.read)
                .await?
            {
                Some(r) => Some(remotes::serialize_detached(db, types, v3, &r).await?),
                None => None,
            },
            "core_repository" => {
                match repository::Entity::find_by_id(id.to_owned())
                    .one(&db.read)
                    .await?
                {
                    Some(r) => {
                        Some(repositories::serialize_detached(&self.platform, db, v3, &r).await?)
                    }
                    None => None,
                }
            }
            _ => None,
        })
    }

    async fn distribution(
        &self,
        deps: &pith_actors::tasks::TaskDeps,
        v3: &str,
        content_base: &str,
        d: &pith_entities::entity::distribution::Model,
    ) -> Result<Value, pith_entities::DbError> {
        publishing::distribution_json(&deps.db, &self.platform, v3, content_base, d).await
    }
}
