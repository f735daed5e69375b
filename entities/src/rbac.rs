//! Pulp's RBAC data: groups and their members, roles and their permissions, and the roles
//! given to users and groups (model-wide, or on one object named by its PRN type and id).
//! Whether a user has a permission is one query ([`has_permission`]).

use sea_orm::{ConnectionTrait, TransactionTrait, Value};

use crate::time::now_micros;
use crate::{Db, DbError};

/// A group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Its id (hrefs use it: `groups/<id>/`).
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Creation time (µs).
    pub created: i64,
}

/// A role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Its id.
    pub id: String,
    /// Its unique name (`file.filerepository_owner`).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Declared by core or a plugin (then not changeable through the API).
    pub locked: bool,
    /// Its permissions, sorted.
    pub permissions: Vec<String>,
    /// Creation time (µs).
    pub created: i64,
    /// Last update (µs).
    pub updated: i64,
}

/// Who holds a role assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A user (`auth_user.id`).
    User(i64),
    /// A group (`auth_group.id`).
    Group(i64),
}

impl Holder {
    fn table(self) -> (&'static str, &'static str, i64) {
        match self {
            Holder::User(id) => ("core_userrole", "user_id", id),
            Holder::Group(id) => ("core_grouprole", "group_id", id),
        }
    }
}

/// One role given to a user or group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Its id.
    pub id: String,
    /// The role's name.
    pub role: String,
    /// The object's PRN type and id (`None`: model-wide).
    pub object: Option<(String, String)>,
    /// Creation time (µs).
    pub created: i64,
}

fn group_row(r: &sea_orm::QueryResult) -> Result<Group, sea_orm::DbErr> {
    Ok(Group {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        created: r.try_get("", "pulp_created")?,
    })
}

/// Every group, by name.
pub async fn groups(db: &Db) -> Result<Vec<Group>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT id, name, pulp_created FROM auth_group ORDER BY name",
            vec![],
        ))
        .await?
        .iter()
        .map(|r| group_row(r).map_err(DbError::from))
        .collect()
}

/// Group `id`.
pub async fn group(db: &Db, id: i64) -> Result<Option<Group>, DbError> {
    Ok(db
        .read
        .query_one_raw(db.stmt(
            "SELECT id, name, pulp_created FROM auth_group WHERE id = $1",
            vec![id.into()],
        ))
        .await?
        .map(|r| group_row(&r))
        .transpose()?)
}

/// Creates group `name`; `None` when the name is taken.
pub async fn create_group(db: &Db, name: &str) -> Result<Option<Group>, DbError> {
    let now = now_micros();
    let done = db
        .write
        .execute_raw(db.stmt(
            "INSERT INTO auth_group (name, pulp_created, pulp_last_updated) VALUES ($1,$2,$2) \
             ON CONFLICT (name) DO NOTHING",
            vec![name.to_owned().into(), now.into()],
        ))
        .await?
        .rows_affected();
    if done == 0 {
        return Ok(None);
    }
    Ok(db
        .write
        .query_one_raw(db.stmt(
            "SELECT id, name, pulp_created FROM auth_group WHERE name = $1",
            vec![name.to_owned().into()],
        ))
        .await?
        .map(|r| group_row(&r))
        .transpose()?)
}

/// Renames group `id`; `false` when the name is taken by another.
pub async fn rename_group(db: &Db, id: i64, name: &str) -> Result<bool, DbError> {
    let taken = db
        .read
        .query_one_raw(db.stmt(
            "SELECT id FROM auth_group WHERE name = $1 AND id <> $2",
            vec![name.to_owned().into(), id.into()],
        ))
        .await?
        .is_some();
    if taken {
        return Ok(false);
    }
    db.write
        .execute_raw(db.stmt(
            "UPDATE auth_group SET name = $1, pulp_last_updated = $2 WHERE id = $3",
            vec![name.to_owned().into(), now_micros().into(), id.into()],
        ))
        .await?;
    Ok(true)
}

/// Deletes group `id` with its memberships and roles.
pub async fn delete_group(db: &Db, id: i64) -> Result<(), DbError> {
    let txn = db.write.begin().await?;
    for sql in [
        "DELETE FROM auth_user_groups WHERE group_id = $1",
        "DELETE FROM core_grouprole WHERE group_id = $1",
        "DELETE FROM auth_group WHERE id = $1",
    ] {
        txn.execute_raw(db.stmt(sql, vec![id.into()])).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The ids of group `id`'s members.
pub async fn members(db: &Db, id: i64) -> Result<Vec<i64>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT user_id FROM auth_user_groups WHERE group_id = $1 ORDER BY user_id",
            vec![id.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "user_id").map_err(DbError::from))
        .collect()
}

/// The groups of user `id`.
pub async fn groups_of(db: &Db, user: i64) -> Result<Vec<Group>, DbError> {
    db.read
        .query_all_raw(db.stmt(
            "SELECT g.id, g.name, g.pulp_created FROM auth_group g \
             JOIN auth_user_groups m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
            vec![user.into()],
        ))
        .await?
        .iter()
        .map(|r| group_row(r).map_err(DbError::from))
        .collect()
}

/// Adds (`true`) or removes user `user` to group `group`.
pub async fn set_member(db: &Db, group: i64, user: i64, member: bool) -> Result<(), DbError> {
    let sql = if member {
        "INSERT INTO auth_user_groups (group_id, user_id) VALUES ($1,$2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM auth_user_groups WHERE group_id = $1 AND user_id = $2"
    };
    db.write
        .execute_raw(db.stmt(sql, vec![group.into(), user.into()]))
        .await?;
    Ok(())
}

/// The id of user `username`, created (active, no password, no privileges) if there is none
/// yet: what Django's `RemoteUserBackend` does for a name a trusted proxy vouches for.
pub async fn provision_user(db: &Db, username: &str) -> Result<i64, DbError> {
    let now = now_micros();
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, \
             is_staff, is_active, pulp_created, pulp_last_updated) \
             VALUES ($1, '!', $2, '', '', '', $2, $3, $4, $4) ON CONFLICT (username) DO NOTHING",
            vec![username.to_owned().into(), false.into(), true.into(), now.into()],
        ))
        .await?;
    let row = db
        .write
        .query_one_raw(db.stmt(
            "SELECT id FROM auth_user WHERE username = $1",
            vec![username.to_owned().into()],
        ))
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("user {username} vanished")))?;
    Ok(row.try_get("", "id")?)
}

static USERS_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records that a user changed in this process (password, activity, privileges, deletion):
/// whatever caches user rows here ([`users_generation`]) drops them. Call after the commit.
pub fn users_changed() {
    USERS_GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// The count of [`users_changed`] calls so far.
pub fn users_generation() -> u64 {
    USERS_GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

/// Deletes user `id` with their memberships and roles; `false` when there was none.
pub async fn delete_user(db: &Db, id: i64) -> Result<bool, DbError> {
    let txn = db.write.begin().await?;
    for sql in [
        "DELETE FROM auth_user_groups WHERE user_id = $1",
        "DELETE FROM core_userrole WHERE user_id = $1",
    ] {
        txn.execute_raw(db.stmt(sql, vec![id.into()])).await?;
    }
    let n = txn
        .execute_raw(db.stmt("DELETE FROM auth_user WHERE id = $1", vec![id.into()]))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(n > 0)
}

/// Roles with their permissions: all (`ids` `None`) or those named.
pub async fn roles(db: &Db, names: Option<&[String]>) -> Result<Vec<Role>, DbError> {
    let (filter, values): (String, Vec<Value>) = match names {
        Some([]) => return Ok(Vec::new()),
        Some(n) => (
            format!(" WHERE r.name IN ({})", crate::db::placeholders(1, n.len())),
            n.iter().map(|s| s.clone().into()).collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    let rows = db
        .read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT r.pulp_id, r.name, r.description, r.locked, r.pulp_created, r.pulp_last_updated, p.permission \
                 FROM core_role r LEFT JOIN core_role_permissions p ON p.role_id = r.pulp_id{filter} \
                 ORDER BY r.name, p.permission"
            ),
            values,
        ))
        .await?;
    let mut out: Vec<Role> = Vec::new();
    for r in rows {
        let id: String = r.try_get("", "pulp_id")?;
        if out.last().is_none_or(|l| l.id != id) {
            out.push(Role {
                id,
                name: r.try_get("", "name")?,
                description: r.try_get("", "description")?,
                locked: r.try_get("", "locked")?,
                permissions: Vec::new(),
                created: r.try_get("", "pulp_created")?,
                updated: r.try_get("", "pulp_last_updated")?,
            });
        }
        if let Some(p) = r.try_get::<Option<String>>("", "permission")?
            && let Some(l) = out.last_mut()
        {
            l.permissions.push(p);
        }
    }
    Ok(out)
}

/// Creates or replaces role `name` (`id` `None`: a new one) with exactly `permissions`.
pub async fn save_role(
    db: &Db,
    id: Option<&str>,
    name: &str,
    description: Option<&str>,
    locked: bool,
    permissions: &[String],
) -> Result<String, DbError> {
    let now = now_micros();
    let txn = db.write.begin().await?;
    let id = match id {
        Some(id) => {
            txn.execute_raw(db.stmt(
                "UPDATE core_role SET name = $1, description = $2, locked = $3, pulp_last_updated = $4 WHERE pulp_id = $5",
                vec![
                    name.to_owned().into(),
                    description.map(str::to_owned).into(),
                    locked.into(),
                    now.into(),
                    id.to_owned().into(),
                ],
            ))
            .await?;
            id.to_owned()
        }
        None => {
            // Two nodes starting at once may both create a locked role: the second one then
            // rewrites the first one's (identical) permissions.
            txn.execute_raw(db.stmt(
                "INSERT INTO core_role (pulp_id, name, description, locked, pulp_created, pulp_last_updated) \
                 VALUES ($1,$2,$3,$4,$5,$5) ON CONFLICT (name) DO NOTHING",
                vec![
                    uuid::Uuid::now_v7().to_string().into(),
                    name.to_owned().into(),
                    description.map(str::to_owned).into(),
                    locked.into(),
                    now.into(),
                ],
            ))
            .await?;
            txn.query_one_raw(db.stmt(
                "SELECT pulp_id FROM core_role WHERE name = $1",
                vec![name.to_owned().into()],
            ))
            .await?
            .map(|r| r.try_get::<String>("", "pulp_id"))
            .transpose()?
            .ok_or_else(|| DbError::Corrupt(format!("role {name} vanished")))?
        }
    };
    txn.execute_raw(db.stmt(
        "DELETE FROM core_role_permissions WHERE role_id = $1",
        vec![id.clone().into()],
    ))
    .await?;
    for p in permissions {
        txn.execute_raw(db.stmt(
            "INSERT INTO core_role_permissions (role_id, permission) VALUES ($1,$2) ON CONFLICT DO NOTHING",
            vec![id.clone().into(), p.clone().into()],
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(id)
}

/// Deletes role `id` with its assignments.
pub async fn delete_role(db: &Db, id: &str) -> Result<(), DbError> {
    let txn = db.write.begin().await?;
    for sql in [
        "DELETE FROM core_userrole WHERE role_id = $1",
        "DELETE FROM core_grouprole WHERE role_id = $1",
        "DELETE FROM core_role_permissions WHERE role_id = $1",
        "DELETE FROM core_role WHERE pulp_id = $1",
    ] {
        txn.execute_raw(db.stmt(sql, vec![id.to_owned().into()]))
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Makes the declared locked roles exactly what they declare (Pulp does it after migrating):
/// `(name, description, permissions)`.
pub async fn sync_locked(
    db: &Db,
    declared: &[(&str, Option<&str>, Vec<String>)],
) -> Result<(), DbError> {
    let names: Vec<String> = declared.iter().map(|d| d.0.to_owned()).collect();
    let existing = roles(db, Some(&names)).await?;
    for (name, description, perms) in declared {
        let old = existing.iter().find(|r| r.name == *name);
        let mut perms = perms.clone();
        perms.sort();
        let same = old.is_some_and(|r| {
            r.locked && r.permissions == perms && r.description.as_deref() == *description
        });
        if !same {
            save_role(
                db,
                old.map(|r| r.id.as_str()),
                name,
                *description,
                true,
                &perms,
            )
            .await?;
        }
    }
    Ok(())
}

/// Holder `who`'s role assignments.
pub async fn assignments(db: &Db, who: Holder) -> Result<Vec<Assignment>, DbError> {
    let (table, col, id) = who.table();
    db.read
        .query_all_raw(db.stmt(
            &format!(
                "SELECT a.pulp_id, r.name, a.content_type, a.object_id, a.pulp_created FROM {table} a \
                 JOIN core_role r ON r.pulp_id = a.role_id WHERE a.{col} = $1 ORDER BY a.pulp_created DESC, a.pulp_id"
            ),
            vec![id.into()],
        ))
        .await?
        .iter()
        .map(|r| {
            let ct: Option<String> = r.try_get("", "content_type")?;
            let oid: Option<String> = r.try_get("", "object_id")?;
            Ok(Assignment {
                id: r.try_get("", "pulp_id")?,
                role: r.try_get("", "name")?,
                object: ct.zip(oid),
                created: r.try_get("", "pulp_created")?,
            })
        })
        .collect()
}

/// Gives `who` role `role` (an id), model-wide or on `object`; `None` when it already has it.
pub async fn assign(
    db: &Db,
    who: Holder,
    role: &str,
    object: Option<(&str, &str)>,
) -> Result<Option<String>, DbError> {
    let (table, col, holder) = who.table();
    let (ct, oid) = (
        object.map(|o| o.0.to_owned()),
        object.map(|o| o.1.to_owned()),
    );
    let dup = db
        .read
        .query_one_raw(db.stmt(
            &format!(
                "SELECT pulp_id FROM {table} WHERE {col} = $1 AND role_id = $2 \
                 AND COALESCE(content_type, '') = $3 AND COALESCE(object_id, '') = $4"
            ),
            vec![
                holder.into(),
                role.to_owned().into(),
                ct.clone().unwrap_or_default().into(),
                oid.clone().unwrap_or_default().into(),
            ],
        ))
        .await?
        .is_some();
    if dup {
        return Ok(None);
    }
    let id = uuid::Uuid::now_v7().to_string();
    db.write
        .execute_raw(db.stmt(
            &format!(
                "INSERT INTO {table} (pulp_id, {col}, role_id, content_type, object_id, pulp_created) VALUES ($1,$2,$3,$4,$5,$6)"
            ),
            vec![
                id.clone().into(),
                holder.into(),
                role.to_owned().into(),
                ct.into(),
                oid.into(),
                now_micros().into(),
            ],
        ))
        .await?;
    Ok(Some(id))
}

/// Removes assignment `id` of `who`; `false` when there was none.
pub async fn unassign(db: &Db, who: Holder, id: &str) -> Result<bool, DbError> {
    let (table, col, holder) = who.table();
    Ok(db
        .write
        .execute_raw(db.stmt(
            &format!("DELETE FROM {table} WHERE pulp_id = $1 AND {col} = $2"),
            vec![id.to_owned().into(), holder.into()],
        ))
        .await?
        .rows_affected()
        > 0)
}

/// Whether user `user` holds `permission` model-wide, or on `object` (PRN type, id), through
/// a role of their own or of one of their groups. (Superusers are the caller's business.)
pub async fn has_permission(
    db: &Db,
    user: i64,
    permission: &str,
    object: Option<(&str, &str)>,
) -> Result<bool, DbError> {
    let (ct, oid) = object.unwrap_or(("", ""));
    let scope = "(a.content_type IS NULL OR (a.content_type = $3 AND a.object_id = $4))";
    let sql = format!(
        "SELECT 1 AS x FROM core_userrole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           WHERE a.user_id = $1 AND p.permission = $2 AND {scope} \
         UNION ALL SELECT 1 AS x FROM core_grouprole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           JOIN auth_user_groups m ON m.group_id = a.group_id \
           WHERE m.user_id = $1 AND p.permission = $2 AND {scope} LIMIT 1"
    );
    Ok(db
        .read
        .query_one_raw(db.stmt(
            &sql,
            vec![
                user.into(),
                permission.to_owned().into(),
                ct.to_owned().into(),
                oid.to_owned().into(),
            ],
        ))
        .await?
        .is_some())
}

/// Whether object `id` exists, for the objects roles are given on, by their collection
/// (`remotes/file/file`, `groups`: the first segment names the master table); `None` for a
/// collection this does not know.
pub async fn object_exists(db: &Db, collection: &str, id: &str) -> Result<Option<bool>, DbError> {
    let root = collection.split('/').next().unwrap_or("");
    let (table, column) = match root {
        "remotes" => ("core_remote", "pulp_id"),
        "repositories" => ("core_repository", "pulp_id"),
        "publications" => ("core_publication", "pulp_id"),
        "distributions" => ("core_distribution", "pulp_id"),
        "contentguards" => ("core_contentguard", "pulp_id"),
        "uploads" => ("core_upload", "pulp_id"),
        "tasks" => ("core_task", "pulp_id"),
        "groups" => ("auth_group", "id"),
        _ => return Ok(None),
    };
    let value: Value = if column == "id" {
        match id.parse::<i64>() {
            Ok(n) => n.into(),
            Err(_) => return Ok(Some(false)),
        }
    } else {
        id.to_owned().into()
    };
    let row = db
        .read
        .query_one_raw(db.stmt(
            &format!("SELECT 1 AS x FROM {table} WHERE {column} = $1"),
            vec![value],
        ))
        .await?;
    Ok(Some(row.is_some()))
}

/// What `user` may see of PRN type `content_type` through `permission`, in one query: `None`
/// when they hold it model-wide (every object), else the objects they hold it on.
pub async fn visible_objects(
    db: &Db,
    user: i64,
    permission: &str,
    content_type: &str,
) -> Result<Option<Vec<String>>, DbError> {
    let scope = "(a.content_type IS NULL OR a.content_type = $3)";
    let sql = format!(
        "SELECT a.object_id AS id FROM core_userrole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           WHERE a.user_id = $1 AND p.permission = $2 AND {scope} \
         UNION SELECT a.object_id AS id FROM core_grouprole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           JOIN auth_user_groups m ON m.group_id = a.group_id \
           WHERE m.user_id = $1 AND p.permission = $2 AND {scope}"
    );
    let rows = db
        .read
        .query_all_raw(db.stmt(
            &sql,
            vec![
                user.into(),
                permission.to_owned().into(),
                content_type.to_owned().into(),
            ],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for r in rows {
        match r.try_get::<Option<String>>("", "id")? {
            None => return Ok(None),
            Some(id) => ids.push(id),
        }
    }
    Ok(Some(ids))
}

/// The users (ids) and groups (ids) holding `permission` on `object` itself (not model-wide):
/// who an RBAC content guard lets download.
pub async fn holders_on(
    db: &Db,
    permission: &str,
    object: (&str, &str),
) -> Result<(Vec<i64>, Vec<i64>), DbError> {
    let q = |table: &str, col: &str| {
        format!(
            "SELECT DISTINCT a.{col} AS who FROM {table} a JOIN core_role_permissions p ON p.role_id = a.role_id \
             WHERE p.permission = $1 AND a.content_type = $2 AND a.object_id = $3 ORDER BY a.{col}"
        )
    };
    let args = || -> Vec<Value> {
        vec![
            permission.to_owned().into(),
            object.0.to_owned().into(),
            object.1.to_owned().into(),
        ]
    };
    let mut out = (Vec::new(), Vec::new());
    for (i, (table, col)) in [("core_userrole", "user_id"), ("core_grouprole", "group_id")]
        .into_iter()
        .enumerate()
    {
        let ids = db
            .read
            .query_all_raw(db.stmt(&q(table, col), args()))
            .await?
            .iter()
            .map(|r| r.try_get::<i64>("", "who"))
            .collect::<Result<Vec<_>, _>>()?;
        if i == 0 {
            out.0 = ids;
        } else {
            out.1 = ids;
        }
    }
    Ok(out)
}

/// Every permission user `user` holds on `object` (PRN type, id) itself: through roles given
/// on it (theirs or their groups'), as Pulp's `my_permissions` lists them.
pub async fn permissions_on(
    db: &Db,
    user: i64,
    object: (&str, &str),
) -> Result<Vec<String>, DbError> {
    let scope = "a.content_type = $2 AND a.object_id = $3";
    let sql = format!(
        "SELECT p.permission FROM core_userrole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           WHERE a.user_id = $1 AND {scope} \
         UNION SELECT p.permission FROM core_grouprole a JOIN core_role_permissions p ON p.role_id = a.role_id \
           JOIN auth_user_groups m ON m.group_id = a.group_id WHERE m.user_id = $1 AND {scope}"
    );
    let model = object.0.rsplit('.').next().unwrap_or("").to_owned();
    let mut out: Vec<String> = db
        .read
        .query_all_raw(db.stmt(
            &sql,
            vec![
                user.into(),
                object.0.to_owned().into(),
                object.1.to_owned().into(),
            ],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "permission"))
        .collect::<Result<_, _>>()?;
    // A role may carry permissions of other models: keep this model's.
    out.retain(|p| p.ends_with(&format!("_{model}")));
    out.sort();
    Ok(out)
}

/// The roles given on `object` (PRN type, id): `(role name, username or group name, is a
/// user)`, users first.
pub async fn on_object(
    db: &Db,
    object: (&str, &str),
) -> Result<Vec<(String, String, bool)>, DbError> {
    let sql = "SELECT r.name AS role, u.username AS who, 1 AS is_user FROM core_userrole a \
               JOIN core_role r ON r.pulp_id = a.role_id JOIN auth_user u ON u.id = a.user_id \
               WHERE a.content_type = $1 AND a.object_id = $2 \
             UNION ALL SELECT r.name AS role, g.name AS who, 0 AS is_user FROM core_grouprole a \
               JOIN core_role r ON r.pulp_id = a.role_id JOIN auth_group g ON g.id = a.group_id \
               WHERE a.content_type = $1 AND a.object_id = $2 \
             ORDER BY is_user DESC, role, who";
    db.read
        .query_all_raw(db.stmt(
            sql,
            vec![object.0.to_owned().into(), object.1.to_owned().into()],
        ))
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("", "role")?,
                r.try_get("", "who")?,
                r.try_get::<i32>("", "is_user")? == 1,
            ))
        })
        .collect()
}

/// Removes `who`'s role `role` (an id) given on `object`.
pub async fn unassign_on(
    db: &Db,
    who: Holder,
    role: &str,
    object: (&str, &str),
) -> Result<(), DbError> {
    let (table, col, holder) = who.table();
    db.write
        .execute_raw(db.stmt(
            &format!(
                "DELETE FROM {table} WHERE {col} = $1 AND role_id = $2 AND content_type = $3 AND object_id = $4"
            ),
            vec![
                holder.into(),
                role.to_owned().into(),
                object.0.to_owned().into(),
                object.1.to_owned().into(),
            ],
        ))
        .await?;
    Ok(())
}
