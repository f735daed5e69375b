//! Core's endpoints (Pulp's `pulpcore/app/urls.py`), and the standard endpoints core builds
//! for each remote, repository, publication and distribution type a plugin declares (Pulp's
//! `NamedModelViewSet`s with their `endpoint_name`): every row with its methods, handler and
//! OpenAPI operation, so router, schema and metrics read one table.

use serde_json::json;
use warp::http::Method as M;

use crate::api::{
    artifacts, content, content_guards, orphans, publishing, remotes, repositories as repos, roles,
    status, tasks, testing, uploads, users, workers,
};
use crate::openapi::{Body, filter_param, label, list, op, read, updates};
use crate::plugin::{ContentGuardType, RepositoryViewSet, ViewSet};
use crate::router::{Endpoint, handler, template};

const ONE: &[&str] = &["pulp_id"];

/// The id at `i` in a matched path (the template guarantees it is there).
fn id<'a>(ids: &[&'a str], i: usize) -> &'a str {
    ids.get(i).copied().unwrap_or("")
}

/// Core's own endpoints.
pub fn core_endpoints() -> Vec<Endpoint> {
    let task_filters = tasks::filter_names();
    let task_filters: Vec<&str> = task_filters.iter().map(String::as_str).collect();
    let mut task_list = list(
        "tasks",
        "Tasks",
        "TaskResponse",
        &task_filters,
        &tasks::ORDERABLE,
    );
    task_list.params.push(filter_param("minimal"));
    let mut test = Endpoint::new("pith/test/tasks/").on(
        op(M::POST, "pith_test_tasks_create", "Pith: Test")
            .body("TestTask", Body::Any)
            .task(),
        handler(|c, r, _| Box::pin(testing::dispatch(c, r))),
    );
    test.test_only = true;
    vec![
        Endpoint::new("").open().on(
            op(M::GET, "api_root_read", "Api Root").answers(200, None),
            handler(|c, r, _| Box::pin(async move { Ok(status::root(c, r)) })),
        ),
        Endpoint::new("status/").open().on(
            op(M::GET, "status_read", "Status").answers(200, Some("StatusResponse")),
            handler(|c, _, _| Box::pin(status::status(c))),
        ),
        Endpoint::new("livez/").open().on(
            op(M::GET, "livez_read", "Livez").answers(200, None),
            handler(|_, _, _| Box::pin(async { Ok(status::livez()) })),
        ),
        Endpoint::new("docs/").open().on(
            op(M::GET, "docs_read", "Docs").answers(200, None),
            handler(|_, _, _| Box::pin(async { Ok(crate::openapi::docs_page()) })),
        ),
        Endpoint::new("docs/api.json").open().on(
            op(M::GET, "docs_api_json_read", "Docs").answers(200, None),
            handler(|c, r, _| Box::pin(async move { crate::openapi::serve(c, r, false) })),
        ),
        Endpoint::new("docs/api.yaml").open().on(
            op(M::GET, "docs_api_yaml_read", "Docs").answers(200, None),
            handler(|c, r, _| Box::pin(async move { crate::openapi::serve(c, r, true) })),
        ),
        Endpoint::new("tasks/")
            .policy("tasks")
            .on(task_list, handler(|c, r, _| Box::pin(tasks::list(c, r)))),
        Endpoint::new("tasks/purge/").policy("tasks").on(
            op(M::POST, "tasks_purge", "Tasks")
                .body("Purge", Body::Any)
                .task(),
            handler(|c, r, _| Box::pin(tasks::purge(c, r))),
        ),
        Endpoint::new("tasks/{}/my_permissions/")
            .href("task_href", ONE)
            .policy("tasks")
            .on(
                op(M::GET, "tasks_my_permissions", "Tasks")
                    .answers(200, Some("MyPermissionsResponse")),
                handler(|c, _, i| {
                    Box::pin(crate::api::access_policies::my_permissions(c, "tasks", id(i, 0)))
                }),
            ),
        Endpoint::new("tasks/{}/")
            .href("task_href", ONE)
            .policy("tasks")
            .on(
                read("tasks", "Tasks", "TaskResponse"),
                handler(|c, r, i| Box::pin(tasks::read(c, r, id(i, 0)))),
            )
            .on(
                op(M::PATCH, "tasks_cancel", "Tasks")
                    .action("partial_update")
                    .body("PatchedTaskCancel", Body::Any)
                    .answers(200, Some("TaskResponse"))
                    .answers(409, Some("TaskResponse")),
                handler(|c, r, i| Box::pin(tasks::cancel(c, r, id(i, 0)))),
            )
            .on(
                op(M::DELETE, "tasks_delete", "Tasks").answers(204, None),
                handler(|c, _, i| Box::pin(tasks::delete(c, id(i, 0)))),
            ),
        Endpoint::new("workers/").on(
            list(
                "workers",
                "Workers",
                "WorkerResponse",
                &workers::FILTERS,
                &workers::ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(workers::list(c, r))),
        ),
        Endpoint::new("workers/{}/").href("worker_href", ONE).on(
            read("workers", "Workers", "WorkerResponse"),
            handler(|c, r, i| Box::pin(workers::read(c, r, id(i, 0)))),
        ),
        Endpoint::new("artifacts/")
            .policy("artifacts")
            .on(
                list(
                    "artifacts",
                    "Artifacts",
                    "ArtifactResponse",
                    &artifacts::FILTERS,
                    &artifacts::ORDERABLE,
                ),
                handler(|c, r, _| Box::pin(artifacts::list(c, r))),
            )
            .on(
                op(M::POST, "artifacts_create", "Artifacts")
                    .body("Artifact", Body::Form)
                    .answers(201, Some("ArtifactResponse")),
                handler(|c, r, _| Box::pin(artifacts::create(c, r))),
            ),
        Endpoint::new("artifacts/{}/")
            .policy("artifacts")
            .href("artifact_href", ONE)
            .on(
                read("artifacts", "Artifacts", "ArtifactResponse"),
                handler(|c, r, i| Box::pin(artifacts::read(c, r, id(i, 0)))),
            )
            .on(
                op(M::DELETE, "artifacts_delete", "Artifacts").answers(204, None),
                handler(|c, _, i| Box::pin(artifacts::delete(c, id(i, 0)))),
            ),
        Endpoint::new("content/").policy("content").on(
            list(
                "content",
                "Content",
                "MultipleArtifactContentResponse",
                &content::FILTERS,
                &content::ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(content::list(c, r))),
        ),
        Endpoint::new("orphans/cleanup/").on(
            op(M::POST, "orphans_cleanup_cleanup", "Orphans: Cleanup")
                .body("OrphansCleanup", Body::Any)
                .task(),
            handler(|c, r, _| Box::pin(orphans::cleanup(c, r))),
        ),
        Endpoint::new("orphans/").on(
            op(M::DELETE, "orphans_delete", "Orphans").task(),
            handler(|c, r, _| Box::pin(orphans::cleanup(c, r))),
        ),
        Endpoint::new("repository_versions/").on(
            list(
                "repository_versions",
                "Repository Versions",
                "RepositoryVersionResponse",
                &repos::VERSION_FILTERS,
                &repos::VERSION_ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(repos::list_versions(c, r, None))),
        ),
        Endpoint::new("uploads/")
            .policy("uploads")
            .on(
                list(
                    "uploads",
                    "Uploads",
                    "UploadResponse",
                    &uploads::FILTERS,
                    &uploads::ORDERABLE,
                ),
                handler(|c, r, _| Box::pin(uploads::list(c, r))),
            )
            .on(
                op(M::POST, "uploads_create", "Uploads")
                    .body("Upload", Body::Any)
                    .answers(201, Some("UploadResponse")),
                handler(|c, r, _| Box::pin(uploads::create(c, r))),
            ),
        Endpoint::new("uploads/{}/")
            .policy("uploads")
            .href("upload_href", ONE)
            .on(
                read("uploads", "Uploads", "UploadDetailResponse"),
                handler(|c, r, i| Box::pin(uploads::read(c, r, id(i, 0)))),
            )
            .on(
                op(M::PUT, "uploads_update", "Uploads")
                    .params(vec![json!({"name": "Content-Range", "in": "header", "required": true,
                                        "description": "The range of the upload this chunk holds: `bytes <start>-<end>/<total or *>`.",
                                        "schema": {"type": "string"}})])
                    .body("UploadChunk", Body::Form)
                    .answers(200, Some("UploadResponse")),
                handler(|c, r, i| Box::pin(uploads::put_chunk(c, r, id(i, 0)))),
            )
            .on(
                op(M::DELETE, "uploads_delete", "Uploads").answers(204, None),
                handler(|c, _, i| Box::pin(uploads::delete(c, id(i, 0)))),
            ),
        Endpoint::new("uploads/{}/my_permissions/")
            .href("upload_href", ONE)
            .policy("uploads")
            .on(
                op(M::GET, "uploads_my_permissions", "Uploads")
                    .answers(200, Some("MyPermissionsResponse")),
                handler(|c, _, i| {
                    Box::pin(crate::api::access_policies::my_permissions(c, "uploads", id(i, 0)))
                }),
            ),
        Endpoint::new("uploads/{}/commit/").href("upload_href", ONE).policy("uploads").on(
            op(M::POST, "uploads_commit", "Uploads")
                .body("UploadCommit", Body::Any)
                .task(),
            handler(|c, r, i| Box::pin(uploads::commit(c, r, id(i, 0)))),
        ),
        test,
    ]
    .into_iter()
    .chain(rbac_endpoints())
    .chain(object_role_endpoints(
        "uploads/{}/",
        "uploads",
        "Uploads",
        "upload_href",
        "core.upload",
        Some("uploads"),
    ))
    .chain(object_role_endpoints(
        "tasks/{}/",
        "tasks",
        "Tasks",
        "task_href",
        "core.task",
        Some("tasks"),
    ))
    .collect()
}

/// Synchronous list/create and read/update/delete endpoints of one collection (users, groups,
/// roles, content guards): `prefix` names the operations, `detail_param` the href parameter.
#[allow(clippy::too_many_arguments)]
fn crud(
    path: &'static str,
    prefix: &str,
    tag: &'static str,
    serializer: &'static str,
    detail_param: &'static str,
    filters: &[&str],
    orderable: &[&str],
    h: [crate::router::Handler; 6],
) -> [Endpoint; 2] {
    let resp = format!("{serializer}Response");
    let [list_h, create_h, read_h, put_h, patch_h, delete_h] = h;
    [
        Endpoint::new(path)
            .on(list(prefix, tag, &resp, filters, orderable), list_h)
            .on(
                op(M::POST, &format!("{prefix}_create"), tag)
                    .body(serializer, Body::Any)
                    .answers(201, Some(&resp)),
                create_h,
            ),
        Endpoint::new(template(format!("{path}{{}}/")))
            .href(detail_param, ONE)
            .on(read(prefix, tag, &resp), read_h)
            .on(
                op(M::PUT, &format!("{prefix}_update"), tag)
                    .body(serializer, Body::Any)
                    .answers(200, Some(&resp)),
                put_h,
            )
            .on(
                op(M::PATCH, &format!("{prefix}_partial_update"), tag)
                    .body(&format!("Patched{serializer}"), Body::Any)
                    .answers(200, Some(&resp)),
                patch_h,
            )
            .on(
                op(M::DELETE, &format!("{prefix}_delete"), tag).answers(204, None),
                delete_h,
            ),
    ]
}

/// Role assignments of users or groups: `<collection>/<id>/roles/` and `…/roles/<id>/`.
fn assignment_endpoints(
    whose: roles::Whose,
    prefix: &str,
    tag: &'static str,
    param: &'static str,
    serializer: &'static str,
) -> [Endpoint; 2] {
    let resp = format!("{serializer}Response");
    let collection = if whose == roles::Whose::User {
        "users"
    } else {
        "groups"
    };
    let two: &'static [&'static str] = &["id", "pulp_id"];
    [
        Endpoint::new(template(format!("{collection}/{{}}/roles/")))
            .href(param, ONE)
            .on(
                list(
                    prefix,
                    tag,
                    &resp,
                    &[
                        "role",
                        "role__in",
                        "role__contains",
                        "role__icontains",
                        "role__startswith",
                        "content_object",
                    ],
                    &["role", "pulp_created", "pk"],
                ),
                handler(move |c, r, i| Box::pin(roles::list_assigned(c, r, whose, id(i, 0)))),
            )
            .on(
                op(M::POST, &format!("{prefix}_create"), tag)
                    .body(serializer, Body::Any)
                    .answers(201, Some(&resp)),
                handler(move |c, r, i| Box::pin(roles::assign(c, r, whose, id(i, 0)))),
            ),
        Endpoint::new(template(format!("{collection}/{{}}/roles/{{}}/")))
            .href(
                if whose == roles::Whose::User {
                    "auth_users_user_role_href"
                } else {
                    "groups_group_role_href"
                },
                two,
            )
            .on(
                read(prefix, tag, &resp),
                handler(move |c, r, i| {
                    Box::pin(roles::read_assigned(c, r, whose, id(i, 0), id(i, 1)))
                }),
            )
            .on(
                op(M::DELETE, &format!("{prefix}_delete"), tag).answers(204, None),
                handler(move |c, _, i| Box::pin(roles::unassign(c, whose, id(i, 0), id(i, 1)))),
            ),
    ]
}

/// Users, groups, their members and roles, and roles.
fn rbac_endpoints() -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    out.extend(crud(
        "users/",
        "users",
        "Users",
        "User",
        "auth_user_href",
        &users::USER_FILTERS,
        &["username", "id", "pk", "date_joined"],
        [
            handler(|c, r, _| Box::pin(users::list(c, r))),
            handler(|c, r, _| Box::pin(users::create(c, r))),
            handler(|c, r, i| Box::pin(users::read(c, r, id(i, 0)))),
            handler(|c, r, i| Box::pin(users::update(c, r, id(i, 0), false))),
            handler(|c, r, i| Box::pin(users::update(c, r, id(i, 0), true))),
            handler(|c, _, i| Box::pin(users::delete(c, id(i, 0)))),
        ],
    ));
    // Groups are under Pulp's `groups` policy, with the role mixin and `my_permissions/`.
    out.extend(
        crud(
            "groups/",
            "groups",
            "Groups",
            "Group",
            "group_href",
            &users::GROUP_FILTERS,
            &["name", "id", "pk"],
            [
                handler(|c, r, _| Box::pin(users::list_groups(c, r))),
                handler(|c, r, _| Box::pin(users::create_group(c, r))),
                handler(|c, r, i| Box::pin(users::read_group(c, r, id(i, 0)))),
                handler(|c, r, i| Box::pin(users::update_group(c, r, id(i, 0), false))),
                handler(|c, r, i| Box::pin(users::update_group(c, r, id(i, 0), true))),
                handler(|c, _, i| Box::pin(users::delete_group(c, id(i, 0)))),
            ],
        )
        .into_iter()
        .map(|e| e.policy("groups")),
    );
    out.extend(object_role_endpoints(
        "groups/{}/",
        "groups",
        "Groups",
        "group_href",
        "core.group",
        Some("groups"),
    ));
    out.push(my_permissions_endpoint(
        "groups/{}/",
        "groups",
        "Groups",
        "group_href",
        "groups",
    ));
    out.extend(crud(
        "roles/",
        "roles",
        "Roles",
        "Role",
        "role_href",
        &roles::ROLE_FILTERS,
        &["name", "pulp_created", "pk"],
        [
            handler(|c, r, _| Box::pin(roles::list(c, r))),
            handler(|c, r, _| Box::pin(roles::create(c, r))),
            handler(|c, r, i| Box::pin(roles::read(c, r, id(i, 0)))),
            handler(|c, r, i| Box::pin(roles::update(c, r, id(i, 0), false))),
            handler(|c, r, i| Box::pin(roles::update(c, r, id(i, 0), true))),
            handler(|c, _, i| Box::pin(roles::delete(c, id(i, 0)))),
        ],
    ));
    let two: &'static [&'static str] = &["id", "user_id"];
    out.push(
        Endpoint::new("groups/{}/users/")
            .policy("groups/users")
            .href("group_href", ONE)
            .on(
                list(
                    "groups_users",
                    "Groups: Users",
                    "GroupUserResponse",
                    &[],
                    &[],
                ),
                handler(|c, r, i| Box::pin(users::list_members(c, r, id(i, 0)))),
            )
            .on(
                op(M::POST, "groups_users_create", "Groups: Users")
                    .body("GroupUser", Body::Any)
                    .answers(201, Some("GroupUserResponse")),
                handler(|c, r, i| Box::pin(users::add_member(c, r, id(i, 0)))),
            ),
    );
    out.push(
        Endpoint::new("groups/{}/users/{}/")
            .policy("groups/users")
            .href("groups_user_href", two)
            .on(
                op(M::DELETE, "groups_users_delete", "Groups: Users").answers(204, None),
                handler(|c, _, i| Box::pin(users::remove_member(c, id(i, 0), id(i, 1)))),
            ),
    );
    out.push(
        Endpoint::new("login/")
            .policy("login")
            .on(
                op(M::GET, "login_read", "Login").answers(200, Some("LoginResponse")),
                handler(|c, _, _| Box::pin(crate::api::login::read(c))),
            )
            .on(
                op(M::POST, "login", "Login").answers(201, Some("LoginResponse")),
                handler(|c, r, _| Box::pin(crate::api::login::login(c, r))),
            )
            .on(
                op(M::PATCH, "login_update", "Login")
                    .body("PatchedLoginUpdate", Body::Any)
                    .answers(200, Some("LoginUpdateResponse")),
                handler(|c, r, _| Box::pin(users::update_self(c, r))),
            )
            .on(
                op(M::DELETE, "logout", "Login").answers(204, None),
                handler(|c, r, _| Box::pin(crate::api::login::logout(c, r))),
            ),
    );
    out.push(Endpoint::new("access_policies/").on(
        list(
            "access_policies",
            "Access_Policies",
            "AccessPolicyResponse",
            &crate::api::access_policies::FILTERS,
            &["viewset_name", "pulp_created", "pk"],
        ),
        handler(|c, r, _| Box::pin(crate::api::access_policies::list(c, r))),
    ));
    out.push(
        Endpoint::new("access_policies/{}/")
            .href("access_policy_href", ONE)
            .on(
                read("access_policies", "Access_Policies", "AccessPolicyResponse"),
                handler(|c, r, i| Box::pin(crate::api::access_policies::read(c, r, id(i, 0)))),
            )
            .on(
                op(M::PUT, "access_policies_update", "Access_Policies")
                    .body("AccessPolicy", Body::Any)
                    .answers(200, Some("AccessPolicyResponse")),
                handler(|c, r, i| {
                    Box::pin(crate::api::access_policies::update(c, r, id(i, 0), false))
                }),
            )
            .on(
                op(
                    M::PATCH,
                    "access_policies_partial_update",
                    "Access_Policies",
                )
                .body("PatchedAccessPolicy", Body::Any)
                .answers(200, Some("AccessPolicyResponse")),
                handler(|c, r, i| {
                    Box::pin(crate::api::access_policies::update(c, r, id(i, 0), true))
                }),
            ),
    );
    out.push(
        Endpoint::new("access_policies/{}/reset/")
            .href("access_policy_href", ONE)
            .on(
                op(M::POST, "access_policies_reset", "Access_Policies")
                    .answers(200, Some("AccessPolicyResponse")),
                handler(|c, _, i| Box::pin(crate::api::access_policies::reset(c, id(i, 0)))),
            ),
    );
    out.extend(assignment_endpoints(
        roles::Whose::User,
        "users_roles",
        "Users: Roles",
        "auth_user_href",
        "UserRole",
    ));
    out.extend(assignment_endpoints(
        roles::Whose::Group,
        "groups_roles",
        "Groups: Roles",
        "group_href",
        "GroupRole",
    ));
    out
}

/// The generic lists over every type of a master model (`remotes/`, `repositories/`,
/// `publications/`, `distributions/`). Their items are documented with the first declared
/// type's response schema, as before plugins were separate (Pulp answers each row as its own
/// type, which is what the handlers do); a master model no plugin has a type of has no list.
pub fn generic_lists(
    remotes_vs: &[ViewSet],
    repositories: &[RepositoryViewSet],
    publications: &[ViewSet],
    distributions: &[ViewSet],
) -> Vec<Endpoint> {
    let item = |vs: Option<&ViewSet>| vs.map(ViewSet::response).unwrap_or_default();
    let lists = vec![
        Endpoint::new("remotes/").policy("remotes").on(
            list(
                "remotes",
                "Remotes",
                &item(remotes_vs.first()),
                &remotes::FILTERS,
                &remotes::ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(remotes::list(c, r, None))),
        ),
        Endpoint::new("repositories/").policy("repositories").on(
            list(
                "repositories",
                "Repositories",
                &item(repositories.first().map(|r| &r.repositories)),
                &repos::FILTERS,
                &repos::ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(repos::list(c, r, None))),
        ),
        Endpoint::new("publications/").policy("publications").on(
            list(
                "publications",
                "Publications",
                &item(publications.first()),
                &publishing::PUBLICATION_FILTERS,
                &publishing::PUBLICATION_ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(publishing::list_publications(c, r, None))),
        ),
        Endpoint::new("distributions/").policy("distributions").on(
            list(
                "distributions",
                "Distributions",
                &item(distributions.first()),
                &publishing::DISTRIBUTION_FILTERS,
                &publishing::DISTRIBUTION_ORDERABLE,
            ),
            handler(|c, r, _| Box::pin(publishing::list_distributions(c, r, None))),
        ),
    ];
    let declared = [
        !remotes_vs.is_empty(),
        !repositories.is_empty(),
        !publications.is_empty(),
        !distributions.is_empty(),
    ];
    lists
        .into_iter()
        .zip(declared)
        .filter_map(|(e, d)| d.then_some(e))
        .collect()
}

fn collection(vs: &ViewSet) -> String {
    format!("{}/", vs.detail.collection)
}

fn detail(vs: &ViewSet, rest: &str) -> &'static str {
    template(format!("{}/{{}}/{rest}", vs.detail.collection))
}

/// `<object>/my_permissions/` of a viewset decided by policy `viewset`.
fn my_permissions_endpoint(
    detail: &str,
    prefix: &str,
    tag: &'static str,
    href_param: &'static str,
    viewset: &'static str,
) -> Endpoint {
    Endpoint::new(template(format!("{detail}my_permissions/")))
        .href(href_param, ONE)
        .policy(viewset)
        .on(
            op(M::GET, &format!("{prefix}_my_permissions"), tag)
                .answers(200, Some("MyPermissionsResponse")),
            handler(move |c, _, i| {
                Box::pin(crate::api::access_policies::my_permissions(
                    c,
                    viewset,
                    id(i, 0),
                ))
            }),
        )
}

/// A remote type's endpoints: list, create, show, update, delete, labels; with a declared
/// access `policy` (named as its collection), also the role mixin and `my_permissions/`, and
/// every endpoint is decided by it (without one, superusers only).
pub fn remote_endpoints(vs: ViewSet, policy: Option<&'static str>) -> Vec<Endpoint> {
    let (prefix, tag, resp) = (vs.prefix(), vs.tag, vs.response());
    let patched = format!("Patched{}", vs.serializer);
    let mut one = Endpoint::new(detail(&vs, "")).href(vs.href_param, ONE).on(
        read(&prefix, tag, &resp),
        handler(move |c, r, i| Box::pin(remotes::read(c, r, id(i, 0), vs))),
    );
    let [put, patch] = updates(&prefix, tag, vs.serializer, &patched, &resp);
    one = one
        .on(
            put,
            handler(move |c, r, i| Box::pin(remotes::update(c, r, id(i, 0), false, vs))),
        )
        .on(
            patch,
            handler(move |c, r, i| Box::pin(remotes::update(c, r, id(i, 0), true, vs))),
        )
        .on(
            op(M::DELETE, &format!("{prefix}_delete"), tag).task(),
            handler(move |c, _, i| Box::pin(remotes::delete(c, id(i, 0), vs))),
        );
    let out = vec![
        Endpoint::new(template(collection(&vs)))
            .on(
                list(&prefix, tag, &resp, &remotes::FILTERS, &remotes::ORDERABLE),
                handler(move |c, r, _| Box::pin(remotes::list(c, r, Some(vs)))),
            )
            .on(
                op(M::POST, &format!("{prefix}_create"), tag)
                    .body(vs.serializer, Body::Any)
                    .answers(201, Some(&resp)),
                handler(move |c, r, _| Box::pin(remotes::create(c, r, vs))),
            ),
        one,
        Endpoint::new(detail(&vs, "set_label/"))
            .href(vs.href_param, ONE)
            .on(
                label(&prefix, tag, true),
                handler(move |c, r, i| Box::pin(remotes::label(c, r, id(i, 0), true, vs))),
            ),
        Endpoint::new(detail(&vs, "unset_label/"))
            .href(vs.href_param, ONE)
            .on(
                label(&prefix, tag, false),
                handler(move |c, r, i| Box::pin(remotes::label(c, r, id(i, 0), false, vs))),
            ),
    ];
    under_policy(out, &vs, policy)
}

/// Puts `endpoints` of viewset `vs` under `policy`, with the role mixin and `my_permissions/`
/// that every viewset with a policy has in Pulp.
fn under_policy(
    mut endpoints: Vec<Endpoint>,
    vs: &ViewSet,
    policy: Option<&'static str>,
) -> Vec<Endpoint> {
    let Some(p) = policy else {
        return endpoints;
    };
    let prefix = vs.prefix();
    let one = detail(vs, "");
    endpoints.extend(object_role_endpoints(
        one,
        &prefix,
        vs.tag,
        vs.href_param,
        vs.detail.prn_type,
        policy,
    ));
    endpoints.push(my_permissions_endpoint(
        one,
        &prefix,
        vs.tag,
        vs.href_param,
        p,
    ));
    endpoints.into_iter().map(|e| e.policy(p)).collect()
}

/// A repository type's endpoints: list, create, show, update, delete, labels, `modify/`, and
/// its versions (list, show, delete, `repair/`). `sync/` is the plugin's.
pub fn repository_endpoints(
    rv: RepositoryViewSet,
    policy: Option<&'static str>,
    versions_policy: Option<&'static str>,
) -> Vec<Endpoint> {
    let vs = rv.repositories;
    let (prefix, tag, resp) = (vs.prefix(), vs.tag, vs.response());
    let patched = format!("Patched{}", vs.serializer);
    let versions = format!("{prefix}_versions");
    let vtag = rv.versions_tag;
    let version_ids: &'static [&'static str] = Box::leak(Box::new([rv.repository_pk, "number"]));
    let [put, patch] = updates(&prefix, tag, vs.serializer, &patched, &resp);
    let repositories = vec![
        Endpoint::new(template(collection(&vs)))
            .on(
                list(&prefix, tag, &resp, &repos::FILTERS, &repos::ORDERABLE),
                handler(move |c, r, _| Box::pin(repos::list(c, r, Some(rv)))),
            )
            .on(
                op(M::POST, &format!("{prefix}_create"), tag)
                    .body(vs.serializer, Body::Any)
                    .answers(201, Some(&resp)),
                handler(move |c, r, _| Box::pin(repos::create(c, r, rv))),
            ),
        Endpoint::new(detail(&vs, ""))
            .href(vs.href_param, ONE)
            .on(
                read(&prefix, tag, &resp),
                handler(move |c, r, i| Box::pin(repos::read(c, r, id(i, 0), rv))),
            )
            .on(
                put,
                handler(move |c, r, i| Box::pin(repos::update(c, r, id(i, 0), false, rv))),
            )
            .on(
                patch,
                handler(move |c, r, i| Box::pin(repos::update(c, r, id(i, 0), true, rv))),
            )
            .on(
                op(M::DELETE, &format!("{prefix}_delete"), tag).task(),
                handler(move |c, _, i| Box::pin(repos::delete(c, id(i, 0), rv))),
            ),
        Endpoint::new(detail(&vs, "set_label/"))
            .href(vs.href_param, ONE)
            .on(
                label(&prefix, tag, true),
                handler(move |c, r, i| Box::pin(repos::label(c, r, id(i, 0), true, rv))),
            ),
        Endpoint::new(detail(&vs, "unset_label/"))
            .href(vs.href_param, ONE)
            .on(
                label(&prefix, tag, false),
                handler(move |c, r, i| Box::pin(repos::label(c, r, id(i, 0), false, rv))),
            ),
        Endpoint::new(detail(&vs, "modify/"))
            .href(vs.href_param, ONE)
            .on(
                op(M::POST, &format!("{prefix}_modify"), tag)
                    .body("RepositoryAddRemoveContent", Body::Any)
                    .task(),
                handler(move |c, r, i| Box::pin(repos::modify(c, r, id(i, 0), rv))),
            ),
    ];
    let versions = vec![
        Endpoint::new(detail(&vs, "versions/"))
            .href(vs.href_param, ONE)
            .on(
                list(
                    &versions,
                    vtag,
                    "RepositoryVersionResponse",
                    &repos::VERSION_FILTERS,
                    &repos::VERSION_ORDERABLE,
                ),
                handler(move |c, r, i| Box::pin(repos::list_versions(c, r, Some((id(i, 0), rv))))),
            ),
        Endpoint::new(detail(&vs, "versions/{}/"))
            .href(rv.version_href_param, version_ids)
            .on(
                read(&versions, vtag, "RepositoryVersionResponse"),
                handler(move |c, r, i| Box::pin(repos::read_version(c, r, id(i, 0), id(i, 1), rv))),
            )
            .on(
                op(M::DELETE, &format!("{versions}_delete"), vtag).task(),
                handler(move |c, _, i| Box::pin(repos::delete_version(c, id(i, 0), id(i, 1), rv))),
            ),
        Endpoint::new(detail(&vs, "versions/{}/repair/"))
            .href(rv.version_href_param, version_ids)
            .on(
                op(M::POST, &format!("{versions}_repair"), vtag)
                    .body("Repair", Body::Any)
                    .task(),
                handler(move |c, r, i| {
                    Box::pin(repos::repair_version(c, r, id(i, 0), id(i, 1), rv))
                }),
            ),
    ];
    let mut out = under_policy(repositories, &vs, policy);
    out.extend(versions.into_iter().map(|e| match versions_policy {
        Some(p) => e.policy(p),
        None => e,
    }));
    out
}

/// A publication type's endpoints: list, show, delete (create is the plugin's: its publish
/// task and fields).
pub fn publication_endpoints(vs: ViewSet, policy: Option<&'static str>) -> Vec<Endpoint> {
    let (prefix, tag, resp) = (vs.prefix(), vs.tag, vs.response());
    let out = vec![
        Endpoint::new(template(collection(&vs))).on(
            list(
                &prefix,
                tag,
                &resp,
                &publishing::PUBLICATION_FILTERS,
                &publishing::PUBLICATION_ORDERABLE,
            ),
            handler(move |c, r, _| Box::pin(publishing::list_publications(c, r, Some(vs)))),
        ),
        Endpoint::new(detail(&vs, ""))
            .href(vs.href_param, ONE)
            .on(
                read(&prefix, tag, &resp),
                handler(move |c, r, i| Box::pin(publishing::read_publication(c, r, id(i, 0), vs))),
            )
            .on(
                op(M::DELETE, &format!("{prefix}_delete"), tag).answers(204, None),
                handler(move |c, _, i| Box::pin(publishing::delete_publication(c, id(i, 0), vs))),
            ),
    ];
    under_policy(out, &vs, policy)
}

/// A distribution type's endpoints: list, create, show, update, delete.
pub fn distribution_endpoints(vs: ViewSet, policy: Option<&'static str>) -> Vec<Endpoint> {
    let (prefix, tag, resp) = (vs.prefix(), vs.tag, vs.response());
    let patched = format!("Patched{}", vs.serializer);
    let [put, patch] = updates(&prefix, tag, vs.serializer, &patched, &resp);
    let change = move |m: M| {
        handler(move |c, r, i| {
            let m = m.clone();
            Box::pin(async move { publishing::change_distribution(c, r, id(i, 0), &m, vs).await })
        })
    };
    let out = vec![
        Endpoint::new(template(collection(&vs)))
            .on(
                list(
                    &prefix,
                    tag,
                    &resp,
                    &publishing::DISTRIBUTION_FILTERS,
                    &publishing::DISTRIBUTION_ORDERABLE,
                ),
                handler(move |c, r, _| Box::pin(publishing::list_distributions(c, r, Some(vs)))),
            )
            .on(
                op(M::POST, &format!("{prefix}_create"), tag)
                    .body(vs.serializer, Body::Any)
                    .task(),
                handler(move |c, r, _| Box::pin(publishing::create_distribution(c, r, vs))),
            ),
        Endpoint::new(detail(&vs, ""))
            .href(vs.href_param, ONE)
            .on(
                read(&prefix, tag, &resp),
                handler(move |c, r, i| Box::pin(publishing::read_distribution(c, r, id(i, 0), vs))),
            )
            .on(put, change(M::PUT))
            .on(patch, change(M::PATCH))
            .on(
                op(M::DELETE, &format!("{prefix}_delete"), tag).task(),
                change(M::DELETE),
            ),
    ];
    under_policy(out, &vs, policy)
}

/// `contentguards/`: every guard of every type, as the base serializer shows them.
pub fn content_guard_list() -> Vec<Endpoint> {
    vec![Endpoint::new("contentguards/").policy("contentguards").on(
        list(
            "contentguards",
            "Contentguards",
            "ContentGuardResponse",
            &content_guards::GENERIC_FILTERS,
            &content_guards::ORDERABLE,
        ),
        handler(|c, r, _| Box::pin(content_guards::list(c, r, None))),
    )]
}

/// A content-guard type's endpoints: list, create, show, update, delete (all synchronous).
pub fn content_guard_endpoints(
    ty: ContentGuardType,
    policy: Option<&'static str>,
) -> Vec<Endpoint> {
    let vs = ty.viewset;
    if policy.is_some() {
        return under_policy(content_guard_crud(ty), &vs, policy);
    }
    let mut out = object_role_endpoints(
        detail(&vs, ""),
        &vs.prefix(),
        vs.tag,
        vs.href_param,
        vs.detail.prn_type,
        None,
    );
    out.extend(content_guard_crud(ty));
    out
}

/// A content-guard type's list, create, show, update and delete.
fn content_guard_crud(ty: ContentGuardType) -> Vec<Endpoint> {
    let vs = ty.viewset;
    crud(
        template(collection(&vs)),
        &vs.prefix(),
        vs.tag,
        vs.serializer,
        vs.href_param,
        &content_guards::FILTERS,
        &content_guards::ORDERABLE,
        [
            handler(move |c, r, _| Box::pin(content_guards::list(c, r, Some(ty)))),
            handler(move |c, r, _| Box::pin(content_guards::create(c, r, ty))),
            handler(move |c, r, i| Box::pin(content_guards::read(c, r, id(i, 0), ty))),
            handler(move |c, r, i| Box::pin(content_guards::update(c, r, id(i, 0), false, ty))),
            handler(move |c, r, i| Box::pin(content_guards::update(c, r, id(i, 0), true, ty))),
            handler(move |c, _, i| Box::pin(content_guards::delete(c, id(i, 0), ty))),
        ],
    )
    .into()
}

/// Pulp's role mixin on one object type: `list_roles/`, `add_role/`, `remove_role/` below its
/// detail path (`detail` ends in `{}/`), decided by `policy` (`None`: superusers only).
pub fn object_role_endpoints(
    detail: &str,
    prefix: &str,
    tag: &'static str,
    href_param: &'static str,
    prn_type: &'static str,
    policy: Option<&'static str>,
) -> Vec<Endpoint> {
    let with = |e: Endpoint| match policy {
        Some(p) => e.policy(p),
        None => e,
    };
    let collection = template(
        detail
            .trim_end_matches("{}/")
            .trim_end_matches('/')
            .to_owned(),
    );
    vec![
        with(Endpoint::new(template(format!("{detail}list_roles/"))).href(href_param, ONE)).on(
            op(M::GET, &format!("{prefix}_list_roles"), tag)
                .answers(200, Some("ObjectRolesResponse")),
            handler(move |c, _, i| {
                Box::pin(roles::list_object_roles(
                    c,
                    roles::Object {
                        prn_type,
                        collection,
                        id: id(i, 0),
                    },
                ))
            }),
        ),
        with(Endpoint::new(template(format!("{detail}add_role/"))).href(href_param, ONE)).on(
            op(M::POST, &format!("{prefix}_add_role"), tag)
                .body("NestedRole", Body::Any)
                .answers(201, Some("NestedRoleResponse")),
            handler(move |c, r, i| {
                Box::pin(roles::change_object_role(
                    c,
                    r,
                    roles::Object {
                        prn_type,
                        collection,
                        id: id(i, 0),
                    },
                    true,
                ))
            }),
        ),
        with(Endpoint::new(template(format!("{detail}remove_role/"))).href(href_param, ONE)).on(
            op(M::POST, &format!("{prefix}_remove_role"), tag)
                .body("NestedRole", Body::Any)
                .answers(201, Some("NestedRoleResponse")),
            handler(move |c, r, i| {
                Box::pin(roles::change_object_role(
                    c,
                    r,
                    roles::Object {
                        prn_type,
                        collection,
                        id: id(i, 0),
                    },
                    false,
                ))
            }),
        ),
    ]
}
