//! `roles/` and the roles given to users and groups (`users/<id>/roles/`,
//! `groups/<id>/roles/`), Pulp's `RoleViewSet`, `UserRoleViewSet` and `GroupRoleViewSet`.
//! Locked roles are declared by core and the plugins ([`crate::plugin::LockedRole`]) and
//! made exactly so at start ([`sync_locked`]).

use pith_actors::plugin::Detail;
use pith_entities::rbac::{self, Holder, Role};
use pith_entities::time::to_rfc3339;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::{Ctx, ok};
use crate::error::FieldErrors;
use crate::listing;
use crate::plugin::{LockedRole, Platform};
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

/// Core's locked roles (pulpcore's viewsets' `LOCKED_ROLES`, for the models Pith has).
pub const CORE_ROLES: &[LockedRole] = &[
    LockedRole {
        name: "core.task_owner",
        permissions: &[
            "core.view_task",
            "core.view_task_profile_artifacts",
            "core.change_task",
            "core.delete_task",
            "core.manage_roles_task",
        ],
    },
    LockedRole {
        name: "core.task_viewer",
        permissions: &["core.view_task"],
    },
    LockedRole {
        name: "core.task_user_dispatcher",
        permissions: &["core.add_task"],
    },
    LockedRole {
        name: "core.content_labeler",
        permissions: &["core.manage_content_labels"],
    },
    LockedRole {
        name: "core.upload_creator",
        permissions: &["core.add_upload"],
    },
    LockedRole {
        name: "core.upload_owner",
        permissions: &[
            "core.view_upload",
            "core.change_upload",
            "core.delete_upload",
            "core.manage_roles_upload",
        ],
    },
    LockedRole {
        name: "core.upload_viewer",
        permissions: &["core.view_upload"],
    },
    LockedRole {
        name: "core.group_creator",
        permissions: &["core.add_group"],
    },
    LockedRole {
        name: "core.group_owner",
        permissions: &[
            "core.view_group",
            "core.change_group",
            "core.delete_group",
            "core.manage_roles_group",
        ],
    },
    LockedRole {
        name: "core.group_viewer",
        permissions: &["core.view_group"],
    },
    LockedRole {
        name: "core.rbaccontentguard_creator",
        permissions: &["core.add_rbaccontentguard"],
    },
    LockedRole {
        name: "core.rbaccontentguard_owner",
        permissions: &[
            "core.view_rbaccontentguard",
            "core.change_rbaccontentguard",
            "core.delete_rbaccontentguard",
            "core.manage_roles_rbaccontentguard",
        ],
    },
    LockedRole {
        name: "core.rbaccontentguard_viewer",
        permissions: &["core.view_rbaccontentguard"],
    },
    LockedRole {
        name: "core.rbaccontentguard_downloader",
        permissions: &["core.download_rbaccontentguard"],
    },
    LockedRole {
        name: "core.contentredirectcontentguard_creator",
        permissions: &["core.add_contentredirectcontentguard"],
    },
    LockedRole {
        name: "core.contentredirectcontentguard_owner",
        permissions: &[
            "core.view_contentredirectcontentguard",
            "core.change_contentredirectcontentguard",
            "core.delete_contentredirectcontentguard",
            "core.manage_roles_contentredirectcontentguard",
        ],
    },
    LockedRole {
        name: "core.contentredirectcontentguard_viewer",
        permissions: &["core.view_contentredirectcontentguard"],
    },
    LockedRole {
        name: "core.headercontentguard_creator",
        permissions: &["core.add_headercontentguard"],
    },
    LockedRole {
        name: "core.headercontentguard_owner",
        permissions: &[
            "core.view_headercontentguard",
            "core.change_headercontentguard",
            "core.delete_headercontentguard",
            "core.manage_roles_headercontentguard",
        ],
    },
    LockedRole {
        name: "core.headercontentguard_viewer",
        permissions: &["core.view_headercontentguard"],
    },
    LockedRole {
        name: "core.envvarheadercontentguard_creator",
        permissions: &["core.add_envvarheadercontentguard"],
    },
    LockedRole {
        name: "core.envvarheadercontentguard_owner",
        permissions: &[
            "core.view_envvarheadercontentguard",
            "core.change_envvarheadercontentguard",
            "core.delete_envvarheadercontentguard",
            "core.manage_roles_envvarheadercontentguard",
        ],
    },
    LockedRole {
        name: "core.envvarheadercontentguard_viewer",
        permissions: &["core.view_envvarheadercontentguard"],
    },
    LockedRole {
        name: "core.compositecontentguard_creator",
        permissions: &["core.add_compositecontentguard"],
    },
    LockedRole {
        name: "core.compositecontentguard_owner",
        permissions: &[
            "core.view_compositecontentguard",
            "core.change_compositecontentguard",
            "core.delete_compositecontentguard",
            "core.manage_roles_compositecontentguard",
        ],
    },
    LockedRole {
        name: "core.compositecontentguard_viewer",
        permissions: &["core.view_compositecontentguard"],
    },
];

/// Makes every declared locked role exactly what it declares (run at start, after migrating).
pub async fn sync_locked(db: &pith_entities::Db, platform: &Platform) -> Result<(), ApiError> {
    let declared: Vec<(&str, Option<&str>, Vec<String>)> = platform
        .roles
        .iter()
        .map(|r| {
            (
                r.name,
                None,
                r.permissions.iter().map(|p| (*p).to_owned()).collect(),
            )
        })
        .collect();
    Ok(rbac::sync_locked(db, &declared).await?)
}

/// The models objects of which roles may be given on: every declared type and core's own.
fn object_types(ctx: &Ctx) -> Vec<Detail> {
    let p = &ctx.state.platform;
    let t = &p.types;
    let mut all: Vec<Detail> = t.remotes.clone();
    all.extend(t.repositories.iter().map(|r| r.detail));
    all.extend(t.publications.iter().copied());
    all.extend(t.distributions.iter().copied());
    all.extend(p.content_guards.iter().map(|g| g.viewset.detail));
    all.extend([
        Detail {
            pulp_type: "core.task",
            collection: "tasks",
            prn_type: "core.task",
            model: "Task",
        },
        Detail {
            pulp_type: "core.upload",
            collection: "uploads",
            prn_type: "core.upload",
            model: "Upload",
        },
    ]);
    all
}

/// The object an href or PRN names: its PRN type and id.
fn object_of(ctx: &Ctx, value: &str) -> Option<(String, String)> {
    let v3 = ctx.v3();
    object_types(ctx).into_iter().find_map(|t| {
        listing::id_from_ref(&v3, t.collection, t.prn_type, value)
            .map(|id| (t.prn_type.to_owned(), id))
    })
}

fn object_href(ctx: &Ctx, prn_type: &str, id: &str) -> Option<String> {
    object_types(ctx)
        .into_iter()
        .find(|t| t.prn_type == prn_type)
        .map(|t| t.href(&ctx.v3(), id))
}

fn role_json(ctx: &Ctx, r: &Role) -> Value {
    json!({
        "pulp_href": format!("{}roles/{}/", ctx.v3(), r.id),
        "prn": format!("prn:core.role:{}", r.id),
        "pulp_created": to_rfc3339(r.created),
        "pulp_last_updated": to_rfc3339(r.updated),
        "name": r.name,
        "description": r.description,
        "permissions": r.permissions,
        "locked": r.locked,
    })
}

/// Filters of `roles/`.
pub const ROLE_FILTERS: [&str; 8] = [
    "name",
    "name__contains",
    "name__icontains",
    "name__in",
    "name__startswith",
    "locked",
    "contains_permission",
    "for_object_type",
];

/// `GET roles/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &ROLE_FILTERS, &["name", "pulp_created", "pk"])?;
    let mut all = rbac::roles(&ctx.state.db, None).await?;
    for (k, v) in &p.filters {
        let keep: Box<dyn Fn(&Role) -> bool> = match k.as_str() {
            "name" => Box::new(move |r| r.name == *v),
            "name__contains" => Box::new(move |r| r.name.contains(v.as_str())),
            "name__icontains" => {
                let v = v.to_lowercase();
                Box::new(move |r| r.name.to_lowercase().contains(&v))
            }
            "name__startswith" => Box::new(move |r| r.name.starts_with(v.as_str())),
            "name__in" => Box::new(move |r| v.split(',').any(|n| n.trim() == r.name)),
            "locked" => {
                let b = listing::boolean(k, v)?;
                Box::new(move |r| r.locked == b)
            }
            // Repeated, the values add up: roles with any of them.
            "contains_permission" => {
                let wanted: Vec<&str> = p
                    .filters
                    .iter()
                    .filter(|(n, _)| n == "contains_permission")
                    .flat_map(|(_, v)| v.split(','))
                    .map(str::trim)
                    .collect();
                Box::new(move |r| r.permissions.iter().any(|q| wanted.contains(&q.as_str())))
            }
            _ => {
                // `for_object_type` (a collection's href): roles with permissions, all of them
                // on that model.
                let (app, model) = model_of_collection(ctx, v);
                Box::new(move |r| {
                    !r.permissions.is_empty()
                        && r.permissions.iter().all(|q| {
                            q.strip_prefix(&format!("{app}."))
                                .is_some_and(|c| c.ends_with(&format!("_{model}")))
                        })
                })
            }
        };
        all.retain(|r| keep(r));
    }
    if p.ordering.iter().any(|(f, d)| f == "name" && *d) {
        all.reverse();
    }
    Ok(ok(&listing::page_of(req, &p, &all, |r| role_json(ctx, r))))
}

/// `(app label, model)` of the objects a collection href lists (`…/api/v3/groups/` →
/// `("core", "group")`), from the viewset's declared policy; otherwise the last path segment.
fn model_of_collection(ctx: &Ctx, href: &str) -> (String, String) {
    let path = href.split_once("/api/v3/").map_or(href, |(_, rest)| rest);
    let path = path.trim_matches('/');
    let declared = ctx
        .state
        .platform
        .access_policies
        .iter()
        .find(|p| p.viewset_name == path)
        .and_then(|p| p.prn_type.split_once('.'));
    match declared {
        Some((app, model)) => (app.to_owned(), model.to_owned()),
        None => (
            "core".to_owned(),
            path.rsplit('/').next().unwrap_or("").to_owned(),
        ),
    }
}

async fn load(ctx: &Ctx, id: &str) -> Result<Role, ApiError> {
    let id = super::parse_id(id, "Role")?.to_string();
    rbac::roles(&ctx.state.db, None)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found("Role"))
}

/// `GET roles/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    Ok(ok(&listing::select_from_query(role_json(ctx, &r), req)))
}

/// The permissions every plugin and core declare, plus those of the locked roles.
fn known_permissions(ctx: &Ctx) -> Vec<&'static str> {
    let p = &ctx.state.platform;
    let mut all: Vec<&'static str> = p.permissions.iter().map(|x| x.name).collect();
    all.extend(p.roles.iter().flat_map(|r| r.permissions.iter().copied()));
    all
}

async fn validate_role(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&Role>,
    partial: bool,
) -> Result<(String, Option<String>, Vec<String>), ApiError> {
    let mut errs = FieldErrors::default();
    let mut name = existing.map(|r| r.name.clone());
    let mut description = existing.and_then(|r| r.description.clone());
    let mut perms = existing.map(|r| r.permissions.clone()).unwrap_or_default();
    let known = known_permissions(ctx);
    for (k, v) in body {
        match (k.as_str(), v) {
            ("name", Value::String(s)) if !s.trim().is_empty() => name = Some(s.trim().to_owned()),
            ("name", _) => errs.add(k, "This field may not be blank."),
            ("description", Value::String(s)) => description = Some(s.clone()),
            ("description", Value::Null) => description = None,
            ("permissions", Value::Array(a)) => {
                perms = Vec::new();
                for p in a {
                    match p.as_str() {
                        Some(p) if known.contains(&p) => perms.push(p.to_owned()),
                        Some(p) => errs.add(k, format!("Permission {p} does not exist.")),
                        None => errs.add(k, "Not a valid string."),
                    }
                }
            }
            ("permissions", _) => errs.add(k, "Expected a list of items."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    if !partial {
        for f in ["name", "permissions"] {
            if !body.contains_key(f) {
                errs.add(f, "This field is required.");
            }
        }
    }
    if let Some(n) = &name {
        let taken = rbac::roles(&ctx.state.db, Some(std::slice::from_ref(n)))
            .await?
            .into_iter()
            .any(|r| Some(&r.id) != existing.map(|e| &e.id));
        if taken {
            errs.add("name", "This field must be unique.");
        }
    }
    errs.into_result()?;
    perms.sort();
    perms.dedup();
    Ok((name.unwrap_or_default(), description, perms))
}

/// `POST roles/`: a custom role (201).
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let (name, description, perms) = validate_role(ctx, &body, None, false).await?;
    let id = rbac::save_role(
        &ctx.state.db,
        None,
        &name,
        description.as_deref(),
        false,
        &perms,
    )
    .await?;
    Ok(json_resp(
        StatusCode::CREATED,
        &role_json(ctx, &load(ctx, &id).await?),
    ))
}

/// `PUT`/`PATCH roles/<id>/` (a locked role is refused).
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id).await?;
    if r.locked {
        return Err(ApiError::Forbidden);
    }
    let (name, description, perms) = validate_role(ctx, &body, Some(&r), partial).await?;
    rbac::save_role(
        &ctx.state.db,
        Some(&r.id),
        &name,
        description.as_deref(),
        false,
        &perms,
    )
    .await?;
    Ok(ok(&role_json(ctx, &load(ctx, id).await?)))
}

/// `DELETE roles/<id>/` (a locked role is refused).
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    if r.locked {
        return Err(ApiError::Forbidden);
    }
    rbac::delete_role(&ctx.state.db, &r.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Whose roles a path names: `users/<id>/roles/` or `groups/<id>/roles/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whose {
    /// A user's.
    User,
    /// A group's.
    Group,
}

impl Whose {
    fn collection(self) -> &'static str {
        match self {
            Whose::User => "users",
            Whose::Group => "groups",
        }
    }
}

async fn holder(ctx: &Ctx, whose: Whose, id: &str) -> Result<Holder, ApiError> {
    let (model, n) = match whose {
        Whose::User => ("User", id.parse::<i64>().ok()),
        Whose::Group => ("Group", id.parse::<i64>().ok()),
    };
    let n = n.ok_or_else(|| ApiError::not_found(model))?;
    let exists = match whose {
        Whose::User => super::users::user_row(ctx, n).await?.is_some(),
        Whose::Group => rbac::group(&ctx.state.db, n).await?.is_some(),
    };
    if !exists {
        return Err(ApiError::not_found(model));
    }
    Ok(match whose {
        Whose::User => Holder::User(n),
        Whose::Group => Holder::Group(n),
    })
}

fn assignment_json(
    ctx: &Ctx,
    whose: Whose,
    who: &str,
    a: &rbac::Assignment,
    roles: &[Role],
) -> Value {
    let role = roles.iter().find(|r| r.name == a.role);
    let (href, prn) = match &a.object {
        Some((t, id)) => (object_href(ctx, t, id), Some(format!("prn:{t}:{id}"))),
        None => (None, None),
    };
    json!({
        "pulp_href": format!("{}{}/{who}/roles/{}/", ctx.v3(), whose.collection(), a.id),
        "prn": format!("prn:core.{}role:{}", if whose == Whose::User { "user" } else { "group" }, a.id),
        "pulp_created": to_rfc3339(a.created),
        "pulp_last_updated": to_rfc3339(a.created),
        "role": a.role,
        "content_object": href,
        "content_object_prn": prn,
        "description": role.and_then(|r| r.description.clone()),
        "permissions": role.map(|r| r.permissions.clone()).unwrap_or_default(),
        "domain": null,
    })
}

/// `GET users/<id>/roles/`, `GET groups/<id>/roles/`.
pub async fn list_assigned(
    ctx: &Ctx,
    req: &Req,
    whose: Whose,
    who: &str,
) -> Result<Response, ApiError> {
    let p = listing::parse(
        req,
        &[
            "role",
            "role__in",
            "role__contains",
            "role__icontains",
            "role__startswith",
            "content_object",
        ],
        &["role", "pulp_created", "pk"],
    )?;
    let h = holder(ctx, whose, who).await?;
    let mut all = rbac::assignments(&ctx.state.db, h).await?;
    for (k, v) in &p.filters {
        match k.as_str() {
            "role" => all.retain(|a| a.role == *v),
            "role__in" => all.retain(|a| v.split(',').any(|r| r.trim() == a.role)),
            "role__contains" => all.retain(|a| a.role.contains(v.as_str())),
            "role__icontains" => all.retain(|a| a.role.to_lowercase().contains(&v.to_lowercase())),
            "role__startswith" => all.retain(|a| a.role.starts_with(v.as_str())),
            _ if v == "null" => all.retain(|a| a.object.is_none()),
            _ => {
                let o = object_of(ctx, v);
                all.retain(|a| a.object == o);
            }
        }
    }
    let roles = rbac::roles(&ctx.state.db, None).await?;
    Ok(ok(&listing::page_of(req, &p, &all, |a| {
        assignment_json(ctx, whose, who, a, &roles)
    })))
}

/// `POST users/<id>/roles/ {"role", "content_object", "domain"}` (201).
pub async fn assign(
    ctx: &Ctx,
    req: &mut Req,
    whose: Whose,
    who: &str,
) -> Result<Response, ApiError> {
    let h = holder(ctx, whose, who).await?;
    let body = req.object(ctx.state.config.max_json_body).await?;
    let mut errs = FieldErrors::default();
    let mut role = None;
    let mut object = None;
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("role", Value::String(name)) => {
                match rbac::roles(&ctx.state.db, Some(std::slice::from_ref(name)))
                    .await?
                    .pop()
                {
                    Some(r) => role = Some(r),
                    None => errs.add(k, format!("Object with name={name} does not exist.")),
                }
            }
            ("role", _) => errs.add(k, "Not a valid string."),
            ("content_object", Value::Null) => {}
            ("content_object", Value::String(h)) => match object_of(ctx, h) {
                Some(o) => object = Some(o),
                None => errs.add(k, "Invalid value for content_object."),
            },
            ("content_object", _) => errs.add(k, "Not a valid string."),
            ("domain", Value::Null) => {}
            ("domain", _) => errs.add(k, "Domains are not enabled."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    if !body.contains_key("role") {
        errs.add("role", "This field is required.");
    }
    if !body.contains_key("content_object") {
        errs.add("content_object", "This field is required.");
    }
    errs.into_result()?;
    let Some(role) = role else {
        return Err(ApiError::field("role", "This field is required."));
    };
    let target = object.as_ref().map(|(t, i)| (t.as_str(), i.as_str()));
    let Some(id) = rbac::assign(&ctx.state.db, h, &role.id, target).await? else {
        return Err(ApiError::field(
            "non_field_errors",
            "The role is already assigned to this user.".replace(
                "user",
                if whose == Whose::User {
                    "user"
                } else {
                    "group"
                },
            ),
        ));
    };
    let a = rbac::assignments(&ctx.state.db, h)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::Internal("assignment vanished".into()))?;
    Ok(json_resp(
        StatusCode::CREATED,
        &assignment_json(ctx, whose, who, &a, std::slice::from_ref(&role)),
    ))
}

/// `GET users/<id>/roles/<role_id>/`.
pub async fn read_assigned(
    ctx: &Ctx,
    req: &Req,
    whose: Whose,
    who: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let h = holder(ctx, whose, who).await?;
    let model = if whose == Whose::User {
        "UserRole"
    } else {
        "GroupRole"
    };
    let a = rbac::assignments(&ctx.state.db, h)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found(model))?;
    let roles = rbac::roles(&ctx.state.db, Some(std::slice::from_ref(&a.role))).await?;
    Ok(ok(&listing::select_from_query(
        assignment_json(ctx, whose, who, &a, &roles),
        req,
    )))
}

/// `DELETE users/<id>/roles/<role_id>/` (204).
pub async fn unassign(ctx: &Ctx, whose: Whose, who: &str, id: &str) -> Result<Response, ApiError> {
    let h = holder(ctx, whose, who).await?;
    if !rbac::unassign(&ctx.state.db, h, id).await? {
        return Err(ApiError::not_found(if whose == Whose::User {
            "UserRole"
        } else {
            "GroupRole"
        }));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Pulp's role mixin on one object (`<object>/list_roles/`, `add_role/`, `remove_role/`):
/// which object, by PRN type and id.
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    /// The object's PRN type (`core.upload`).
    pub prn_type: &'a str,
    /// Its viewset's collection (`uploads`, `remotes/file/file`).
    pub collection: &'a str,
    /// Its id.
    pub id: &'a str,
}

/// Pulp's 404 for an object that is not there (a superuser passes the policy's checks for
/// any id; the object must still exist).
pub async fn must_exist(
    ctx: &Ctx,
    collection: &str,
    prn_type: &str,
    id: &str,
) -> Result<(), ApiError> {
    if rbac::object_exists(&ctx.state.db, collection, id).await? == Some(false) {
        let model = ctx
            .state
            .platform
            .access_policies
            .iter()
            .find(|p| p.prn_type == prn_type)
            .map_or("object", |p| p.model);
        return Err(ApiError::not_found(model));
    }
    Ok(())
}

/// `GET <object>/list_roles/`: `{"roles": [{"role", "users", "groups"}]}`.
pub async fn list_object_roles(ctx: &Ctx, o: Object<'_>) -> Result<Response, ApiError> {
    must_exist(ctx, o.collection, o.prn_type, o.id).await?;
    let db = &ctx.state.db;
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (role, who, is_user) in rbac::on_object(db, (o.prn_type, o.id)).await? {
        let i = match out.iter().position(|r| r.0 == role) {
            Some(i) => i,
            None => {
                out.push((role, Vec::new(), Vec::new()));
                out.len() - 1
            }
        };
        if is_user {
            out[i].1.push(who);
        } else {
            out[i].2.push(who);
        }
    }
    let roles: Vec<Value> = out
        .into_iter()
        .map(|(role, users, groups)| json!({"role": role, "users": users, "groups": groups}))
        .collect();
    Ok(ok(&json!({ "roles": roles })))
}

/// `POST <object>/add_role/` (`assign`) or `remove_role/ {"role", "users", "groups"}`: 201
/// with the body, as Pulp answers.
pub async fn change_object_role(
    ctx: &Ctx,
    req: &mut Req,
    o: Object<'_>,
    assign: bool,
) -> Result<Response, ApiError> {
    must_exist(ctx, o.collection, o.prn_type, o.id).await?;
    let body = req.object(ctx.state.config.max_json_body).await?;
    let db = &ctx.state.db;
    let mut errs = FieldErrors::default();
    let role = match body.get("role") {
        Some(Value::String(name)) => {
            match rbac::roles(db, Some(std::slice::from_ref(name)))
                .await?
                .pop()
            {
                Some(r) => Some(r),
                None => {
                    errs.add("role", format!("Object with name={name} does not exist."));
                    None
                }
            }
        }
        Some(_) => {
            errs.add("role", "Not a valid string.");
            None
        }
        None => {
            errs.add("role", "This field is required.");
            None
        }
    };
    let names = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (usernames, groupnames) = (names("users"), names("groups"));
    let mut holders = Vec::new();
    for u in &usernames {
        match super::users::user_named(ctx, u).await? {
            Some(x) => holders.push((Holder::User(x.id), u.clone(), true)),
            None => errs.add("users", format!("Object with username={u} does not exist.")),
        }
    }
    let groups = rbac::groups(db).await?;
    for g in &groupnames {
        match groups.iter().find(|x| &x.name == g) {
            Some(x) => holders.push((Holder::Group(x.id), g.clone(), false)),
            None => errs.add("groups", format!("Object with name={g} does not exist.")),
        }
    }
    errs.into_result()?;
    let Some(role) = role else {
        return Err(ApiError::field("role", "This field is required."));
    };
    let model = o.prn_type.rsplit('.').next().unwrap_or("");
    if !role
        .permissions
        .iter()
        .any(|p| p.ends_with(&format!("_{model}")))
    {
        return Err(ApiError::field(
            "non_field_errors",
            "The role does not contain any permission for that object.",
        ));
    }
    let held = rbac::on_object(db, (o.prn_type, o.id)).await?;
    for (_, name, is_user) in &holders {
        let has = held
            .iter()
            .any(|(r, w, u)| *r == role.name && w == name && u == is_user);
        let kind = if *is_user { "user" } else { "group" };
        if assign && has {
            return Err(ApiError::field(
                "non_field_errors",
                format!("The role is already assigned to {kind} '{name}'."),
            ));
        }
        if !assign && !has {
            return Err(ApiError::field(
                "non_field_errors",
                format!("The role is not assigned to {kind} '{name}'."),
            ));
        }
    }
    for (h, _, _) in &holders {
        if assign {
            rbac::assign(db, *h, &role.id, Some((o.prn_type, o.id))).await?;
        } else {
            rbac::unassign_on(db, *h, &role.id, (o.prn_type, o.id)).await?;
        }
    }
    Ok(json_resp(
        StatusCode::CREATED,
        &json!({"role": role.name, "users": usernames, "groups": groupnames}),
    ))
}
