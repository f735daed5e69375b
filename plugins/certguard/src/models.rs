//! pulp_certguard's models: `X509CertGuard` (type `certguard.x509`) and `RHSMCertGuard` (type
//! `certguard.rhsm`), their detail tables and migrations, and their permit checks. Both trust a
//! client certificate signed by their `ca_certificate` bundle; the RHSM guard also wants the
//! request path among the certificate's entitlements ([`crate::rhsm`]).

use pith_entities::detail::{DetailField, DetailTable, FieldKind};
use pith_entities::sea_orm_migration::MigrationTrait;
use pith_http::plugin::{ContentGuardType, Permission, ViewSet};
use pith_http::{HttpState, Req};
use serde_json::Value;
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;

/// `X509CertGuard`'s viewset (`contentguards/certguard/x509/`).
pub const X509: ViewSet = ViewSet {
    detail: pith_actors::plugin::Detail {
        pulp_type: "certguard.x509",
        collection: "contentguards/certguard/x509",
        prn_type: "certguard.x509certguard",
        model: "X509CertGuard",
    },
    tag: "Contentguards: X509",
    serializer: "certguard.X509CertGuard",
    href_param: "certguard_x509_cert_guard_href",
};

/// `RHSMCertGuard`'s viewset (`contentguards/certguard/rhsm/`).
pub const RHSM: ViewSet = ViewSet {
    detail: pith_actors::plugin::Detail {
        pulp_type: "certguard.rhsm",
        collection: "contentguards/certguard/rhsm",
        prn_type: "certguard.rhsmcertguard",
        model: "RHSMCertGuard",
    },
    tag: "Contentguards: Rhsm",
    serializer: "certguard.RHSMCertGuard",
    href_param: "certguard_r_h_s_m_cert_guard_href",
};

/// The one field both guards add: the CA bundle.
const CA_FIELDS: &[DetailField] = &[DetailField {
    name: "ca_certificate",
    kind: FieldKind::Text,
    default: "null",
    read_only: false,
}];

/// `certguard_x509certguard`: the CA bundle of each X.509 guard.
pub const X509_TABLE: DetailTable = DetailTable {
    name: "certguard_x509certguard",
    key: "contentguard_id",
    fields: CA_FIELDS,
};

/// `certguard_rhsmcertguard`: the CA bundle of each RHSM guard.
pub const RHSM_TABLE: DetailTable = DetailTable {
    name: "certguard_rhsmcertguard",
    key: "contentguard_id",
    fields: CA_FIELDS,
};

/// The models' permissions (Django's defaults), for custom roles.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "certguard.add_rhsmcertguard",
        description: "Can add rhsm cert guard",
    },
    Permission {
        name: "certguard.view_rhsmcertguard",
        description: "Can view rhsm cert guard",
    },
    Permission {
        name: "certguard.change_rhsmcertguard",
        description: "Can change rhsm cert guard",
    },
    Permission {
        name: "certguard.delete_rhsmcertguard",
        description: "Can delete rhsm cert guard",
    },
    Permission {
        name: "certguard.add_x509certguard",
        description: "Can add x509 cert guard",
    },
    Permission {
        name: "certguard.view_x509certguard",
        description: "Can view x509 cert guard",
    },
    Permission {
        name: "certguard.change_x509certguard",
        description: "Can change x509 cert guard",
    },
    Permission {
        name: "certguard.delete_x509certguard",
        description: "Can delete x509 cert guard",
    },
];

/// The X.509 guard type core serves.
pub fn x509_type() -> ContentGuardType {
    cert_guard(X509, X509_TABLE, |_, r, g| {
        Box::pin(async move { Ok(trusted_client(r, g).map(drop)) })
    })
}

/// The RHSM guard type core serves.
pub fn rhsm_type() -> ContentGuardType {
    cert_guard(RHSM, RHSM_TABLE, |s, r, g| {
        Box::pin(async move { Ok(permit_rhsm(s, r, g)) })
    })
}

/// A guard type holding a CA bundle: the two differ only in their viewset, table and check.
fn cert_guard(
    viewset: ViewSet,
    table: DetailTable,
    permit: pith_http::plugin::Permit,
) -> ContentGuardType {
    ContentGuardType {
        viewset,
        table: Some(table),
        required: &["ca_certificate"],
        members: false,
        secret: false,
        validate: Some(validate),
        permit,
    }
}

/// The header the proxy passes the client certificate in.
const HEADER: &str = "x-client-cert";

/// `ca_certificate` must hold at least one PEM X.509 certificate, every one of them parseable.
fn validate(_: &HttpState, field: &str, value: &Value) -> Result<(), String> {
    const REASON: &str = "Must be PEM encoded X.509 certificate.";
    if field != "ca_certificate" {
        return Ok(());
    }
    let text = value.as_str().ok_or(REASON)?;
    let bundle = certificates(text).map_err(|_| REASON.to_owned())?;
    if bundle.is_empty() {
        return Err(REASON.into());
    }
    Ok(())
}

/// The PEM certificates in `text`: each BEGIN/END CERTIFICATE block, anything between blocks
/// ignored (as Pulp's bundle reader ignores it); a block that does not parse is an error.
fn certificates(text: &str) -> Result<Vec<Pem>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            return Err("incomplete PEM certificate".into());
        };
        let block = &rest[start..start + len + END.len()];
        let (_, pem) = x509_parser::pem::parse_x509_pem(format!("{block}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        pem.parse_x509().map_err(|e| e.to_string())?;
        out.push(pem);
        rest = &rest[start + len + END.len()..];
    }
    Ok(out)
}

/// The client certificate as the proxy sent it: URL-decoded, and re-wrapped when the proxy
/// folded the PEM onto one line (newlines became spaces).
fn client_pem(header: &str) -> String {
    let decoded = pith_http::request::unquote(header);
    let (begin, end) = ("-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----");
    match decoded.strip_prefix(begin).and_then(|r| r.split_once(end)) {
        Some((body, _)) if !body.contains('\n') => {
            format!("{begin}\n{}\n{end}\n", body.trim().replace(' ', "\n"))
        }
        _ => decoded,
    }
}

/// The request's client certificate if it is signed by a certificate of the guard's bundle and
/// valid now (Pulp's messages for the two refusals that name a cause).
fn trusted_client(req: &Req, guard: &pith_http::content_guard::Guard) -> Result<Pem, String> {
    let Some(header) = req.header(HEADER) else {
        return Err("A client certificate was not received via the `X-CLIENT-CERT` header.".into());
    };
    let pem = client_pem(header);
    let pem = certificates(&pem)?
        .into_iter()
        .next()
        .ok_or("Could not read the client certificate.")?;
    let client = pem.parse_x509().map_err(|e| e.to_string())?;
    let bundle_text = guard
        .fields
        .get("ca_certificate")
        .and_then(Value::as_str)
        .unwrap_or("");
    let bundle = certificates(bundle_text)?;
    let cas: Vec<X509Certificate<'_>> = bundle.iter().filter_map(|p| p.parse_x509().ok()).collect();
    trusted(&client, &cas)?;
    drop(client);
    Ok(pem)
}

/// A trusted client certificate that entitles its holder to the request's path: the path below
/// the content prefix (keeping the prefix's leading slash), percent-decoded as Django's
/// `request.path` is, must have one of the certificate's content sets as a prefix.
fn permit_rhsm(
    state: &HttpState,
    req: &Req,
    guard: &pith_http::content_guard::Guard,
) -> Result<(), String> {
    let pem = trusted_client(req, guard)?;
    let cert = pem.parse_x509().map_err(|e| e.to_string())?;
    let prefix = state.config.content_path_prefix.trim_end_matches('/');
    let path = pith_http::request::unquote(&req.path);
    let below = path.strip_prefix(prefix).unwrap_or(&path);
    if crate::rhsm::check_path(&cert, below)? {
        Ok(())
    } else {
        Err("Requested path is not a subpath of a path in the client certificate.".into())
    }
}

/// The verdict on `client` against the trusted `cas`.
fn trusted(client: &X509Certificate<'_>, cas: &[X509Certificate<'_>]) -> Result<(), String> {
    let signed = cas.iter().any(|ca| {
        ca.subject().as_raw() == client.issuer().as_raw()
            && client.verify_signature(Some(ca.public_key())).is_ok()
    });
    if !signed {
        return Err("Client certificate is not signed by the stored 'ca_certificate'.".into());
    }
    if !client.validity().is_valid() {
        return Err("Client certificate is expired.".into());
    }
    Ok(())
}

/// The plugin's migrations, oldest first.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(ca_table::Migration {
            name: "m20261204_000001_certguard_x509",
            table: "certguard_x509certguard",
        }),
        Box::new(ca_table::Migration {
            name: "m20261205_000001_certguard_rhsm",
            table: "certguard_rhsmcertguard",
        }),
    ]
}

/// A guard's detail table: its key into `core_contentguard` and its CA bundle.
mod ca_table {
    #![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
    use pith_entities::sea_orm_migration::prelude::*;

    pub(super) struct Migration {
        pub(super) name: &'static str,
        pub(super) table: &'static str,
    }

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            self.name
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(self.table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new("contentguard_id")
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("ca_certificate").text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(self.table, "contentguard_id")
                            .to("core_contentguard", "pulp_id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(self.table).if_exists().to_owned())
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(c: &rcgen::Certificate) -> String {
        c.pem()
    }

    #[test]
    fn client_certificates_chain_to_the_bundle() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let client_key = rcgen::KeyPair::generate().unwrap();
        let mut client_params = rcgen::CertificateParams::new(vec!["client".into()]).unwrap();
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client");
        let client = client_params.signed_by(&client_key, &issuer).unwrap();
        let other_key = rcgen::KeyPair::generate().unwrap();
        let other = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&other_key)
            .unwrap();

        let bundle = format!("some text\n{}", pem_of(&ca));
        let cas_pem = certificates(&bundle).unwrap();
        let cas: Vec<_> = cas_pem.iter().map(|p| p.parse_x509().unwrap()).collect();
        let parse = |pem: &str| certificates(pem).unwrap().remove(0);
        let c = parse(&pem_of(&client));
        assert_eq!(trusted(&c.parse_x509().unwrap(), &cas), Ok(()));
        let o = parse(&pem_of(&other));
        assert!(trusted(&o.parse_x509().unwrap(), &cas).is_err());

        // As a proxy passes it: URL-encoded, possibly folded onto one line.
        let folded = pem_of(&client).trim_end().replace('\n', " ");
        let encoded = folded
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace('/', "%2F");
        let back = parse(&client_pem(&encoded));
        assert_eq!(back.contents, c.contents);
        assert!(validate_text("not a certificate").is_err());
        assert!(validate_text(&bundle).is_ok());
    }

    fn validate_text(t: &str) -> Result<(), String> {
        let bundle = certificates(t).map_err(|e| e.to_string())?;
        if bundle.is_empty() {
            return Err("none".into());
        }
        Ok(())
    }
}
