//! Content guards end to end: created through the API, named by a distribution, asked by the
//! content app before it answers anything of that distribution.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixture::Fixture;
use crate::support::{Env, PASSWORD, Server};

both_backends!(guards_refuse_and_permit_as_pulp_does);

const GUARDS: &str = "/pulp/api/v3/contentguards/";

pub(crate) async fn created(s: &Server, kind: &str, body: Value) -> Value {
    let (code, g) = s
        .send(Method::POST, &format!("{GUARDS}core/{kind}/"), body)
        .await;
    assert_eq!(code, 201, "{g}");
    g
}

pub(crate) async fn task(s: &Server, method: Method, path: &str, body: Value) -> Value {
    let (code, t) = s.send(method, path, body).await;
    assert_eq!(code, 202, "{path}: {t}");
    let t = s.finished(t["task"].as_str().unwrap()).await;
    assert_eq!(t["state"], "completed", "{t}");
    t
}

async fn guards_refuse_and_permit_as_pulp_does(env: Env) {
    let s = env.start(&[
        (
            "PULP_ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS",
            "[\"PITH_E2E_GUARD_SECRET\"]",
        ),
        ("PITH_E2E_GUARD_SECRET", "env-secret\n"),
    ]);
    let fx = Fixture::start().await;
    fx.publish(&[("a.txt", b"guarded bytes".to_vec())]);
    let (_, remote) = s
        .send(
            Method::POST,
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "g", "url": fx.manifest_url()}),
        )
        .await;
    let (_, repo) = s
        .send(
            Method::POST,
            "/pulp/api/v3/repositories/file/file/",
            json!({"name": "g", "remote": remote["pulp_href"], "autopublish": true}),
        )
        .await;
    let repo_href = repo["pulp_href"].as_str().unwrap().to_owned();
    task(&s, Method::POST, &format!("{repo_href}sync/"), json!({})).await;

    // Bad input is refused with Pulp's messages, nothing created.
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/header/"),
            json!({"name": "h", "header_name": "x-secret"}),
        )
        .await;
    assert_eq!(
        (code, &e["header_value"][0]),
        (400, &json!("This field is required."))
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/envvar_header/"),
            json!({"name": "ev", "header_name": "x-env", "env_var": "HOME"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    assert!(
        e["env_var"][0]
            .as_str()
            .unwrap()
            .contains("ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS")
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/header/"),
            json!({"name": "h", "header_name": "x", "header_value": "y", "jq_filter": ".a | .b"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");

    let header = created(
        &s,
        "header",
        json!({"name": "h", "header_name": "X-Secret", "header_value": "open sesame"}),
    )
    .await;
    let jq = created(
        &s,
        "header",
        json!({"name": "jq", "header_name": "X-Identity", "header_value": "42", "jq_filter": ".identity.org_id"}),
    )
    .await;
    let rbac = created(
        &s,
        "rbac",
        json!({"name": "r", "description": "admins only"}),
    )
    .await;
    assert_eq!((&rbac["users"], &rbac["groups"]), (&json!([]), &json!([])));
    let redirect = created(&s, "content_redirect", json!({"name": "redir"})).await;
    assert!(redirect.get("shared_secret").is_none(), "{redirect}");
    let envvar = created(
        &s,
        "envvar_header",
        json!({"name": "ev", "header_name": "X-Env", "env_var": "PITH_E2E_GUARD_SECRET"}),
    )
    .await;
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/rbac/"),
            json!({"name": "r"}),
        )
        .await;
    assert_eq!(
        (code, &e["name"][0]),
        (400, &json!("This field must be unique."))
    );

    // The generic list, the type filter and `q`.
    let (_, all) = s.json(GUARDS).await;
    assert_eq!(all["count"], 5, "{all}");
    let (_, some) = s
        .json(&format!("{GUARDS}?pulp_type__in=core.header,core.rbac"))
        .await;
    assert_eq!(some["count"], 3, "{some}");
    let (_, q) = s
        .json(&format!(
            "{GUARDS}?q={}",
            urlencode("pulp_type=\"core.header\" AND NOT name=jq OR name__startswith=re")
        ))
        .await;
    assert_eq!(q["count"], 2, "{q}");
    let (code, e) = s
        .json(&format!("{GUARDS}?q={}", urlencode("name=h AND")))
        .await;
    assert_eq!(
        (code, e),
        (400, json!({"q": ["Syntax error in expression."]}))
    );

    // A distribution guarded by each in turn.
    let dist = task(
        &s,
        Method::POST,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "g", "base_path": "g", "repository": repo_href, "content_guard": header["pulp_href"]}),
    )
    .await["result"]
        .clone();
    assert_eq!(dist["content_guard"], header["pulp_href"]);
    assert_eq!(dist["content_guard_prn"], header["prn"]);
    let dist_href = dist["pulp_href"].as_str().unwrap().to_owned();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let file = s.url("/pulp/content/g/a.txt");
    let c = reqwest::Client::new();
    let status =
        |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status().as_u16() };
    assert_eq!(status(c.get(&file)).await, 403);
    assert_eq!(status(c.head(&file)).await, 403);
    assert_eq!(status(c.get(s.url("/pulp/content/g/"))).await, 403);
    assert_eq!(
        status(c.get(&file).header("X-Secret", b64("wrong"))).await,
        403
    );
    let r = c
        .get(&file)
        .header("X-Secret", b64("open sesame"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "guarded bytes");

    let guard_with = |g: &Value| {
        let (s, href, g) = (&s, dist_href.clone(), g["pulp_href"].clone());
        async move {
            task(s, Method::PATCH, &href, json!({"content_guard": g})).await;
        }
    };
    guard_with(&jq).await;
    let doc = |org: &str| b64(&json!({"identity": {"org_id": org}}).to_string());
    assert_eq!(
        status(c.get(&file).header("X-Identity", doc("41"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).header("X-Identity", doc("42"))).await,
        200
    );

    guard_with(&rbac).await;
    assert_eq!(status(c.get(&file)).await, 403);
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some("nope"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some(PASSWORD))).await,
        200
    );

    guard_with(&redirect).await;
    assert_eq!(status(c.get(&file)).await, 403);
    let forged = format!("{file}?expires=99999999999&validate_token=00:00");
    assert_eq!(status(c.get(&forged)).await, 403);

    guard_with(&envvar).await;
    assert_eq!(
        status(c.get(&file).header("X-Env", b64("other"))).await,
        403
    );
    assert_eq!(
        status(c.get(&file).header("X-Env", b64("env-secret"))).await,
        200
    );

    // A composite permits what any member permits; an empty one everything.
    let composite = created(
        &s,
        "composite",
        json!({"name": "any", "guards": [header["pulp_href"], rbac["pulp_href"]]}),
    )
    .await;
    assert_eq!(
        composite["guards"].as_array().unwrap().len(),
        2,
        "{composite}"
    );
    let (code, e) = s
        .send(
            Method::POST,
            &format!("{GUARDS}core/composite/"),
            json!({"name": "nested", "guards": [composite["pulp_href"]]}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    guard_with(&composite).await;
    assert_eq!(status(c.get(&file)).await, 403);
    // The refusal names every member's href and reason, as Pulp's does.
    let refusal = c.get(&file).send().await.unwrap().text().await.unwrap();
    assert!(
        refusal.starts_with("403: Access forbidden. Refusals: ["),
        "{refusal}"
    );
    for member in composite["guards"].as_array().unwrap() {
        assert!(refusal.contains(member.as_str().unwrap()), "{refusal}");
    }
    assert_eq!(
        status(c.get(&file).header("X-Secret", b64("open sesame"))).await,
        200
    );
    assert_eq!(
        status(c.get(&file).basic_auth("admin", Some(PASSWORD))).await,
        200
    );
    let (code, _) = s
        .send(
            Method::PATCH,
            composite["pulp_href"].as_str().unwrap(),
            json!({"guards": []}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(status(c.get(&file)).await, 200);

    // Deleting a guard leaves its distributions unguarded.
    guard_with(&header).await;
    assert_eq!(status(c.get(&file)).await, 403);
    let r = s
        .client
        .delete(s.url(header["pulp_href"].as_str().unwrap()))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.json(&dist_href).await.1["content_guard"], Value::Null);
    assert_eq!(status(c.get(&file)).await, 200);
    assert_eq!(s.json(header["pulp_href"].as_str().unwrap()).await.0, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A self-signed CA named `cn`, and the issuer that signs with it.
fn certificate_authority(cn: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let ca = params.self_signed(&key).unwrap();
    (ca, rcgen::Issuer::new(params, key))
}

both_backends!(x509_certguard_trusts_client_certificates);

/// pulp_certguard's X.509 guard: a request whose `X-CLIENT-CERT` (URL-encoded PEM, as a
/// proxy passes it, possibly folded onto one line) is signed by the guard's CA passes; another
/// certificate or none is a 403 naming why; the CA must be PEM; `status/` lists `certguard`.
async fn x509_certguard_trusts_client_certificates(env: Env) {
    let s = env.start(&[]);
    let (ca, issuer) = certificate_authority("e2e CA");
    let client = rcgen::CertificateParams::new(vec!["client".into()])
        .unwrap()
        .signed_by(&rcgen::KeyPair::generate().unwrap(), &issuer)
        .unwrap();
    let stranger = rcgen::CertificateParams::new(vec!["stranger".into()])
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();

    let (_, st) = s.json("/pulp/api/v3/status/").await;
    assert!(
        st["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["component"] == "certguard"),
        "{st}"
    );
    let x509 = format!("{GUARDS}certguard/x509/");
    let (code, e) = s
        .send(
            Method::POST,
            &x509,
            json!({"name": "bad", "ca_certificate": "not a certificate"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    let (code, guard) = s
        .send(
            Method::POST,
            &x509,
            json!({"name": "x", "ca_certificate": ca.pem()}),
        )
        .await;
    assert_eq!(code, 201, "{guard}");
    assert_eq!(s.json(&format!("{GUARDS}?name=x")).await.1["count"], 1);
    task(
        &s,
        Method::POST,
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "x", "base_path": "x", "content_guard": guard["pulp_href"]}),
    )
    .await;

    let url = s.url("/pulp/content/x/");
    let encode = |pem: String| {
        pem.trim_end()
            .replace('\n', " ")
            .replace('%', "%25")
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    let get = |cert: Option<String>| {
        let mut rb = s.client.get(&url);
        if let Some(c) = cert {
            rb = rb.header("X-CLIENT-CERT", c);
        }
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Permitted: the empty distribution has nothing to list.
    assert_eq!(get(Some(encode(client.pem()))).await.0, 404);
    let (code, why) = get(Some(encode(stranger.pem()))).await;
    assert_eq!(code, 403);
    assert!(
        why.contains("not signed by the stored 'ca_certificate'"),
        "{why}"
    );
    let (code, why) = get(None).await;
    assert_eq!(code, 403);
    assert!(why.contains("X-CLIENT-CERT"), "{why}");
}

both_backends!(rhsm_certguard_matches_entitlement_paths);

/// pulp_certguard's RHSM guard: a trusted client certificate passes only for request paths
/// under one of its entitlement's content sets (here a v1 content-set extension whose
/// `$releasever` stands for one path segment); other paths, and certificates the CA did not
/// sign, are 403 with Pulp's reason.
async fn rhsm_certguard_matches_entitlement_paths(env: Env) {
    let s = env.start(&[]);
    let (ca, issuer) = certificate_authority("e2e entitlement CA");
    let entitled = |path: &str, signer: &rcgen::Issuer<'_, rcgen::KeyPair>| {
        let mut params = rcgen::CertificateParams::new(vec!["consumer".into()]).unwrap();
        // A DER UTF8String: tag 12, short length.
        let mut value = vec![12u8, path.len() as u8];
        value.extend(path.as_bytes());
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 2312, 9, 2, 42, 1, 6],
                value,
            ));
        params
            .signed_by(&rcgen::KeyPair::generate().unwrap(), signer)
            .unwrap()
    };
    let client = entitled("/org/$releasever/os", &issuer);
    let other_key = rcgen::KeyPair::generate().unwrap();
    let other_ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let untrusted = entitled(
        "/org/$releasever/os",
        &rcgen::Issuer::new(other_ca, other_key),
    );

    let rhsm = format!("{GUARDS}certguard/rhsm/");
    let (code, e) = s
        .send(
            Method::POST,
            &rhsm,
            json!({"name": "bad", "ca_certificate": "x"}),
        )
        .await;
    assert_eq!(code, 400, "{e}");
    let (code, guard) = s
        .send(
            Method::POST,
            &rhsm,
            json!({"name": "r", "ca_certificate": ca.pem()}),
        )
        .await;
    assert_eq!(code, 201, "{guard}");
    assert!(
        guard["pulp_href"]
            .as_str()
            .unwrap()
            .contains("/certguard/rhsm/"),
        "{guard}"
    );
    for base in ["org/8/os", "org/8/extras"] {
        task(
            &s,
            Method::POST,
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": base, "base_path": base, "content_guard": guard["pulp_href"]}),
        )
        .await;
    }
    let get = |path: &str, cert: &rcgen::Certificate| {
        let rb = s
            .client
            .get(s.url(&format!("/pulp/content/{path}")))
            .header("X-CLIENT-CERT", urlencode(&cert.pem()));
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Entitled: the empty distribution has nothing to serve.
    assert_eq!(get("org/8/os/a.iso", &client).await.0, 404);
    assert_eq!(get("org/8/os/", &client).await.0, 404);
    let (code, why) = get("org/8/extras/a.iso", &client).await;
    assert_eq!(code, 403);
    assert!(
        why.contains("not a subpath of a path in the client"),
        "{why}"
    );
    let (code, why) = get("org/8/os/a.iso", &untrusted).await;
    assert_eq!(code, 403);
    assert!(why.contains("not signed"), "{why}");
}
