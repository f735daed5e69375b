//! pulp_certguard's serializers, for the schema.

use pith_http::openapi::components::{Field, NULL, REQ, Serializer, Shape, T};

/// A content guard's fields and the CA bundle: both guards' serializers have exactly these.
const CERT_GUARD_FIELDS: &[Field] = pith_http::serializer_fields![
    ("name", T::Str, REQ),
    ("description", T::Str, NULL),
    ("ca_certificate", T::Str, REQ),
];

/// `X509CertGuard` and `RHSMCertGuard`.
pub const SERIALIZERS: &[Serializer] = &[
    Serializer {
        name: "certguard.X509CertGuard",
        shape: Shape::Both,
        fields: CERT_GUARD_FIELDS,
    },
    Serializer {
        name: "certguard.RHSMCertGuard",
        shape: Shape::Both,
        fields: CERT_GUARD_FIELDS,
    },
];
