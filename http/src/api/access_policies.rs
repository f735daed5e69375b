//! `access_policies/` (Pulp's `AccessPolicyViewSet`: list, read, update, `reset/`) and what
//! the router asks of a viewset's policy on every request ([`authorize`]), with the
//! permission conditions the policies name, the creation hooks and queryset scoping.

use pith_entities::access_policies::{self, PolicyRow};
use pith_entities::rbac::{self, Holder};
use pith_entities::time::to_rfc3339;
use serde_json::{Value, json};

use super::{Ctx, Scope, ok};
use crate::access_policy::{Policy, Principal, ViewSetPolicy, action_of, decide};
use crate::error::FieldErrors;
use crate::listing;
use crate::request::Response;
use crate::{ApiError, Req};

/// The default policies core declares (pulpcore's viewsets' `DEFAULT_ACCESS_POLICY`), for the
/// viewsets whose handlers apply their scoping.
pub const CORE_POLICIES: &[ViewSetPolicy] = &[
    ViewSetPolicy {
        viewset_name: "uploads",
        prn_type: "core.upload",
        model: "Upload",
        view_permission: "core.view_upload",
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_perms:core.add_upload"},
            {"action": ["update", "partial_update", "commit"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.change_upload"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.delete_upload"},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:core.manage_roles_upload"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator", "parameters": {"roles": "core.upload_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    ViewSetPolicy {
        viewset_name: "tasks",
        prn_type: "core.task",
        model: "Task",
        view_permission: "core.view_task",
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["profile_artifacts"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.view_task_profile_artifacts"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.delete_task"},
            {"action": ["update", "partial_update"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.change_task"},
            {"action": ["purge"], "principal": "authenticated", "effect": "allow"},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:core.manage_roles_task"}],
          "creation_hooks": [{"function": "add_roles_for_object_creator", "parameters": {"roles": "core.task_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    ViewSetPolicy {
        viewset_name: "artifacts",
        prn_type: "core.artifact",
        model: "Artifact",
        view_permission: "core.view_artifact",
        // No statement allows `destroy`: in Pulp 3.123 nobody deletes an artifact through the
        // API, superusers included (orphan cleanup does).
        default: r#"{"statements": [
            {"action": ["create", "list", "retrieve"], "principal": "admin", "effect": "allow"}],
          "creation_hooks": [], "queryset_scoping": null}"#,
    },
];

/// The declaration of viewset `name`.
fn declared<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a ViewSetPolicy> {
    ctx.state
        .platform
        .access_policies
        .iter()
        .find(|p| p.viewset_name == name)
}

/// Stores every declared default (customized policies stay as the admin left them), then
/// loads them: run at start.
pub async fn seed(state: &crate::HttpState) -> Result<(), ApiError> {
    for p in &state.platform.access_policies {
        let v: Value = serde_json::from_str(p.default).map_err(|e| {
            ApiError::Internal(format!("default policy of {}: {e}", p.viewset_name))
        })?;
        let policy: Policy = serde_json::from_value(v.clone()).map_err(|e| {
            ApiError::Internal(format!("default policy of {}: {e}", p.viewset_name))
        })?;
        let (statements, hooks, scoping) = parts(&policy);
        access_policies::save(
            &state.db,
            p.viewset_name,
            (&statements, &hooks, scoping.as_deref()),
            false,
            true,
        )
        .await?;
    }
    state.policies.reload(&state.db).await?;
    Ok(())
}

fn parts(p: &Policy) -> (String, String, Option<String>) {
    (
        serde_json::to_string(&p.statements).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&p.creation_hooks).unwrap_or_else(|_| "[]".into()),
        p.queryset_scoping.as_ref().map(Value::to_string),
    )
}

/// Whether `user` holds `permission` model-wide or on `object`.
async fn holds(
    ctx: &Ctx,
    user: i64,
    permission: &str,
    object: Option<(&str, &str)>,
) -> Result<bool, ApiError> {
    Ok(rbac::has_permission(&ctx.state.db, user, permission, object).await?)
}

/// One condition's value (`has_model_perms:core.add_upload`). A superuser passes every
/// permission condition; an unknown condition holds for nobody else.
async fn condition(
    ctx: &Ctx,
    user: &crate::auth::User,
    name: &str,
    object: Option<(&str, &str)>,
) -> Result<bool, ApiError> {
    let (function, arg) = name.split_once(':').unwrap_or((name, ""));
    if user.is_superuser && function.starts_with("has_") {
        return Ok(true);
    }
    match function {
        "has_model_perms" | "has_model_or_domain_perms" => holds(ctx, user.id, arg, None).await,
        "has_obj_perms" | "has_model_or_obj_perms" | "has_model_or_domain_or_obj_perms" => {
            holds(ctx, user.id, arg, object).await
        }
        "has_domain_perms" => Ok(false),
        other => {
            tracing::debug!(
                condition = other,
                "unknown access-policy condition: refused"
            );
            Ok(false)
        }
    }
}

/// Decides a request to `viewset`'s operation `op` (ids from the path) by its
/// policy, and sets `ctx.scope` from its queryset scoping: 403 when refused, 404 for an object
/// the user may not see.
pub async fn authorize(
    ctx: &mut Ctx,
    method: &str,
    viewset: &str,
    op: &crate::openapi::Op,
    ids: &[&str],
) -> Result<(), ApiError> {
    let Some(user) = ctx.user.clone() else {
        return Err(ApiError::Unauthenticated(
            "Authentication credentials were not provided.",
        ));
    };
    let (Some(policy), Some(decl)) = (
        ctx.state.policies.get(&ctx.state.db, viewset).await?,
        declared(ctx, viewset).copied(),
    ) else {
        return if user.is_superuser {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        };
    };
    if policy.queryset_scoping.is_some()
        && !user.is_superuser
        && !holds(ctx, user.id, decl.view_permission, None).await?
    {
        let ids =
            rbac::objects_with(&ctx.state.db, user.id, decl.view_permission, decl.prn_type).await?;
        ctx.scope = Scope::Only(ids);
    }
    let object = ids.first().copied();
    if let Some(id) = object
        && !ctx.scope.sees(id)
    {
        return Err(ApiError::not_found(decl.model));
    }
    let action = op
        .action
        .map(str::to_owned)
        .or_else(|| action_of(viewset, &op.id))
        .unwrap_or_default();
    let groups = if user.is_superuser {
        Vec::new()
    } else {
        rbac::groups_of(&ctx.state.db, user.id)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect()
    };
    let who = Principal {
        authenticated: true,
        superuser: user.is_superuser,
        staff: user.is_staff,
        id: Some(user.id),
        groups,
    };
    let target = object.map(|id| (decl.prn_type, id));
    let mut held = Vec::new();
    for s in policy.candidates(&who, &action, method) {
        let mut values = std::collections::HashMap::new();
        for name in s.condition_names() {
            let v = condition(ctx, &user, &name, target).await?;
            values.insert(name, v);
        }
        held.push((s, s.holds(&|n| values.get(n).copied().unwrap_or(false))));
    }
    if decide(&held) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Runs `viewset`'s creation hooks for object `id` its user just created: the roles
/// `add_roles_for_object_creator` names, on the object. A superuser's creations get none:
/// they pass every check anyway, and dispatching a task stays one write.
pub async fn created(ctx: &Ctx, viewset: &str, id: &str) -> Result<(), ApiError> {
    let (Some(user), Some(decl)) = (&ctx.user, declared(ctx, viewset)) else {
        return Ok(());
    };
    if user.is_superuser {
        return Ok(());
    }
    let Some(policy) = ctx.state.policies.get(&ctx.state.db, viewset).await? else {
        return Ok(());
    };
    let names = policy.creator_roles();
    if names.is_empty() {
        return Ok(());
    }
    for role in rbac::roles(&ctx.state.db, Some(&names)).await? {
        rbac::assign(
            &ctx.state.db,
            Holder::User(user.id),
            &role.id,
            Some((decl.prn_type, id)),
        )
        .await?;
    }
    Ok(())
}

/// `GET <object>/my_permissions/`: the permissions the user holds on the object (a superuser:
/// every permission of its model).
pub async fn my_permissions(ctx: &Ctx, viewset: &str, id: &str) -> Result<Response, ApiError> {
    let Some(decl) = declared(ctx, viewset).copied() else {
        return Err(ApiError::Forbidden);
    };
    let Some(user) = &ctx.user else {
        return Err(ApiError::Forbidden);
    };
    let model = decl.prn_type.rsplit('.').next().unwrap_or("");
    let mut perms: Vec<String> = if user.is_superuser {
        let p = &ctx.state.platform;
        p.roles
            .iter()
            .flat_map(|r| r.permissions.iter())
            .chain(p.permissions.iter().map(|x| &x.name))
            .filter(|n| n.ends_with(&format!("_{model}")))
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        rbac::permissions_on(&ctx.state.db, user.id, (decl.prn_type, id)).await?
    };
    perms.sort();
    perms.dedup();
    Ok(ok(&json!({ "permissions": perms })))
}

fn policy_json(ctx: &Ctx, r: &PolicyRow) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let hooks = parse(&r.creation_hooks);
    json!({
        "pulp_href": format!("{}access_policies/{}/", ctx.v3(), r.id),
        "prn": format!("prn:core.accesspolicy:{}", r.id),
        "pulp_created": to_rfc3339(r.created),
        "pulp_last_updated": to_rfc3339(r.updated),
        "permissions_assignment": hooks,
        "creation_hooks": hooks,
        "statements": parse(&r.statements),
        "viewset_name": r.viewset_name,
        "customized": r.customized,
        "queryset_scoping": r.queryset_scoping.as_deref().map(parse),
    })
}

/// Filters of `access_policies/`.
pub const FILTERS: [&str; 5] = [
    "viewset_name",
    "viewset_name__contains",
    "viewset_name__icontains",
    "viewset_name__startswith",
    "customized",
];

/// `GET access_policies/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &["viewset_name", "pulp_created", "pk"])?;
    let mut all = access_policies::all(&ctx.state.db).await?;
    for (k, v) in &p.filters {
        match k.as_str() {
            "viewset_name" => all.retain(|r| r.viewset_name == *v),
            "viewset_name__contains" => all.retain(|r| r.viewset_name.contains(v.as_str())),
            "viewset_name__icontains" => {
                all.retain(|r| r.viewset_name.to_lowercase().contains(&v.to_lowercase()))
            }
            "viewset_name__startswith" => all.retain(|r| r.viewset_name.starts_with(v.as_str())),
            _ => {
                let b = listing::boolean(k, v)?;
                all.retain(|r| r.customized == b)
            }
        }
    }
    Ok(ok(&listing::page_of(req, &p, &all, |r| {
        policy_json(ctx, r)
    })))
}

async fn load(ctx: &Ctx, id: &str) -> Result<PolicyRow, ApiError> {
    let id = super::parse_id(id, "AccessPolicy")?.to_string();
    access_policies::all(&ctx.state.db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found("AccessPolicy"))
}

/// `GET access_policies/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    Ok(ok(&listing::select_from_query(policy_json(ctx, &r), req)))
}

/// `PUT`/`PATCH access_policies/<id>/`: replaces the parts given; the policy is customized.
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let r = load(ctx, id).await?;
    let mut current: Policy = serde_json::from_str(&r.policy_json()).unwrap_or_default();
    let mut errs = FieldErrors::default();
    for (k, v) in &body {
        match k.as_str() {
            "statements" => match serde_json::from_value(v.clone()) {
                Ok(s) => current.statements = s,
                Err(e) => errs.add(k, format!("Invalid statements: {e}")),
            },
            "creation_hooks" | "permissions_assignment" => match v {
                Value::Array(a) => current.creation_hooks = a.clone(),
                Value::Null => current.creation_hooks = Vec::new(),
                _ => errs.add(k, "Expected a list of items."),
            },
            "queryset_scoping" => match v {
                Value::Object(_) | Value::Null => {
                    current.queryset_scoping = (!v.is_null()).then(|| v.clone())
                }
                _ => errs.add(k, "Value must be valid JSON."),
            },
            _ => errs.add(k, "Unexpected field"),
        }
    }
    if !partial && !body.contains_key("statements") {
        errs.add("statements", "This field is required.");
    }
    errs.into_result()?;
    let (s, h, q) = parts(&current);
    access_policies::save(
        &ctx.state.db,
        &r.viewset_name,
        (&s, &h, q.as_deref()),
        true,
        false,
    )
    .await?;
    ctx.state.policies.reload(&ctx.state.db).await?;
    Ok(ok(&policy_json(ctx, &load(ctx, id).await?)))
}

/// `POST access_policies/<id>/reset/`: back to the viewset's default.
pub async fn reset(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let r = load(ctx, id).await?;
    let Some(decl) = declared(ctx, &r.viewset_name) else {
        return Err(ApiError::not_found("AccessPolicy"));
    };
    let policy: Policy = serde_json::from_str(decl.default)
        .map_err(|e| ApiError::Internal(format!("default policy of {}: {e}", decl.viewset_name)))?;
    let (s, h, q) = parts(&policy);
    access_policies::save(
        &ctx.state.db,
        &r.viewset_name,
        (&s, &h, q.as_deref()),
        false,
        false,
    )
    .await?;
    ctx.state.policies.reload(&ctx.state.db).await?;
    Ok(ok(&policy_json(ctx, &load(ctx, id).await?)))
}
