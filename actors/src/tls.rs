//! TLS for outgoing HTTPS (remotes): reqwest is built with rustls but without a crypto
//! provider (its default, aws-lc, is slow to build), so every process installs `ring` once
//! before it builds an HTTP client.

/// Installs rustls' `ring` provider for this process; idempotent.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
