//! pulp_file's serializers: the component schemas of its types, from which the request,
//! `Patched…` and `…Response` schemas are derived as for core's.

use pith_http::openapi::components::{NULL, REQ, RO, Serializer, Shape, T, WO};

/// Every file serializer.
pub static SERIALIZERS: &[Serializer] = &[
    Serializer {
        name: "file.FileRemote",
        shape: Shape::Both,
        fields: pith_http::remote_serializer_fields![],
    },
    Serializer {
        name: "file.FileRepository",
        shape: Shape::Both,
        fields: pith_http::serializer_fields![
            ("versions_href", T::Uri, RO),
            ("pulp_labels", T::Labels, 0),
            ("latest_version_href", T::Uri, RO),
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("retain_repo_versions", T::Int, NULL),
            ("retain_checkpoints", T::Int, NULL),
            ("remote", T::Uri, NULL),
            ("autopublish", T::Bool, 0),
            ("manifest", T::Str, NULL),
            ("last_sync_details", T::Obj, RO),
        ],
    },
    Serializer {
        name: "FileRepositorySyncURL",
        shape: Shape::Request,
        fields: &[
            ("remote", T::Uri, 0),
            ("mirror", T::Bool, 0),
            ("optimize", T::Bool, 0),
        ],
    },
    Serializer {
        name: "file.FileContent",
        shape: Shape::Both,
        fields: pith_http::serializer_fields![
            ("pulp_labels", T::Labels, 0),
            ("vuln_report", T::Str, RO | NULL),
            ("repository", T::Uri, WO),
            ("overwrite", T::Bool, WO),
            ("file", T::Binary, WO),
            ("upload", T::Uri, WO),
            ("file_url", T::Uri, WO),
            ("downloader_config", T::Ref("RemoteNetworkConfig"), WO),
            ("artifact", T::Uri, 0),
            ("relative_path", T::Str, REQ),
            ("md5", T::Str, RO | NULL),
            ("sha1", T::Str, RO | NULL),
            ("sha224", T::Str, RO | NULL),
            ("sha256", T::Str, RO | NULL),
            ("sha384", T::Str, RO | NULL),
            ("sha512", T::Str, RO | NULL),
        ],
    },
    Serializer {
        name: "file.FilePublication",
        shape: Shape::Both,
        fields: pith_http::serializer_fields![
            ("repository_version", T::Uri, 0),
            ("repository", T::Uri, WO),
            ("manifest", T::Str, NULL),
            ("distributions", T::UriList, RO),
            ("checkpoint", T::Bool, 0),
        ],
    },
    Serializer {
        name: "file.FileDistribution",
        shape: Shape::Both,
        fields: pith_http::serializer_fields![
            ("base_path", T::Str, REQ),
            ("base_url", T::Str, RO),
            ("content_guard", T::Uri, NULL),
            ("no_content_change_since", T::Str, RO | NULL),
            ("hidden", T::Bool, 0),
            ("pulp_labels", T::Labels, 0),
            ("name", T::Str, REQ),
            ("repository", T::Uri, NULL),
            ("repository_version", T::Uri, NULL),
            ("publication", T::Uri, NULL),
            ("checkpoint", T::Bool, 0),
        ],
    },
];
