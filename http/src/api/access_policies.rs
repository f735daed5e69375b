//! `access_policies/` (Pulp's `AccessPolicyViewSet`: list, read, update, `reset/`) and what
//! the router asks of a viewset's policy on every request ([`authorize`]), with the
//! permission conditions the policies name, the creation hooks and queryset scoping.

use pith_entities::access_policies::{self, PolicyRow};
use pith_entities::rbac;
use pith_entities::time::to_rfc3339;
use serde_json::{Value, json};

use super::{Ctx, Scope, Seen, ok};
use crate::access_policy::{Policy, Principal, Scoping, ViewSetPolicy, action_of, decide};
use crate::error::FieldErrors;
use crate::listing;
use crate::request::Response;
use crate::{ApiError, Req};

/// The default policy of core's content-guard type at `contentguards/core/<$path>` (model
/// `$m`, lower case): every type's is the same but for `$extra` statements and the creator's
/// `$roles` (JSON strings).
macro_rules! guard_policy {
    ($path:literal, $m:literal, $model:literal, $extra:literal, $roles:literal) => {
        ViewSetPolicy {
            viewset_name: concat!("contentguards/core/", $path),
            prn_type: concat!("core.", $m),
            model: $model,
            view_permission: concat!("core.view_", $m),
            scoping: Scoping::ViewPermission,
            default: concat!(
                r#"{"statements": [
                {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
                {"action": ["create"], "principal": "authenticated", "effect": "allow",
                 "condition": "has_model_or_domain_perms:core.add_"#,
                $m,
                r#""},
                {"action": ["update", "partial_update"], "principal": "authenticated", "effect": "allow",
                 "condition": "has_model_or_domain_or_obj_perms:core.change_"#,
                $m,
                r#""},
                {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
                 "condition": "has_model_or_domain_or_obj_perms:core.delete_"#,
                $m,
                r#""},"#,
                $extra,
                r#"
                {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
                 "condition": "has_model_or_domain_or_obj_perms:core.manage_roles_"#,
                $m,
                r#""}],
              "creation_hooks": [{"function": "add_roles_for_object_creator", "parameters": {"roles": ["#,
                $roles,
                r#"]}}],
              "queryset_scoping": {"function": "scope_queryset"}}"#
            ),
        }
    };
}

/// The default policy of the lists over every type of a master model: any authenticated user
/// lists, and sees what each type's own policy shows them.
const MASTER_LIST: &str = r#"{"statements": [
    {"action": ["list"], "principal": "authenticated", "effect": "allow"}],
  "creation_hooks": [], "queryset_scoping": {"function": "scope_queryset"}}"#;

/// The default policies core declares (pulpcore's viewsets' `DEFAULT_ACCESS_POLICY`), for the
/// viewsets whose handlers apply their scoping.
pub const CORE_POLICIES: &[ViewSetPolicy] = &[
    ViewSetPolicy {
        viewset_name: "uploads",
        prn_type: "core.upload",
        model: "Upload",
        view_permission: "core.view_upload",
        scoping: Scoping::ViewPermission,
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
        scoping: Scoping::ViewPermission,
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
        viewset_name: "groups",
        prn_type: "core.group",
        model: "Group",
        view_permission: "core.view_group",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_perms:core.add_group"},
            {"action": ["update", "partial_update"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_obj_perms:core.change_group"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_obj_perms:core.delete_group"},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_obj_perms:core.manage_roles_group"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator", "parameters": {"roles": "core.group_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    // A group's members: decided by the permissions on the group in the URL.
    ViewSetPolicy {
        viewset_name: "groups/users",
        prn_type: "core.group",
        model: "User",
        view_permission: "core.view_group",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list"], "principal": "authenticated", "effect": "allow",
             "condition": "has_group_model_or_obj_perms:core.view_group"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": "has_group_model_or_obj_perms:core.change_group"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": "has_group_model_or_obj_perms:core.change_group"}],
          "creation_hooks": []}"#,
    },
    ViewSetPolicy {
        viewset_name: "login",
        prn_type: "auth.user",
        model: "User",
        view_permission: "auth.view_user",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["*"], "principal": "authenticated", "effect": "allow"}],
          "creation_hooks": []}"#,
    },
    // The lists of every type of a master model (pulpcore's `List…ViewSet`s).
    ViewSetPolicy {
        viewset_name: "remotes",
        prn_type: "core.remote",
        model: "Remote",
        view_permission: "core.view_remote",
        scoping: Scoping::Children,
        default: MASTER_LIST,
    },
    ViewSetPolicy {
        viewset_name: "repositories",
        prn_type: "core.repository",
        model: "Repository",
        view_permission: "core.view_repository",
        scoping: Scoping::Children,
        default: MASTER_LIST,
    },
    ViewSetPolicy {
        viewset_name: "publications",
        prn_type: "core.publication",
        model: "Publication",
        view_permission: "core.view_publication",
        scoping: Scoping::Children,
        default: MASTER_LIST,
    },
    ViewSetPolicy {
        viewset_name: "distributions",
        prn_type: "core.distribution",
        model: "Distribution",
        view_permission: "core.view_distribution",
        scoping: Scoping::Children,
        default: MASTER_LIST,
    },
    ViewSetPolicy {
        viewset_name: "contentguards",
        prn_type: "core.contentguard",
        model: "ContentGuard",
        view_permission: "core.view_contentguard",
        scoping: Scoping::Children,
        default: MASTER_LIST,
    },
    ViewSetPolicy {
        viewset_name: "content",
        prn_type: "core.content",
        model: "Content",
        view_permission: "core.view_content",
        scoping: Scoping::Repositories,
        default: MASTER_LIST,
    },
    // Content guards (pulpcore's `…ContentGuardViewSet`s).
    guard_policy!(
        "rbac",
        "rbaccontentguard",
        "RBACContentGuard",
        r#"{"action": ["download"], "principal": "authenticated", "effect": "allow",
            "condition": "has_model_or_domain_or_obj_perms:core.download_rbaccontentguard"},"#,
        r#""core.rbaccontentguard_owner", "core.rbaccontentguard_downloader""#
    ),
    guard_policy!(
        "content_redirect",
        "contentredirectcontentguard",
        "ContentRedirectContentGuard",
        "",
        r#""core.contentredirectcontentguard_owner""#
    ),
    guard_policy!(
        "header",
        "headercontentguard",
        "HeaderContentGuard",
        "",
        r#""core.headercontentguard_owner""#
    ),
    guard_policy!(
        "envvar_header",
        "envvarheadercontentguard",
        "EnvVarHeaderContentGuard",
        "",
        r#""core.envvarheadercontentguard_owner""#
    ),
    guard_policy!(
        "composite",
        "compositecontentguard",
        "CompositeContentGuard",
        "",
        r#""core.compositecontentguard_owner""#
    ),
    ViewSetPolicy {
        viewset_name: "artifacts",
        prn_type: "core.artifact",
        model: "Artifact",
        view_permission: "core.view_artifact",
        // No statement allows `destroy`: in Pulp 3.123 nobody deletes an artifact through the
        // API, superusers included (orphan cleanup does).
        scoping: Scoping::ViewPermission,
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

/// What a condition may look at besides the user: the viewset's declaration, the ids in the
/// URL, the action, and the request (whose body is read only when a condition names one of
/// its parameters).
struct Facts<'a, 'r> {
    decl: ViewSetPolicy,
    ids: &'a [&'a str],
    action: &'a str,
    req: &'r mut Req,
}

/// One condition's value (`has_model_perms:core.add_upload`). A superuser passes every
/// permission condition; an unknown condition holds for nobody else.
async fn condition(
    ctx: &Ctx,
    user: &crate::auth::User,
    name: &str,
    facts: &mut Facts<'_, '_>,
) -> Result<bool, ApiError> {
    let (function, arg) = name.split_once(':').unwrap_or((name, ""));
    if user.is_superuser && function.starts_with("has_") {
        return Ok(true);
    }
    // The object in the URL; below a repository (its versions) that is the repository,
    // whose type the versions' declaration names.
    let object = facts.ids.first().map(|id| (facts.decl.prn_type, *id));
    match function {
        "has_model_perms" | "has_model_or_domain_perms" => holds(ctx, user.id, arg, None).await,
        "has_obj_perms"
        | "has_model_or_obj_perms"
        | "has_model_or_domain_or_obj_perms"
        | "has_repository_obj_perms"
        | "has_repository_model_or_obj_perms"
        | "has_repository_model_or_domain_or_obj_perms"
        | "has_group_obj_perms"
        | "has_group_model_or_obj_perms" => holds(ctx, user.id, arg, object).await,
        "has_domain_perms" => Ok(false),
        "has_remote_param_obj_perms" => {
            param_perms(ctx, user, facts, &["remote"], arg, false).await
        }
        "has_remote_param_model_or_obj_perms" | "has_remote_param_model_or_domain_or_obj_perms" => {
            param_perms(ctx, user, facts, &["remote"], arg, true).await
        }
        "has_repo_or_repo_ver_param_model_or_obj_perms"
        | "has_repo_or_repo_ver_param_model_or_domain_or_obj_perms" => {
            let names = ["repository", "repository_version"];
            param_perms(ctx, user, facts, &names, arg, true).await
        }
        "has_publication_param_model_or_obj_perms"
        | "has_publication_param_model_or_domain_or_obj_perms" => {
            param_perms(ctx, user, facts, &["publication"], arg, true).await
        }
        "has_upload_param_model_or_obj_perms" | "has_upload_param_model_or_domain_or_obj_perms" => {
            param_perms(ctx, user, facts, &["upload"], arg, true).await
        }
        "has_required_repo_perms_on_upload" => required_repo_perms(ctx, user, facts, arg).await,
        other => {
            tracing::debug!(
                condition = other,
                "unknown access-policy condition: refused"
            );
            Ok(false)
        }
    }
}

/// The request body's fields, read (once) for a condition.
async fn body_fields(
    ctx: &Ctx,
    facts: &mut Facts<'_, '_>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let max = ctx.state.config.max_json_body;
    facts.req.fields(max, 65536).await
}

/// The object a request parameter names (an href or a PRN) as `(PRN type, id)`, when it is
/// one of a viewset with a declared policy; a repository version stands for its repository.
fn object_of_ref(ctx: &Ctx, reference: &str) -> Option<(&'static str, String)> {
    let policies = &ctx.state.platform.access_policies;
    if let Some(rest) = reference.strip_prefix("prn:") {
        let (kind, id) = rest.split_once(':')?;
        let kind = policies.iter().find(|p| p.prn_type == kind)?.prn_type;
        return Some((kind, id.to_owned()));
    }
    let rest = &reference[reference.find("/api/v3/")? + "/api/v3/".len()..];
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let at = segs.iter().position(|s| uuid::Uuid::parse_str(s).is_ok())?;
    let collection = segs[..at].join("/");
    let kind = policies
        .iter()
        .find(|p| p.viewset_name == collection)?
        .prn_type;
    Some((kind, segs[at].to_owned()))
}

/// Whether the user holds one of `perms` (comma-separated) on the object the first present
/// parameter of `names` refers to — or, with `model`, model-wide. No such parameter: holds
/// (nothing to check). A reference this server cannot resolve holds too: the handler's
/// validation answers it with Pulp's 400.
async fn param_perms(
    ctx: &Ctx,
    user: &crate::auth::User,
    facts: &mut Facts<'_, '_>,
    names: &[&str],
    perms: &str,
    model: bool,
) -> Result<bool, ApiError> {
    let perms: Vec<&str> = perms.split(',').map(str::trim).collect();
    if model {
        for p in &perms {
            if holds(ctx, user.id, p, None).await? {
                return Ok(true);
            }
        }
    }
    let fields = body_fields(ctx, facts).await?;
    let Some(reference) = names.iter().find_map(|n| {
        fields
            .get(*n)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }) else {
        return Ok(true);
    };
    let Some((kind, id)) = object_of_ref(ctx, reference) else {
        return Ok(true);
    };
    for p in perms {
        if holds(ctx, user.id, p, Some((kind, &id))).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Pulp's `has_required_repo_perms_on_upload`: content made by someone other than a
/// superuser must go into a repository (else nobody but superusers could see it) on which
/// they hold `perm`; labels on it need `core.manage_content_labels`. Both refusals are 400s
/// with Pulp's messages, not 403s.
async fn required_repo_perms(
    ctx: &Ctx,
    user: &crate::auth::User,
    facts: &mut Facts<'_, '_>,
    perm: &str,
) -> Result<bool, ApiError> {
    let fields = body_fields(ctx, facts).await?;
    let Some(repo) = fields
        .get("repository")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::BadRequest(json!([
            "Destination upload repository was not provided."
        ])));
    };
    let labelled = match fields.get("pulp_labels") {
        Some(Value::String(s)) => !s.trim().is_empty() && s.trim() != "{}",
        Some(Value::Object(m)) => !m.is_empty(),
        _ => false,
    };
    if facts.action == "create"
        && labelled
        && !holds(ctx, user.id, "core.manage_content_labels", None).await?
    {
        return Err(ApiError::BadRequest(json!([
            "pulp_labels cannot be specified by users who do not have the core.manage_labels permission."
        ])));
    }
    if holds(ctx, user.id, perm, None).await? {
        return Ok(true);
    }
    match object_of_ref(ctx, repo) {
        Some((kind, id)) => holds(ctx, user.id, perm, Some((kind, &id))).await,
        None => Ok(true),
    }
}

/// Decides a request to `viewset`'s operation `op` (ids from the path) by its
/// policy, and sets `ctx.scope` from its queryset scoping: 403 when refused, 404 for an object
/// the user may not see.
pub async fn authorize(
    ctx: &mut Ctx,
    req: &mut Req,
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
    if policy.queryset_scoping.is_some() && !user.is_superuser {
        ctx.scope = scope_for(ctx, user.id, &decl).await?;
    }
    if let Some(id) = ids.first().copied()
        && !sees(ctx, id).await?
    {
        return Err(ApiError::not_found(decl.model));
    }
    let action = op
        .action
        .map(str::to_owned)
        .or_else(|| action_of(viewset, &op.id))
        .unwrap_or_default();
    // Groups matter only to statements that name one (`group:<name>`): read them only then.
    let groups = if user.is_superuser || !policy.names_groups() {
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
    let method = req.method.as_str().to_owned();
    let mut facts = Facts {
        decl,
        ids,
        action: &action,
        req,
    };
    let mut held = Vec::new();
    for s in policy.candidates(&who, &action, &method) {
        let mut values = std::collections::HashMap::new();
        for name in s.condition_names() {
            let v = condition(ctx, &user, &name, &mut facts).await?;
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

/// What `user` (not a superuser) may see of viewset `decl`'s objects.
async fn scope_for(ctx: &Ctx, user: i64, decl: &ViewSetPolicy) -> Result<Scope, ApiError> {
    let db = &ctx.state.db;
    match decl.scoping {
        Scoping::ViewPermission => Ok(
            match rbac::visible_objects(db, user, decl.view_permission, decl.prn_type).await? {
                None => Scope::All,
                Some(ids) => Scope::Only(ids),
            },
        ),
        Scoping::Repositories => {
            let mut seen = Seen::default();
            for rv in &ctx.state.platform.repositories {
                let repos = rv.repositories.detail;
                let Some(p) = declared(ctx, repos.collection) else {
                    continue;
                };
                match rbac::visible_objects(db, user, p.view_permission, p.prn_type).await? {
                    None => seen.types.push(repos.pulp_type.to_owned()),
                    Some(ids) => seen.ids.extend(ids),
                }
            }
            Ok(Scope::InRepositories(seen))
        }
        Scoping::Children => {
            let p = &ctx.state.platform;
            let children = p
                .types
                .remotes
                .iter()
                .chain(p.repositories.iter().map(|r| &r.repositories.detail))
                .chain(&p.types.publications)
                .chain(&p.types.distributions)
                .chain(p.content_guards.iter().map(|g| &g.viewset.detail))
                .filter(|d| {
                    d.collection
                        .strip_prefix(decl.viewset_name)
                        .is_some_and(|rest| rest.starts_with('/'))
                });
            let mut seen = Seen::default();
            for d in children {
                let Some(child) = declared(ctx, d.collection) else {
                    continue;
                };
                match rbac::visible_objects(db, user, child.view_permission, child.prn_type).await?
                {
                    None => seen.types.push(d.pulp_type.to_owned()),
                    Some(ids) => seen.ids.extend(ids),
                }
            }
            Ok(Scope::Among(seen))
        }
    }
}

/// Whether object `id` of the current viewset is within `ctx.scope`.
async fn sees(ctx: &Ctx, id: &str) -> Result<bool, ApiError> {
    Ok(match &ctx.scope {
        Scope::InRepositories(seen) => {
            pith_entities::content::in_repositories(&ctx.state.db, id, &seen.types, &seen.ids)
                .await?
        }
        other => other.sees(id),
    })
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
    // The API node has the policy cached (and refreshed when it changes).
    let Some(policy) = ctx.state.policies.get(&ctx.state.db, viewset).await? else {
        return Ok(());
    };
    let names = policy.creator_roles();
    let object = (decl.prn_type, id);
    Ok(access_policies::grant_creator_roles(&ctx.state.db, user.id, &names, object).await?)
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
    super::roles::must_exist(ctx, viewset, decl.prn_type, id).await?;
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
    // Read-only fields (`customized`, `viewset_name`, …) and unknown ones are ignored, as
    // DRF ignores them; a change of any writable field makes the policy customized.
    let mut changed = false;
    for (k, v) in &body {
        changed |= matches!(
            k.as_str(),
            "statements" | "creation_hooks" | "permissions_assignment" | "queryset_scoping"
        );
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
            _ => {}
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
        changed || r.customized,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_defaults_are_policies() {
        for p in CORE_POLICIES {
            let policy: Result<Policy, _> = serde_json::from_str(p.default);
            let policy = policy.unwrap_or_else(|e| panic!("{}: {e}", p.viewset_name));
            assert!(!policy.statements.is_empty(), "{}", p.viewset_name);
        }
        let rbac = CORE_POLICIES
            .iter()
            .find(|p| p.viewset_name == "contentguards/core/rbac")
            .unwrap();
        let policy: Policy = serde_json::from_str(rbac.default).unwrap();
        assert_eq!(
            policy.creator_roles(),
            [
                "core.rbaccontentguard_owner",
                "core.rbaccontentguard_downloader"
            ]
        );
        assert_eq!(rbac.view_permission, "core.view_rbaccontentguard");
    }
}
