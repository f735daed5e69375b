//! Repository versions: their hrefs, every new version's path (`new_version`, with the type's
//! hooks), and the `add_and_remove` (modify) task body, which replaces content by the
//! repository type's key as Pulp's `RepositoryVersion.add_content` does.

use crate::tasks::TaskError;
use pith_entities::entity::{repository, repository_version as version};
use pith_entities::sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, TransactionTrait};
use pith_entities::versions::{self, Base, Remove, RepoKey};
use pith_entities::{Db, DbError};
use serde_json::{Value, json};

use super::{TaskContext, TaskOutput, db_err};
use crate::plugin::Types;

/// The href of version `number` of the repository at `repo_href`.
pub fn version_href(repo_href: &str, number: i64) -> String {
    format!("{repo_href}versions/{number}/")
}

/// The href of each of the repositories `ids`, by its own type (one query).
pub async fn repository_hrefs(
    db: &Db,
    types: &Types,
    v3: &str,
    ids: &[String],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    let mut out = std::collections::HashMap::new();
    for (id, t) in pith_entities::repositories::types_of(db, ids).await? {
        let href = types.repository_href(v3, &t, &id);
        out.insert(id, href);
    }
    Ok(out)
}

/// The repository row and its type's key, for a body about to make a new version.
pub async fn load_repository(
    ctx: &TaskContext,
    id: &str,
) -> Result<(repository::Model, RepoKey), TaskError> {
    let r = repository::Entity::find_by_id(id.to_owned())
        .one(&ctx.deps.db.read)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::Invalid(format!("Repository {id} no longer exists.")))?;
    let t = ctx.deps.types.repository_or_err(&r.pulp_type)?;
    Ok((r, t.key))
}

/// The created-resource pair of a new version.
pub fn created_version(
    ctx: &TaskContext,
    v3: &str,
    r: &repository::Model,
    id: &str,
    number: i64,
) -> (String, String) {
    let repo_href = ctx.deps.types.repository_href(v3, &r.pulp_type, &r.pulp_id);
    (
        version_href(&repo_href, number),
        format!("prn:core.repositoryversion:{id}"),
    )
}

fn arg<'a>(ctx: &'a TaskContext, name: &str) -> Result<&'a str, TaskError> {
    ctx.args
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| TaskError::Invalid(format!("Missing argument '{name}'.")))
}

/// With `overwrite=false`: the key of an added unit that a different unit already has in the
/// version being built on (and that is not being removed), if any.
pub async fn overwritten_key(
    db: &Db,
    conn: &impl ConnectionTrait,
    key: &RepoKey,
    repo: &str,
    base: Option<&Base>,
    add: &[String],
    remove: &Remove,
) -> Result<Option<String>, TaskError> {
    let ids = match remove {
        Remove::All => return Ok(None),
        Remove::Ids(ids) => ids,
    };
    if add.is_empty() {
        return Ok(None);
    }
    let (repo, number) = match base {
        Some(b) => (b.repository.as_str(), b.number),
        None => (
            repo,
            versions::latest_number(db, conn, repo)
                .await
                .map_err(db_err)?,
        ),
    };
    let present = versions::content_ids(db, conn, repo, number)
        .await
        .map_err(db_err)?;
    let added: std::collections::HashSet<String> =
        versions::keys(db, conn, key, &add.iter().cloned().collect())
            .await
            .map_err(db_err)?
            .into_values()
            .collect();
    let kept = present
        .into_iter()
        .filter(|c| !ids.contains(c) && !add.contains(c))
        .collect();
    Ok(versions::keys(db, conn, key, &kept)
        .await
        .map_err(db_err)?
        .into_values()
        .find(|p| added.contains(p)))
}

/// The error of an add refused by `overwrite=false` (the key's columns named as words: "the
/// relative path \"a.txt\"").
pub fn overwrite_refused(key: &RepoKey, value: &str) -> TaskError {
    let what = key.columns.join(", ").replace('_', " ");
    let value = value.replace('\u{1f}', ", ");
    TaskError::Invalid(format!(
        "Cannot add content: a different unit already has the {what} {value:?} in the repository, and 'overwrite' is false."
    ))
}

/// After a task made a new version of `repo` (the row the task loaded; neither hook reads a
/// field a task changes): the repository type's `on_new_version` (autopublish), then
/// `retain_repo_versions` drops the oldest unprotected versions.
pub async fn after_new_version(
    ctx: &TaskContext,
    v3: &str,
    repo: &repository::Model,
    version_id: &str,
) -> Result<(), TaskError> {
    let db = &ctx.deps.db;
    if let Some(hook) = ctx
        .deps
        .types
        .repository(&repo.pulp_type)
        .and_then(|t| t.on_new_version)
    {
        hook(ctx, v3, repo, version_id).await?;
    }
    if let Some(keep) = repo.retain_repo_versions {
        let txn = db.write.begin().await.map_err(db_err)?;
        versions::retain(db, &txn, &repo.pulp_id, keep)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
    }
    Ok(())
}

/// The version with id `id`, just made.
pub async fn load_version(db: &Db, id: &str) -> Result<version::Model, TaskError> {
    version::Entity::find_by_id(id.to_owned())
        .one(&db.read)
        .await
        .map_err(db_err)?
        .ok_or_else(|| TaskError::invalid("The new version vanished."))
}

/// `add_and_remove` (modify): `{v3, repository, add: [ids], remove: [ids] | "*", base_version?,
/// overwrite?}`.
pub(super) async fn modify(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let db = &ctx.deps.db;
    let v3 = arg(&ctx, "v3")?.to_owned();
    let repo = arg(&ctx, "repository")?.to_owned();
    let ids = |k: &str| -> Vec<String> {
        ctx.args
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let add = ids("add");
    let remove = if ctx.args.get("remove") == Some(&json!("*")) {
        Remove::All
    } else {
        Remove::Ids(ids("remove"))
    };
    // `base_repository` is absent in tasks queued before bases could be other repositories'.
    let base = ctx
        .args
        .get("base_version")
        .and_then(Value::as_i64)
        .map(|number| Base {
            repository: ctx
                .args
                .get("base_repository")
                .and_then(Value::as_str)
                .unwrap_or(&repo)
                .to_owned(),
            number,
        });
    let overwrite = ctx
        .args
        .get("overwrite")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let (r, key) = load_repository(&ctx, &repo).await?;
    let txn = db.write.begin().await.map_err(db_err)?;
    if !overwrite
        && let Some(p) =
            overwritten_key(db, &txn, &key, &repo, base.as_ref(), &add, &remove).await?
    {
        return Err(overwrite_refused(&key, &p));
    }
    let made = new_version(&ctx, &txn, &r, base.as_ref(), &add, &remove).await?;
    txn.commit().await.map_err(db_err)?;
    finish_new_version(&ctx, &v3, &r, made).await
}

/// Builds the next version of `repo` inside `txn` (see [`versions::new_version`]) with its
/// type's key, adding with `add` every unit it refers to (content references), then runs the
/// type's `finalize_new_version`, whose error rejects it (the caller drops the transaction).
/// Every task that makes a version goes through here.
pub async fn new_version(
    ctx: &TaskContext,
    txn: &DatabaseTransaction,
    repo: &repository::Model,
    base: Option<&Base>,
    add: &[String],
    remove: &Remove,
) -> Result<Option<(String, i64)>, TaskError> {
    let t = ctx.deps.types.repository_or_err(&repo.pulp_type)?;
    let db = &ctx.deps.db;
    let refs = ctx.deps.types.references();
    let with_refs;
    let add = if refs.is_empty() || add.is_empty() {
        add
    } else {
        with_refs = pith_entities::content::with_references(db, txn, &refs, add).await?;
        &with_refs
    };
    let made = versions::new_version(db, txn, &repo.pulp_id, &t.key, base, add, remove).await?;
    if let (Some((_, number)), Some(finalize)) = (&made, t.finalize_new_version) {
        finalize(ctx, txn, repo, *number).await?;
    }
    Ok(made)
}

/// Pulp's `validate_repo_version`, for a type's `finalize_new_version`: no two units of the
/// version share the repository key, and no two of its artifacts' relative paths are equal or
/// one inside the other (`a/b` and `a/b/c`).
pub async fn validate_repo_version(
    ctx: &TaskContext,
    txn: &DatabaseTransaction,
    repo: &repository::Model,
    number: i64,
) -> Result<(), TaskError> {
    let db = &ctx.deps.db;
    let key = ctx.deps.types.repository_or_err(&repo.pulp_type)?.key;
    let dups = versions::duplicate_keys(db, txn, &key, &repo.pulp_id, number).await?;
    if !dups.is_empty() {
        let count: usize = dups.values().map(|ids| ids.len() - 1).sum();
        for (value, ids) in &dups {
            tracing::info!(task = %ctx.task, repository = %repo.pulp_id, key = %value.replace('\u{1f}', ", "), ?ids, "Duplicates found");
        }
        let cid = pith_entities::tasks::logging_cid(db, ctx.task)
            .await?
            .unwrap_or_default();
        return Err(TaskError::Invalid(format!(
            "[PLP0022] Found {count} duplicate contents in repository version(see the logs (cid={cid}) for details)."
        )));
    }
    let paths = versions::artifact_paths(db, txn, &repo.pulp_id, number).await?;
    validate_file_paths(&paths)
        .map_err(|e| TaskError::Invalid(format!("Repository version errors : {e}")))
}

/// Pulp's `validate_file_paths`: no path twice, and none inside another (`a/b` is a file, so
/// `a/b/c` cannot be). Reports every duplicate and overlap in the order the paths come, with
/// Pulp's message.
pub fn validate_file_paths(paths: &[String]) -> Result<(), String> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    // Every directory some seen path lies under.
    let mut dirs: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let (mut dups, mut overlaps) = (Vec::new(), Vec::new());
    let overlap = |path: &str, conflicts: Vec<&str>| {
        format!(
            "The path for file '{path}' overlaps: {}",
            conflicts.join(", ")
        )
    };
    for path in paths {
        let p = path.as_str();
        if seen.contains(p) {
            dups.push(p);
        } else if dirs.contains(p) {
            let prefix = format!("{p}/");
            let mut under: Vec<&str> = seen
                .iter()
                .copied()
                .filter(|s| s.starts_with(&prefix))
                .collect();
            under.sort_unstable();
            overlaps.push(overlap(p, under));
        } else {
            let above: Vec<&str> = p
                .match_indices('/')
                .map(|(i, _)| &p[..i])
                .filter(|d| seen.contains(d))
                .collect();
            if !above.is_empty() {
                overlaps.push(overlap(p, above));
            }
        }
        seen.insert(p);
        dirs.extend(p.match_indices('/').map(|(i, _)| &p[..i]));
    }
    if dups.is_empty() && overlaps.is_empty() {
        return Ok(());
    }
    let dups = if dups.is_empty() {
        String::new()
    } else {
        format!("Paths are duplicated: {}", dups.join(","))
    };
    Err(format!(
        "Path errors found. {dups}\n{}",
        overlaps.join("\n")
    ))
}

/// What a task that may have made a new version (`made`: its id and number, committed)
/// returns: nothing when no version was made; else, after [`after_new_version`], the version
/// as `result` and in `created_resources`.
pub async fn finish_new_version(
    ctx: &TaskContext,
    v3: &str,
    repo: &repository::Model,
    made: Option<(String, i64)>,
) -> Result<TaskOutput, TaskError> {
    let Some((vid, n)) = made else {
        return Ok(TaskOutput::default());
    };
    after_new_version(ctx, v3, repo, &vid).await?;
    let db = &ctx.deps.db;
    let v = load_version(db, &vid).await?;
    let repo_href = ctx
        .deps
        .types
        .repository_href(v3, &repo.pulp_type, &repo.pulp_id);
    let json = ctx
        .deps
        .serializers
        .version(&ctx.deps, v3, &repo_href, &v)
        .await?;
    Ok(TaskOutput {
        result: Some(json),
        created: vec![created_version(ctx, v3, repo, &vid, n)],
    })
}

#[cfg(test)]
mod tests {
    use super::validate_file_paths;

    fn check(paths: &[&str]) -> Result<(), String> {
        validate_file_paths(&paths.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn file_paths_as_pulp_checks_them() {
        assert_eq!(check(&["a", "b/c", "b/d", "bc"]), Ok(()));
        assert_eq!(
            check(&["a", "a"]).unwrap_err(),
            "Path errors found. Paths are duplicated: a\n"
        );
        assert_eq!(
            check(&["a/b/c", "a/b/d", "a/b"]).unwrap_err(),
            "Path errors found. \nThe path for file 'a/b' overlaps: a/b/c, a/b/d"
        );
        assert_eq!(
            check(&["a", "a/b", "x", "x"]).unwrap_err(),
            "Path errors found. Paths are duplicated: x\nThe path for file 'a/b' overlaps: a"
        );
    }
}
