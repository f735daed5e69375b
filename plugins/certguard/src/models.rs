//! pulp_certguard's model: `X509CertGuard` (type `certguard.x509`), its detail table and
//! migration, and its permit check.

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

/// `certguard_x509certguard`: the CA bundle of each guard.
pub const X509_TABLE: DetailTable = DetailTable {
    name: "certguard_x509certguard",
    key: "contentguard_id",
    fields: &[DetailField {
        name: "ca_certificate",
        kind: FieldKind::Text,
        default: "null",
        read_only: false,
    }],
};

/// The model's permissions (Django's defaults), for custom roles.
pub const PERMISSIONS: &[Permission] = &[
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

/// The guard type core serves.
pub fn x509_type() -> ContentGuardType {
    ContentGuardType {
        viewset: X509,
        table: Some(X509_TABLE),
        required: &["ca_certificate"],
        members: false,
        secret: false,
        validate: Some(validate),
        permit: |_, r, g| Box::pin(async move { Ok(permit(r, g)) }),
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
    let decoded = percent_decode(header);
    let (begin, end) = ("-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----");
    match decoded.strip_prefix(begin).and_then(|r| r.split_once(end)) {
        Some((body, _)) if !body.contains('\n') => {
            format!("{begin}\n{}\n{end}\n", body.trim().replace(' ', "\n"))
        }
        _ => decoded,
    }
}

/// `%XX` sequences decoded (`+` stays: Python's `unquote` keeps it).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the request's client certificate is signed by a certificate of the guard's bundle
/// and valid now (Pulp's messages for the two refusals that name a cause).
fn permit(req: &Req, guard: &pith_http::content_guard::Guard) -> Result<(), String> {
    let Some(header) = req.header(HEADER) else {
        return Err("A client certificate was not received via the `X-CLIENT-CERT` header.".into());
    };
    let pem = client_pem(header);
    let client = certificates(&pem)?;
    let client = client
        .first()
        .ok_or("Could not read the client certificate.")?;
    let client = client.parse_x509().map_err(|e| e.to_string())?;
    let bundle_text = guard
        .fields
        .get("ca_certificate")
        .and_then(Value::as_str)
        .unwrap_or("");
    let bundle = certificates(bundle_text)?;
    let cas: Vec<X509Certificate<'_>> = bundle.iter().filter_map(|p| p.parse_x509().ok()).collect();
    trusted(&client, &cas)
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
    vec![Box::new(m20261204_000001_x509::Migration)]
}

mod m20261204_000001_x509 {
    #![allow(elided_lifetimes_in_paths)] // sea-orm-migration's trait elides them
    use pith_entities::sea_orm_migration::prelude::*;

    pub(super) struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261204_000001_certguard_x509"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table("certguard_x509certguard")
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
                            .from("certguard_x509certguard", "contentguard_id")
                            .to("core_contentguard", "pulp_id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(
                Table::drop()
                    .table("certguard_x509certguard")
                    .if_exists()
                    .to_owned(),
            )
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
