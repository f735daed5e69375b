//! pulp_file's models: the detail types it adds to core's master models, and its tables.
//!
//! `FileContent` lives in `file_filecontent` (`relative_path`, `digest`); the remote,
//! repository, publication and distribution types add no table of their own (the
//! repository's and publication's `manifest` are still columns of core's tables, as before
//! plugins had migrations).

use pith_actors::plugin::{ContentType, Detail, RepositoryType};
use pith_entities::content::ContentTable;
use pith_entities::sea_orm_migration::prelude::*;
use pith_entities::versions::RepoKey;

/// `file.file` content.
pub const FILE_CONTENT: ContentType = ContentType {
    detail: Detail {
        pulp_type: "file.file",
        collection: "content/file/files",
        prn_type: "file.filecontent",
        model: "FileContent",
    },
    table: ContentTable {
        name: "file_filecontent",
        natural_key: &["relative_path", "digest"],
        fields: &[],
    },
    references: &[],
};

/// File remotes.
pub const FILE_REMOTE: Detail = Detail {
    pulp_type: "file.file",
    collection: "remotes/file/file",
    prn_type: "file.fileremote",
    model: "FileRemote",
};

/// File repositories.
pub const FILE_REPOSITORY: Detail = Detail {
    pulp_type: "file.file",
    collection: "repositories/file/file",
    prn_type: "file.filerepository",
    model: "FileRepository",
};

/// File publications.
pub const FILE_PUBLICATION: Detail = Detail {
    pulp_type: "file.file",
    collection: "publications/file/file",
    prn_type: "file.filepublication",
    model: "FilePublication",
};

/// File distributions.
pub const FILE_DISTRIBUTION: Detail = Detail {
    pulp_type: "file.file",
    collection: "distributions/file/file",
    prn_type: "file.filedistribution",
    model: "FileDistribution",
};

/// pulp_file's repository key: a unit replaces the one with its relative path.
pub const FILE_REPO_KEY: RepoKey = RepoKey {
    table: "file_filecontent",
    columns: &["relative_path"],
};

/// The file repository type: keyed by relative path, validated as Pulp's `FileRepository`
/// validates each new version (no duplicate content, no overlapping paths), autopublishing when
/// asked to.
pub fn file_repository() -> RepositoryType {
    RepositoryType {
        detail: FILE_REPOSITORY,
        key: FILE_REPO_KEY,
        finalize_new_version: Some(|ctx, txn, repo, number| {
            Box::pin(pith_actors::tasks::repository::validate_repo_version(
                ctx, txn, repo, number,
            ))
        }),
        on_new_version: Some(|ctx, v3, repo, version| {
            Box::pin(crate::tasks::publishing::autopublish(
                ctx, v3, repo, version,
            ))
        }),
    }
}

/// The plugin's migrations, oldest first.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261201_000001_file_content::Migration)]
}

/// `file_filecontent`. Databases made before plugins had migrations already have it (core's
/// repositories migration created it then): it is created only where missing.
mod m20261201_000001_file_content {
    #![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
    use pith_entities::sea_orm_migration::prelude::*;

    pub(super) struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261201_000001_file_content"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table("file_filecontent")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("content_id")
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("relative_path").text().not_null())
                    .col(ColumnDef::new("digest").string_len(64).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from("file_filecontent", "content_id")
                            .to("core_content", "pulp_id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
            m.create_index(
                Index::create()
                    .name("file_filecontent_natural_key")
                    .table("file_filecontent")
                    .col("relative_path")
                    .col("digest")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(
                Table::drop()
                    .table("file_filecontent")
                    .if_exists()
                    .to_owned(),
            )
            .await
        }
    }
}
