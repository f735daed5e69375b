//! pulp_certguard for Pith: the X.509 and RHSM content guards (`contentguards/certguard/x509/`,
//! `…/rhsm/`). A webserver in front of the content app terminates TLS and passes the client's
//! certificate on in `X-CLIENT-CERT` (URL-encoded PEM); both guards permit a request whose
//! certificate is signed by one of the guard's `ca_certificate` bundle and valid now, and the
//! RHSM guard also wants the request path among the content sets of that Red Hat entitlement
//! certificate.
//!
//! Laid out as the Pulp plugin is: [`models`] (the types, their tables and migrations, the
//! permit checks), [`serializers`], and [`rhsm`] (entitlement decoding, pulp_certguard's
//! `rhsm` package); its viewsets are core's content-guard viewset, with no access policy of
//! their own (superusers only), as in pulp_certguard.

pub mod models;
pub mod rhsm;
pub mod serializers;

use pith_http::plugin::{Component, Plugin};

/// The app label.
pub const APP_LABEL: &str = "certguard";

/// pulp_certguard's declaration.
pub fn plugin() -> Plugin {
    Plugin {
        component: Component {
            component: APP_LABEL,
            version: pith_http::config::PULP_CORE_VERSION,
            // pulp_certguard ships inside the pulpcore package.
            package: "pulpcore",
            module: "pulp_certguard.app",
            domain_compatible: true,
        },
        types: Default::default(),
        remotes: Vec::new(),
        repositories: Vec::new(),
        publications: Vec::new(),
        distributions: Vec::new(),
        tasks: Vec::new(),
        creators: Vec::new(),
        migrations: models::migrations,
        endpoints: Vec::new(),
        serializers: serializers::SERIALIZERS,
        prefixes: Vec::new(),
        distribution_hooks: Vec::new(),
        settings: &[],
        permissions: models::PERMISSIONS,
        content_guards: vec![models::x509_type(), models::rhsm_type()],
        roles: &[],
        access_policies: &[],
    }
}
