//! pulp_certguard for Pith: the X.509 content guard (`contentguards/certguard/x509/`). A
//! webserver in front of the content app terminates TLS and passes the client's certificate
//! on in `X-CLIENT-CERT` (URL-encoded PEM); the guard permits a request whose certificate is
//! signed by one of the guard's `ca_certificate` bundle and valid now.
//!
//! Laid out as the Pulp plugin is: [`models`] (the type, its table and migration, the permit
//! check) and [`serializers`]; its viewset is core's content-guard viewset, with no access
//! policy of its own (superusers only), as in pulp_certguard.
//!
//! Not here yet: pulp_certguard's RHSM guard (`contentguards/certguard/rhsm/`), which also
//! matches the request path against the content sets of a Red Hat entitlement certificate.

pub mod models;
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
        content_guards: vec![models::x509_type()],
        roles: &[],
        access_policies: &[],
    }
}
