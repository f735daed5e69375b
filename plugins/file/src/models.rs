//! pulp_file's models: the detail types it adds to core's master models, and its tables.
//!
//! `FileContent` lives in `file_filecontent` (`relative_path`, `digest`); `FileRepository`
//! adds `autopublish`, `manifest` and `last_sync_details` in `file_filerepository`,
//! `FilePublication` its `manifest` in `file_filepublication`; the remote and distribution
//! types add no field.

use pith_actors::plugin::{ContentType, Detail, Master, RepositoryType, TypeTable};
use pith_entities::content::ContentTable;
use pith_entities::detail::{DetailField, DetailTable, FieldKind};
use pith_entities::sea_orm_migration::prelude::*;
use pith_entities::versions::RepoKey;
use pith_http::plugin::Permission;

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

/// `FileRepository`'s fields.
pub const FILE_REPOSITORY_TABLE: DetailTable = DetailTable {
    name: "file_filerepository",
    key: "repository_id",
    fields: &[
        DetailField {
            name: "autopublish",
            kind: FieldKind::Bool,
            default: "false",
            read_only: false,
        },
        DetailField {
            name: "manifest",
            kind: FieldKind::Text,
            default: "\"PULP_MANIFEST\"",
            read_only: false,
        },
        DetailField {
            name: "last_sync_details",
            kind: FieldKind::Json,
            default: "{}",
            read_only: true,
        },
    ],
};

/// `FilePublication`'s fields.
pub const FILE_PUBLICATION_TABLE: DetailTable = DetailTable {
    name: "file_filepublication",
    key: "publication_id",
    fields: &[DetailField {
        name: "manifest",
        kind: FieldKind::Text,
        default: "null",
        read_only: false,
    }],
};

/// A file repository's own fields (`autopublish`, `manifest`, `last_sync_details`).
pub async fn repository_fields(
    db: &pith_entities::Db,
    id: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, pith_entities::DbError> {
    Ok(
        pith_entities::detail::load(db, &db.read, &FILE_REPOSITORY_TABLE, &[id.to_owned()])
            .await?
            .remove(id)
            .unwrap_or_else(|| FILE_REPOSITORY_TABLE.defaults()),
    )
}

/// The detail tables of the file types.
pub fn tables() -> Vec<TypeTable> {
    vec![
        TypeTable {
            master: Master::Repository,
            pulp_type: FILE_REPOSITORY.pulp_type,
            table: FILE_REPOSITORY_TABLE,
        },
        TypeTable {
            master: Master::Publication,
            pulp_type: FILE_PUBLICATION.pulp_type,
            table: FILE_PUBLICATION_TABLE,
        },
    ]
}

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
        // pulp_file has no pull-through caching.
        pull_through_add: false,
    }
}

/// The plugin's migrations, oldest first.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261201_000001_file_content::Migration),
        Box::new(m20261201_000002_file_details::Migration),
    ]
}

/// `file_filerepository` and `file_filepublication`, filled from the columns core's tables
/// had for them before plugins had detail tables (core's next migration drops those).
mod m20261201_000002_file_details {
    #![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
    use pith_entities::sea_orm::ConnectionTrait;
    use pith_entities::sea_orm_migration::prelude::*;

    pub(super) struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261201_000002_file_details"
        }
    }

    fn keyed(table: &'static str, key: &'static str, to: &'static str) -> TableCreateStatement {
        Table::create()
            .table(table)
            .if_not_exists()
            .col(ColumnDef::new(key).string_len(36).not_null().primary_key())
            .foreign_key(
                ForeignKey::create()
                    .from(table, key)
                    .to(to, "pulp_id")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned()
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                keyed("file_filerepository", "repository_id", "core_repository")
                    .col(
                        ColumnDef::new("autopublish")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new("manifest").text().null())
                    .col(
                        ColumnDef::new("last_sync_details")
                            .text()
                            .not_null()
                            .default("{}"),
                    )
                    .to_owned(),
            )
            .await?;
            m.create_table(
                keyed("file_filepublication", "publication_id", "core_publication")
                    .col(ColumnDef::new("manifest").text().null())
                    .to_owned(),
            )
            .await?;
            let db = m.get_connection();
            if m.has_column("core_repository", "manifest").await? {
                db.execute_unprepared(
                    "INSERT INTO file_filerepository (repository_id, autopublish, manifest, last_sync_details) \
                     SELECT pulp_id, autopublish, manifest, last_sync_details FROM core_repository \
                     WHERE pulp_type = 'file.file'",
                )
                .await?;
            }
            if m.has_column("core_publication", "manifest").await? {
                db.execute_unprepared(
                    "INSERT INTO file_filepublication (publication_id, manifest) \
                     SELECT pulp_id, manifest FROM core_publication WHERE pulp_type = 'file.file'",
                )
                .await?;
            }
            Ok(())
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            for t in ["file_filepublication", "file_filerepository"] {
                m.drop_table(Table::drop().table(t).if_exists().to_owned())
                    .await?;
            }
            Ok(())
        }
    }
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

/// Django's four model permissions of `model` (`file.add_<model>`, …) with its verbose name.
macro_rules! model_permissions {
    ($model:literal, $verbose:literal) => {
        [
            Permission {
                name: concat!("file.add_", $model),
                description: concat!("Can add ", $verbose),
            },
            Permission {
                name: concat!("file.change_", $model),
                description: concat!("Can change ", $verbose),
            },
            Permission {
                name: concat!("file.delete_", $model),
                description: concat!("Can delete ", $verbose),
            },
            Permission {
                name: concat!("file.view_", $model),
                description: concat!("Can view ", $verbose),
            },
        ]
    };
}

const fn permission(name: &'static str, description: &'static str) -> Permission {
    Permission { name, description }
}

const CONTENT_PERMISSIONS: [Permission; 4] = model_permissions!("filecontent", "file content");
const REMOTE_PERMISSIONS: [Permission; 4] = model_permissions!("fileremote", "file remote");
const REPOSITORY_PERMISSIONS: [Permission; 4] =
    model_permissions!("filerepository", "file repository");
const PUBLICATION_PERMISSIONS: [Permission; 4] =
    model_permissions!("filepublication", "file publication");
const DISTRIBUTION_PERMISSIONS: [Permission; 4] =
    model_permissions!("filedistribution", "file distribution");

/// pulp_file's model permissions (Django's four per model and those its models' `Meta`
/// adds), for the RBAC layer's roles and access policies.
pub const PERMISSIONS: &[Permission] = &[
    CONTENT_PERMISSIONS[0],
    CONTENT_PERMISSIONS[1],
    CONTENT_PERMISSIONS[2],
    CONTENT_PERMISSIONS[3],
    permission(
        "file.upload_files",
        "Can upload File content using synchronous API.",
    ),
    REMOTE_PERMISSIONS[0],
    REMOTE_PERMISSIONS[1],
    REMOTE_PERMISSIONS[2],
    REMOTE_PERMISSIONS[3],
    permission(
        "file.manage_roles_fileremote",
        "Can manage roles on file remotes",
    ),
    REPOSITORY_PERMISSIONS[0],
    REPOSITORY_PERMISSIONS[1],
    REPOSITORY_PERMISSIONS[2],
    REPOSITORY_PERMISSIONS[3],
    permission("file.sync_filerepository", "Can start a sync task"),
    permission(
        "file.modify_filerepository",
        "Can modify content of the repository",
    ),
    permission(
        "file.manage_roles_filerepository",
        "Can manage roles on file repositories",
    ),
    permission(
        "file.repair_filerepository",
        "Can repair repository versions",
    ),
    PUBLICATION_PERMISSIONS[0],
    PUBLICATION_PERMISSIONS[1],
    PUBLICATION_PERMISSIONS[2],
    PUBLICATION_PERMISSIONS[3],
    permission(
        "file.manage_roles_filepublication",
        "Can manage roles on file publications",
    ),
    DISTRIBUTION_PERMISSIONS[0],
    DISTRIBUTION_PERMISSIONS[1],
    DISTRIBUTION_PERMISSIONS[2],
    DISTRIBUTION_PERMISSIONS[3],
    permission(
        "file.manage_roles_filedistribution",
        "Can manage roles on file distributions",
    ),
];

/// pulp_file's locked roles (its viewsets' `LOCKED_ROLES`).
pub const ROLES: &[pith_http::plugin::LockedRole] = {
    use pith_http::plugin::LockedRole as R;
    &[
        R {
            name: "file.filerepository_creator",
            permissions: &["file.add_filerepository"],
        },
        R {
            name: "file.filerepository_owner",
            permissions: &[
                "file.view_filerepository",
                "file.change_filerepository",
                "file.delete_filerepository",
                "file.modify_filerepository",
                "file.sync_filerepository",
                "file.manage_roles_filerepository",
                "file.repair_filerepository",
            ],
        },
        R {
            name: "file.filerepository_viewer",
            permissions: &["file.view_filerepository"],
        },
        R {
            name: "file.fileremote_creator",
            permissions: &["file.add_fileremote"],
        },
        R {
            name: "file.fileremote_owner",
            permissions: &[
                "file.view_fileremote",
                "file.change_fileremote",
                "file.delete_fileremote",
                "file.manage_roles_fileremote",
            ],
        },
        R {
            name: "file.fileremote_viewer",
            permissions: &["file.view_fileremote"],
        },
        R {
            name: "file.filepublication_creator",
            permissions: &["file.add_filepublication"],
        },
        R {
            name: "file.filepublication_owner",
            permissions: &[
                "file.view_filepublication",
                "file.delete_filepublication",
                "file.manage_roles_filepublication",
            ],
        },
        R {
            name: "file.filepublication_viewer",
            permissions: &["file.view_filepublication"],
        },
        R {
            name: "file.filedistribution_creator",
            permissions: &["file.add_filedistribution"],
        },
        R {
            name: "file.filedistribution_owner",
            permissions: &[
                "file.view_filedistribution",
                "file.change_filedistribution",
                "file.delete_filedistribution",
                "file.manage_roles_filedistribution",
            ],
        },
        R {
            name: "file.filedistribution_viewer",
            permissions: &["file.view_filedistribution"],
        },
        R {
            name: "file.file_uploader",
            permissions: &["file.upload_files"],
        },
    ]
};
