//! HTTPS remotes: a local TLS server with a test CA (and optionally required client
//! certificates); `ca_cert`, `client_cert`/`client_key`, `tls_validation` and `rate_limit`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use reqwest::Method;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, Env, Server};

/// A test CA with a server certificate for 127.0.0.1 and a client certificate.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: (CertificateDer<'static>, Vec<u8>),
    client_pem: (String, String),
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, "Pith test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("ca");
    let leaf = |names: Vec<String>, eku: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(names).expect("params");
        p.extended_key_usages = vec![eku];
        p.distinguished_name.push(DnType::CommonName, "pith test");
        let cert = p.signed_by(&key, &ca).expect("sign");
        (cert, key)
    };
    let (server, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server: (server.der().clone(), server_key.serialize_der()),
        client_pem: (client.pem(), client_key.serialize_pem()),
    }
}

/// A tiny HTTPS/1.1 file server (one request per connection) that records when each request
/// arrived.
struct TlsFixture {
    base: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFixture {
    fn drop(&mut self) {
        self._task.abort();
    }
}

async fn tls_fixture(p: &Pki, files: HashMap<String, Vec<u8>>, client_auth: bool) -> TlsFixture {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(p.ca_der.clone()).expect("root");
        let v =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("verifier");
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::try_from(p.server.1.clone()).expect("key");
    let config = builder
        .with_single_cert(vec![p.server.0.clone()], key)
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("https://{}", listener.local_addr().expect("addr"));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (files, seen) = (Arc::new(files), arrivals.clone());
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, files, seen) = (acceptor.clone(), files.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // handshake refused (that is what some tests want)
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock().expect("lock").push(Instant::now());
                let text = String::from_utf8_lossy(&head);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = match files.get(&path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let mut resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                resp.extend_from_slice(&body);
                let _ = tls.write_all(&resp).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsFixture {
        base,
        arrivals,
        _task: task,
    }
}

fn repo_files(tag: &str, n: usize) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let mut manifest = String::new();
    for i in 0..n {
        let body = format!("{tag} file {i}").into_bytes();
        manifest.push_str(&format!(
            "f{i}.txt,{},{}\n",
            hex::encode(Sha256::digest(&body)),
            body.len()
        ));
        files.insert(format!("/f{i}.txt"), body);
    }
    files.insert("/PULP_MANIFEST".into(), manifest.into_bytes());
    files
}

/// Creates a remote with `fields` and a repository using it, syncs, returns the final task.
async fn sync_with(s: &Server, name: &str, fields: Value) -> Value {
    let mut body = json!({ "name": name });
    for (k, v) in fields.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (code, remote) = s
        .send(Method::POST, "/pulp/api/v3/remotes/file/file/", body)
        .await;
    assert_eq!(code, 201, "{remote}");
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": name, "remote": remote["pulp_href"]}),
        )
        .await;
    let (_, t) = s
        .send(
            Method::POST,
            &format!("{}sync/", repo["pulp_href"].as_str().expect("repo")),
            json!({}),
        )
        .await;
    s.finished(t["task"].as_str().expect("task")).await
}

fn error_of(t: &Value) -> String {
    t["error"]["description"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_remotes_with_ca_client_certificates_and_rate_limit() {
    let env = Env::new(Backend::Sqlite).expect("env");
    let s = env.start(&[]);
    let p = pki();
    let open = tls_fixture(&p, repo_files("open", 3), false).await;
    let url = format!("{}/PULP_MANIFEST", open.base);

    // An unknown CA is refused, and the error says why.
    let t = sync_with(&s, "untrusted", json!({"url": url, "max_retries": 0})).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert!(error_of(&t).to_lowercase().contains("certificate"), "{t}");
    // Trusting the CA through `ca_cert`, or not validating at all, works.
    let t = sync_with(&s, "trusted", json!({"url": url, "ca_cert": p.ca_pem})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let t = sync_with(
        &s,
        "unvalidated",
        json!({"url": url, "tls_validation": false}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");

    // A server that requires a client certificate.
    let mtls = tls_fixture(&p, repo_files("mtls", 2), true).await;
    let url = format!("{}/PULP_MANIFEST", mtls.base);
    let t = sync_with(
        &s,
        "no-identity",
        json!({"url": url, "ca_cert": p.ca_pem, "max_retries": 0}),
    )
    .await;
    assert_eq!(t["state"], "failed", "{t}");
    let t = sync_with(
        &s,
        "identity",
        json!({"url": url, "ca_cert": p.ca_pem, "client_cert": p.client_pem.0, "client_key": p.client_pem.1}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");

    // rate_limit=20: the 6 requests of a sync (manifest + 5 files) are sent ≥ 50 ms apart, so
    // they span ≥ 250 ms when sent; they are timed on arrival, after each connection's TLS
    // handshake, whose jitter may shorten the span by up to one interval (unlimited, the six
    // arrive within a few ms).
    let limited = tls_fixture(&p, repo_files("limited", 5), false).await;
    let t = sync_with(
        &s,
        "limited",
        json!({"url": format!("{}/PULP_MANIFEST", limited.base), "ca_cert": p.ca_pem, "rate_limit": 20}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");
    let times = limited.arrivals.lock().expect("lock").clone();
    assert_eq!(times.len(), 6);
    let span = times[times.len() - 1].duration_since(times[0]);
    assert!(
        span >= Duration::from_millis(4 * 50),
        "6 requests at 20/s took only {span:?}"
    );
}
