//! The component schemas: each serializer's fields once, from which the request schema
//! (writable fields, with what is required on create), its `Patched…` twin (nothing required)
//! and the `…Response` schema (readable fields) are derived, as drf-spectacular does with
//! `COMPONENT_SPLIT_REQUEST`.

use serde_json::{Map, Value, json};

/// A field's type.
#[derive(Clone, Copy, Debug)]
pub enum T {
    Str,
    Int,
    Num,
    Bool,
    /// An href or URL.
    Uri,
    /// An RFC 3339 timestamp.
    Time,
    /// Any JSON object.
    Obj,
    /// `pulp_labels`: string → string.
    Labels,
    /// A file part of a multipart body.
    Binary,
    /// Any JSON value.
    Any,
    /// One of these strings.
    Enum(&'static [&'static str]),
    StrList,
    UriList,
    ObjList,
    /// Another component.
    Ref(&'static str),
    /// A list of another component.
    RefList(&'static str),
}

/// Response only.
pub const RO: u8 = 1;
/// Request only.
pub const WO: u8 = 2;
/// Required in a create request.
pub const REQ: u8 = 4;
/// May be null.
pub const NULL: u8 = 8;

/// One field.
pub type Field = (&'static str, T, u8);

/// Which schemas a serializer yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `Name`, `PatchedName` and `NameResponse`.
    Both,
    /// Only `Name` (a request body).
    Request,
    /// Only `Name` itself, which already ends in `Response`.
    Response,
}

/// A serializer: its component name and fields.
#[derive(Debug)]
pub struct Serializer {
    pub name: &'static str,
    pub shape: Shape,
    pub fields: &'static [Field],
}

/// The JSON schema of one type.
pub fn type_schema(t: T, nullable: bool) -> Value {
    let mut v = match t {
        T::Str => json!({"type": "string"}),
        T::Int => json!({"type": "integer", "format": "int64"}),
        T::Num => json!({"type": "number", "format": "double"}),
        T::Bool => json!({"type": "boolean"}),
        T::Uri => json!({"type": "string", "format": "uri"}),
        T::Time => json!({"type": "string", "format": "date-time"}),
        T::Obj | T::Any => json!({"type": "object", "additionalProperties": {}}),
        T::Labels => {
            json!({"type": "object", "additionalProperties": {"type": ["string", "null"]}})
        }
        T::Binary => json!({"type": "string", "format": "binary"}),
        T::Enum(values) => json!({"type": "string", "enum": values}),
        T::StrList => json!({"type": "array", "items": {"type": "string"}}),
        T::UriList => json!({"type": "array", "items": {"type": "string", "format": "uri"}}),
        T::ObjList => {
            json!({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
        }
        T::Ref(name) => return json!({"$ref": format!("#/components/schemas/{name}")}),
        T::RefList(name) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}})
        }
    };
    if matches!(t, T::Any) {
        v = json!({});
    }
    if nullable && let Some(ty) = v.get("type").cloned() {
        v["type"] = json!([ty, "null"]);
    }
    v
}

fn object(fields: &[Field], keep: impl Fn(u8) -> bool, required: bool) -> Value {
    let mut props = Map::new();
    let mut req = Vec::new();
    for (name, t, flags) in fields {
        if !keep(*flags) {
            continue;
        }
        let mut s = type_schema(*t, flags & NULL != 0);
        if flags & RO != 0 && s.get("$ref").is_none() {
            s["readOnly"] = json!(true);
        }
        if flags & WO != 0 {
            s["writeOnly"] = json!(true);
        }
        props.insert((*name).to_owned(), s);
        if required && flags & REQ != 0 {
            req.push(*name);
        }
    }
    let mut v = json!({"type": "object", "properties": props});
    if !req.is_empty() {
        v["required"] = json!(req);
    }
    v
}

impl Serializer {
    /// Its schemas by component name.
    pub fn schemas(&self) -> Vec<(String, Value)> {
        let request = |f: u8| f & RO == 0;
        let response = |f: u8| f & WO == 0;
        match self.shape {
            Shape::Request => vec![(self.name.to_owned(), object(self.fields, request, true))],
            Shape::Response => vec![(self.name.to_owned(), object(self.fields, response, false))],
            Shape::Both => vec![
                (self.name.to_owned(), object(self.fields, request, true)),
                (
                    format!("Patched{}", self.name),
                    object(self.fields, request, false),
                ),
                (
                    format!("{}Response", self.name),
                    object(self.fields, response, false),
                ),
            ],
        }
    }
}

/// The fields every model has, then `$rest` (a serializer's own).
#[macro_export]
macro_rules! serializer_fields {
    ($($rest:tt)*) => {
        &[
            ("pulp_href", $crate::openapi::components::T::Uri, $crate::openapi::components::RO),
            ("prn", $crate::openapi::components::T::Str, $crate::openapi::components::RO),
            ("pulp_created", $crate::openapi::components::T::Time, $crate::openapi::components::RO),
            ("pulp_last_updated", $crate::openapi::components::T::Time, $crate::openapi::components::RO),
            $($rest)*
        ]
    };
}
use serializer_fields as base;

/// Pulp's `RemoteSerializer` fields (every remote type has them), then `$rest`.
#[macro_export]
macro_rules! remote_serializer_fields {
    ($($rest:tt)*) => {{
        use $crate::openapi::components::{NULL, REQ, RO, T, WO};
        $crate::serializer_fields![
            ("name", T::Str, REQ),
            ("url", T::Str, REQ),
            ("ca_cert", T::Str, NULL),
            ("client_cert", T::Str, NULL),
            ("client_key", T::Str, NULL | WO),
            ("tls_validation", T::Bool, 0),
            ("proxy_url", T::Str, NULL),
            ("proxy_username", T::Str, NULL | WO),
            ("proxy_password", T::Str, NULL | WO),
            ("username", T::Str, NULL | WO),
            ("password", T::Str, NULL | WO),
            ("pulp_labels", T::Labels, 0),
            ("download_concurrency", T::Int, NULL),
            ("max_retries", T::Int, NULL),
            ("policy", T::Enum($crate::openapi::components::POLICIES), 0),
            ("total_timeout", T::Num, NULL),
            ("connect_timeout", T::Num, NULL),
            ("sock_connect_timeout", T::Num, NULL),
            ("sock_read_timeout", T::Num, NULL),
            ("headers", T::ObjList, 0),
            ("rate_limit", T::Int, NULL),
            ("hidden_fields", T::ObjList, RO),
            $($rest)*
        ]
    }};
}

/// A remote's download policies.
pub const POLICIES: &[&str] = &["immediate", "on_demand", "streamed"];
const TASK_STATES: &[&str] = &[
    "waiting",
    "skipped",
    "running",
    "completed",
    "failed",
    "canceled",
    "canceling",
];

/// Every serializer the API uses.
pub const SERIALIZERS: &[Serializer] = &[
    Serializer {
        name: "NestedRole",
        shape: Shape::Both,
        fields: &[
            ("users", T::StrList, 0),
            ("groups", T::StrList, 0),
            ("role", T::Str, REQ),
        ],
    },
    Serializer {
        name: "ObjectRolesResponse",
        shape: Shape::Response,
        fields: &[("roles", T::RefList("NestedRoleResponse"), REQ)],
    },
    Serializer {
        name: "AccessPolicy",
        shape: Shape::Both,
        fields: base![
            ("permissions_assignment", T::ObjList, 0),
            ("creation_hooks", T::ObjList, 0),
            ("statements", T::ObjList, REQ),
            ("viewset_name", T::Str, RO),
            ("customized", T::Bool, RO),
            ("queryset_scoping", T::Obj, NULL),
        ],
    },
    Serializer {
        name: "MyPermissionsResponse",
        shape: Shape::Response,
        fields: &[("permissions", T::StrList, REQ)],
    },
    Serializer {
        name: "User",
        shape: Shape::Both,
        fields: &[
            ("pulp_href", T::Uri, RO),
            ("prn", T::Str, RO),
            ("id", T::Int, RO),
            ("username", T::Str, REQ),
            ("password", T::Str, WO | NULL),
            ("first_name", T::Str, 0),
            ("last_name", T::Str, 0),
            ("email", T::Str, 0),
            ("is_staff", T::Bool, 0),
            ("is_active", T::Bool, 0),
            ("date_joined", T::Time, RO),
            ("groups", T::ObjList, RO),
            ("hidden_fields", T::ObjList, RO),
        ],
    },
    Serializer {
        name: "Login",
        shape: Shape::Both,
        fields: &[
            ("pulp_href", T::Uri, RO),
            ("prn", T::Str, RO),
            ("username", T::Str, RO),
        ],
    },
    Serializer {
        name: "LoginUpdate",
        shape: Shape::Both,
        fields: &[
            ("username", T::Str, 0),
            ("old_password", T::Str, WO),
            ("new_password", T::Str, WO),
            ("first_name", T::Str, 0),
            ("last_name", T::Str, 0),
            ("email", T::Str, 0),
        ],
    },
    Serializer {
        name: "Group",
        shape: Shape::Both,
        fields: &[
            ("pulp_href", T::Uri, RO),
            ("prn", T::Str, RO),
            ("id", T::Int, RO),
            ("name", T::Str, REQ),
        ],
    },
    Serializer {
        name: "GroupUser",
        shape: Shape::Both,
        fields: &[
            ("username", T::Str, REQ),
            ("pulp_href", T::Uri, RO),
            ("prn", T::Str, RO),
        ],
    },
    Serializer {
        name: "Role",
        shape: Shape::Both,
        fields: base![
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("permissions", T::StrList, REQ),
            ("locked", T::Bool, RO),
        ],
    },
    Serializer {
        name: "UserRole",
        shape: Shape::Both,
        fields: base![
            ("role", T::Str, REQ),
            ("content_object", T::Str, REQ | NULL),
            ("content_object_prn", T::Str, RO | NULL),
            ("description", T::Str, RO | NULL),
            ("permissions", T::StrList, RO),
            ("domain", T::Uri, NULL),
        ],
    },
    Serializer {
        name: "GroupRole",
        shape: Shape::Both,
        fields: base![
            ("role", T::Str, REQ),
            ("content_object", T::Str, REQ | NULL),
            ("content_object_prn", T::Str, RO | NULL),
            ("description", T::Str, RO | NULL),
            ("permissions", T::StrList, RO),
            ("domain", T::Uri, NULL),
        ],
    },
    Serializer {
        name: "ContentGuardResponse",
        shape: Shape::Response,
        fields: base![("name", T::Str, REQ), ("description", T::Str, NULL)],
    },
    Serializer {
        name: "RBACContentGuard",
        shape: Shape::Both,
        fields: base![
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("users", T::ObjList, RO),
            ("groups", T::ObjList, RO),
        ],
    },
    Serializer {
        name: "ContentRedirectContentGuard",
        shape: Shape::Both,
        fields: base![("name", T::Str, REQ), ("description", T::Str, NULL)],
    },
    Serializer {
        name: "HeaderContentGuard",
        shape: Shape::Both,
        fields: base![
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("header_name", T::Str, REQ),
            ("header_value", T::Str, REQ),
            ("jq_filter", T::Str, NULL),
        ],
    },
    Serializer {
        name: "EnvVarHeaderContentGuard",
        shape: Shape::Both,
        fields: base![
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("header_name", T::Str, REQ),
            ("env_var", T::Str, REQ),
        ],
    },
    Serializer {
        name: "CompositeContentGuard",
        shape: Shape::Both,
        fields: base![
            ("name", T::Str, REQ),
            ("description", T::Str, NULL),
            ("guards", T::UriList, NULL),
        ],
    },
    Serializer {
        name: "AsyncOperationResponse",
        shape: Shape::Response,
        fields: &[("task", T::Uri, REQ)],
    },
    Serializer {
        name: "StatusResponse",
        shape: Shape::Response,
        fields: &[
            ("versions", T::ObjList, 0),
            ("online_workers", T::ObjList, 0),
            ("online_api_apps", T::ObjList, 0),
            ("online_content_apps", T::ObjList, 0),
            ("database_connection", T::Obj, 0),
            ("redis_connection", T::Obj, NULL),
            ("storage", T::Obj, NULL),
            ("content_settings", T::Obj, 0),
            ("domain_enabled", T::Bool, 0),
            ("pith", T::Obj, 0),
        ],
    },
    Serializer {
        name: "TaskResponse",
        shape: Shape::Response,
        fields: base![
            ("name", T::Str, 0),
            ("logging_cid", T::Str, 0),
            ("created_by", T::Uri, NULL),
            ("unblocked_at", T::Time, NULL),
            ("started_at", T::Time, NULL),
            ("finished_at", T::Time, NULL),
            ("error", T::Obj, NULL),
            ("worker", T::Uri, NULL),
            ("parent_task", T::Uri, NULL),
            ("child_tasks", T::UriList, 0),
            ("task_group", T::Uri, NULL),
            ("progress_reports", T::ObjList, 0),
            ("created_resources", T::UriList, 0),
            ("created_resource_prns", T::StrList, 0),
            ("reserved_resources_record", T::StrList, 0),
            ("result", T::Any, NULL),
            ("state", T::Enum(TASK_STATES), 0),
            ("pulp_api_version", T::Str, NULL),
        ],
    },
    Serializer {
        name: "PatchedTaskCancel",
        shape: Shape::Request,
        fields: &[("state", T::Enum(&["canceled"]), REQ)],
    },
    Serializer {
        name: "Purge",
        shape: Shape::Request,
        fields: &[("finished_before", T::Time, 0), ("states", T::StrList, 0)],
    },
    Serializer {
        name: "OrphansCleanup",
        shape: Shape::Request,
        fields: &[
            ("content_hrefs", T::UriList, 0),
            ("orphan_protection_time", T::Int, NULL),
        ],
    },
    Serializer {
        name: "WorkerResponse",
        shape: Shape::Response,
        fields: base![
            ("name", T::Str, 0),
            ("last_heartbeat", T::Time, 0),
            ("versions", T::Obj, 0),
            ("current_task", T::Uri, NULL),
        ],
    },
    Serializer {
        name: "Artifact",
        shape: Shape::Both,
        fields: base![
            ("file", T::Binary, REQ),
            ("size", T::Int, 0),
            ("md5", T::Str, NULL),
            ("sha1", T::Str, NULL),
            ("sha224", T::Str, NULL),
            ("sha256", T::Str, NULL),
            ("sha384", T::Str, NULL),
            ("sha512", T::Str, NULL),
        ],
    },
    Serializer {
        name: "MultipleArtifactContentResponse",
        shape: Shape::Response,
        fields: base![
            ("pulp_labels", T::Labels, 0),
            ("vuln_report", T::Str, NULL),
            ("artifacts", T::Obj, 0),
        ],
    },
    Serializer {
        name: "SetLabel",
        shape: Shape::Both,
        fields: &[("key", T::Str, REQ), ("value", T::Str, REQ | NULL)],
    },
    Serializer {
        name: "UnsetLabel",
        shape: Shape::Both,
        fields: &[("key", T::Str, REQ), ("value", T::Str, RO)],
    },
    Serializer {
        name: "RepositoryVersionResponse",
        shape: Shape::Response,
        fields: base![
            ("number", T::Int, 0),
            ("repository", T::Uri, 0),
            ("base_version", T::Uri, NULL),
            ("content_summary", T::Obj, 0),
            ("vuln_report", T::Str, 0),
        ],
    },
    Serializer {
        name: "RepositoryAddRemoveContent",
        shape: Shape::Request,
        fields: &[
            ("add_content_units", T::StrList, 0),
            ("remove_content_units", T::StrList, 0),
            ("base_version", T::Uri, NULL),
            ("overwrite", T::Bool, 0),
        ],
    },
    Serializer {
        name: "Repair",
        shape: Shape::Request,
        fields: &[("verify_checksums", T::Bool, 0)],
    },
    Serializer {
        name: "RemoteNetworkConfig",
        shape: Shape::Request,
        fields: &[
            ("ca_cert", T::Str, NULL),
            ("client_cert", T::Str, NULL),
            ("client_key", T::Str, NULL),
            ("tls_validation", T::Bool, 0),
            ("proxy_url", T::Str, NULL),
            ("proxy_username", T::Str, NULL),
            ("proxy_password", T::Str, NULL),
            ("username", T::Str, NULL),
            ("password", T::Str, NULL),
            ("max_retries", T::Int, NULL),
            ("total_timeout", T::Num, NULL),
            ("connect_timeout", T::Num, NULL),
            ("sock_connect_timeout", T::Num, NULL),
            ("sock_read_timeout", T::Num, NULL),
            ("headers", T::ObjList, 0),
            ("rate_limit", T::Int, NULL),
        ],
    },
    Serializer {
        name: "Upload",
        shape: Shape::Both,
        fields: base![("size", T::Int, REQ), ("completed", T::Time, RO | NULL)],
    },
    Serializer {
        name: "UploadDetailResponse",
        shape: Shape::Response,
        fields: base![
            ("size", T::Int, 0),
            ("completed", T::Time, NULL),
            ("chunks", T::ObjList, 0),
        ],
    },
    Serializer {
        name: "UploadChunk",
        shape: Shape::Request,
        fields: &[("file", T::Binary, REQ), ("sha256", T::Str, NULL)],
    },
    Serializer {
        name: "UploadCommit",
        shape: Shape::Request,
        fields: &[("sha256", T::Str, REQ)],
    },
    Serializer {
        name: "TestTask",
        shape: Shape::Request,
        fields: &[
            ("seconds", T::Num, 0),
            ("fail", T::Bool, 0),
            ("panic", T::Bool, 0),
            ("result", T::Any, 0),
            ("exclusive_resources", T::StrList, 0),
            ("shared_resources", T::StrList, 0),
            ("immediate", T::Bool, 0),
            ("deferred", T::Bool, 0),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_response_split() {
        let s = Serializer {
            name: "x.YRemote",
            shape: Shape::Both,
            fields: crate::remote_serializer_fields![],
        };
        let all: std::collections::BTreeMap<String, Value> = s.schemas().into_iter().collect();
        let req = &all["x.YRemote"];
        assert_eq!(req["required"], json!(["name", "url"]));
        assert!(req["properties"].get("pulp_href").is_none());
        assert_eq!(req["properties"]["password"]["writeOnly"], true);
        assert_eq!(
            req["properties"]["ca_cert"]["type"],
            json!(["string", "null"])
        );
        assert!(all["Patchedx.YRemote"].get("required").is_none());
        let resp = &all["x.YRemoteResponse"];
        assert!(resp["properties"].get("password").is_none());
        assert_eq!(resp["properties"]["pulp_href"]["readOnly"], true);
    }
}
