//! pulp_certguard's serializers, for the schema.

use pith_http::openapi::components::{NULL, REQ, Serializer, Shape, T};

/// `X509CertGuard`: a content guard's fields and the CA bundle.
pub const SERIALIZERS: &[Serializer] = &[Serializer {
    name: "certguard.X509CertGuard",
    shape: Shape::Both,
    fields: pith_http::serializer_fields![
        ("name", T::Str, REQ),
        ("description", T::Str, NULL),
        ("ca_certificate", T::Str, REQ),
    ],
}];
