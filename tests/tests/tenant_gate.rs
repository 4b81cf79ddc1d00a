//! Attacks on the shared gate from a namespace tenant (the built-in `admin` ClusterRole
//! bound in one namespace, plus every right on the operator's kinds there, status
//! included, used through impersonation), and from clients on the network. Each test is
//! one attack; webhook-api runs as an admin would configure it.
//!
//! No operator runs here: where the operator would create a tenant's Cognito pool and
//! write its status, the test does the same with the admin client, so the gate sees
//! exactly what it would see in a cluster.

mod signing;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use cognito_crds::UserPool;
use cognito_operator_tests::{
    ConfigFile, EmulatorPool, TestNamespace, WebhookApi, kube_client, namespace_tenant,
    objects::{app_user_manifest, password_secret_manifest, user_pool_manifest},
    unique, unix_now, wait,
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use signing::{JwksStub, TestKey};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const CEO: &str = "ceo@corp.example";
/// The admin's forward-auth policy: only staff pass.
const STAFF_ONLY: &str = "routes:\n  forwardAuth: {tokenUse: id, requiredGroups: [staff]}\n";

/// Merges `status` into the UserPool `name`'s status with `client`'s rights.
async fn patch_status(client: kube::Client, namespace: &TestNamespace, name: &str, status: Value) {
    Api::<UserPool>::namespaced(client, namespace.name())
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .expect("patch UserPool status");
}

/// The status the operator writes for `pool`, with `clients`.
fn operator_status(pool: &EmulatorPool, clients: &[&str]) -> Value {
    let clients: Vec<Value> = clients
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"name": format!("app{i}"), "clientId": id}))
        .collect();
    json!({
        "userPoolId": pool.pool_id,
        "issuer": pool.issuer(),
        "jwksUri": pool.jwks_uri(),
        "clients": clients,
    })
}

/// A tenant's UserPool `corp` applied with its own rights, and the Cognito pool the
/// operator would make for it, published in its status: the pool has a group `staff`
/// with `ceo@corp.example` in it, e-mail verified (an AppUser's attributes are the
/// tenant's to choose).
async fn tenant_pool(tenant: &str, namespace: &TestNamespace) -> EmulatorPool {
    namespace.apply_as(
        tenant,
        &user_pool_manifest("corp", "  groups: [{name: staff}]\n"),
    );
    namespace.apply_as(tenant, &password_secret_manifest("ceo-password", PASSWORD));
    let app_user = app_user_manifest("ceo", "corp", CEO, "ceo-password", "  groups: [staff]\n");
    namespace.apply_as(tenant, &app_user);
    let pool = EmulatorPool::create(&unique("tenant")).await;
    pool.create_group("staff").await;
    pool.add_confirmed_user(CEO, PASSWORD).await;
    pool.add_to_group(CEO, "staff").await;
    pool.set_attribute(CEO, "email_verified", "true").await;
    let status = operator_status(&pool, &[&pool.client_id]);
    patch_status(kube_client().await, namespace, "corp", status).await;
    pool
}

fn discovery_args<'a>(discovering: &'a [String], config: &'a ConfigFile) -> Vec<&'a str> {
    let mut args: Vec<&str> = discovering.iter().map(String::as_str).collect();
    args.extend(["--config", config.path()]);
    args
}

#[tokio::test]
async fn a_tenant_pool_cannot_forge_identity_at_auth_or_api_me() {
    // The admin trusts the pools of one team's namespace, not the tenant's.
    let team = TestNamespace::create("gate-team");
    let team_pool = EmulatorPool::create(&unique("team")).await;
    let staff_member = format!("{}@corp.example", unique("staff"));
    team_pool.create_group("staff").await;
    team_pool.add_confirmed_user(&staff_member, PASSWORD).await;
    team_pool.add_to_group(&staff_member, "staff").await;
    team.apply(&user_pool_manifest("shop", ""));
    let status = operator_status(&team_pool, &[&team_pool.client_id]);
    patch_status(kube_client().await, &team, "shop", status).await;

    let namespace = TestNamespace::create("gate-tenant");
    let (tenant, _) = namespace_tenant(&namespace).await;
    let forged = tenant_pool(&tenant, &namespace)
        .await
        .sign_in(CEO, PASSWORD)
        .await;

    let config = ConfigFile::write(STAFF_ONLY);
    let discovering = WebhookApi::discovering(team.name());
    let service = WebhookApi::start(&discovery_args(&discovering, &config)).await;
    service.wait_ready().await;

    // The trusted team's staff pass: the gate works.
    let staff = team_pool.sign_in(&staff_member, PASSWORD).await;
    assert_eq!(
        service.get("/auth", Some(&staff.id_token)).await.status(),
        StatusCode::OK
    );

    // The tenant's "CEO" passes nowhere.
    service
        .refuses("/auth", Some(&forged.id_token), "untrusted issuer")
        .await;
    service
        .refuses("/api/me", Some(&forged.access_token), "untrusted issuer")
        .await;
}

#[tokio::test]
async fn status_pointing_at_a_foreign_jwks_is_never_used() {
    // A namespace the admin allowed, whose tenant writes its UserPool's status.
    let namespace = TestNamespace::create("gate-jwks");
    let (tenant, tenant_client) = namespace_tenant(&namespace).await;
    let pool = tenant_pool(&tenant, &namespace).await;
    let config = ConfigFile::write(STAFF_ONLY);
    let discovering = WebhookApi::discovering(namespace.name());
    let service = WebhookApi::start(&discovery_args(&discovering, &config)).await;
    service.wait_ready().await;

    // The tenant's keys, served where it points the status.
    let attacker = TestKey::generate("attacker");
    let (stub, stub_jwks) = JwksStub::start(&[&attacker]).await;
    // Next to the emulator's own key, so that a gate which used these keys would
    // still accept the pool's real tokens, and the forged one.
    let emulator_keys: Value = reqwest::get(pool.jwks_uri())
        .await
        .expect("fetch the emulator's keys")
        .json()
        .await
        .expect("JWKS");
    let mut keys = emulator_keys["keys"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    keys.push(attacker.jwk());
    *stub.document.lock().expect("lock") = json!({"keys": keys});
    let stub_origin = stub_jwks.trim_end_matches("/jwks.json").to_owned();
    // A second object claiming an issuer at the stub's own address.
    namespace.apply_as(&tenant, &user_pool_manifest("rogue", ""));
    let rogue = json!({
        "userPoolId": "us-east-1_rogue",
        "issuer": stub_origin,
        "jwksUri": stub_jwks,
        "clients": [{"name": "app", "clientId": "rogue-client"}],
    });
    patch_status(tenant_client.clone(), &namespace, "rogue", rogue).await;
    // The real pool's status, now naming the stub's keys and a second client: once that
    // client's tokens pass, the gate has read this status (and the rogue one before it).
    let second_client = pool.add_client("second").await;
    let mut status = operator_status(&pool, &[&pool.client_id, &second_client]);
    status["jwksUri"] = json!(stub_jwks);
    patch_status(tenant_client, &namespace, "corp", status).await;
    let through_second = pool.sign_in_with(&second_client, CEO, PASSWORD).await;
    wait::until("the gate reads the tenant's status", || async {
        service
            .get("/api/me", Some(&through_second.access_token))
            .await
            .status()
            == StatusCode::OK
    })
    .await;

    let claims = |issuer: &str, client: &str| {
        json!({
            "iss": issuer, "sub": "forged", "token_use": "id", "aud": client,
            "cognito:username": "forged", "cognito:groups": ["staff"],
            "email": CEO, "email_verified": true, "exp": unix_now() + 600,
        })
    };
    let forged = attacker.sign("attacker", &claims(&pool.issuer(), &pool.client_id));
    service
        .refuses("/auth", Some(&forged), "unknown signing key")
        .await;
    let forged_rogue = attacker.sign("attacker", &claims(&stub_origin, "rogue-client"));
    service
        .refuses("/auth", Some(&forged_rogue), "untrusted issuer")
        .await;
    assert_eq!(
        stub.fetches(),
        0,
        "the keys a status names are never fetched"
    );
}

#[tokio::test]
async fn a_token_of_pool_a_is_refused_on_a_route_bound_to_pool_b() {
    let mut pools = Vec::new();
    for team in ["a", "b"] {
        let pool = EmulatorPool::create(&unique(&format!("route-{team}"))).await;
        let user = format!("{}@example.com", unique(team));
        pool.add_confirmed_user(&user, PASSWORD).await;
        let tokens = pool.sign_in(&user, PASSWORD).await;
        pools.push((pool, tokens));
    }
    let pool_entry = |name: &str, pool: &EmulatorPool| {
        format!(
            "  - {{name: {name}, issuer: {}, jwksUri: {}, clientIds: [{}]}}\n",
            pool.issuer(),
            pool.jwks_uri(),
            pool.client_id
        )
    };
    let config = ConfigFile::write(&format!(
        "pools:\n{}{}routes:\n  api: {{tokenUse: access, pools: [team-b]}}\n  forwardAuth: {{tokenUse: id, pools: [team-b]}}\n",
        pool_entry("team-a", &pools[0].0),
        pool_entry("team-b", &pools[1].0),
    ));
    let service = WebhookApi::start(&["--config", config.path()]).await;
    service.wait_ready().await;

    let (a, b) = (&pools[0].1, &pools[1].1);
    let refusal = "issuer not accepted on this route";
    service
        .refuses("/api/me", Some(&a.access_token), refusal)
        .await;
    service.refuses("/auth", Some(&a.id_token), refusal).await;
    assert_eq!(
        service.get("/api/me", Some(&b.access_token)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        service.get("/auth", Some(&b.id_token)).await.status(),
        StatusCode::OK
    );
}

/// The address and port of a served webhook-api.
fn address_of(service: &WebhookApi) -> SocketAddr {
    let address = service.base.trim_start_matches("http://");
    address.parse().expect("loopback address")
}

#[tokio::test]
async fn a_slow_header_client_is_cut_off() {
    let service = WebhookApi::start(&[
        "--header-read-timeout-seconds",
        "1",
        "--max-connections",
        "2",
    ])
    .await;
    let started = Instant::now();
    // Two clients take every connection slot and trickle headers, a line at a time.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address_of(&service))
            .await
            .expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        slow.push(stream);
    }
    // Trickle a line to each until both are cut; a short read wait paces the trickle,
    // and EOF or an error is the cut.
    let deadline = started + Duration::from_secs(30);
    let mut open = slow;
    while !open.is_empty() {
        assert!(Instant::now() < deadline, "slow clients still connected");
        let mut still_open = Vec::new();
        for mut stream in open {
            let _ = stream.write_all(b"X-Slow: 1\r\n").await;
            let mut buffer = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => {}
                Ok(Ok(n)) => {
                    let answer = String::from_utf8_lossy(&buffer[..n]);
                    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
                }
                Err(_) => still_open.push(stream),
            }
        }
        open = still_open;
    }
    let cut_off = Instant::now();
    assert!(
        cut_off - started >= Duration::from_secs(1),
        "cut before the deadline"
    );
    // Their slots are free again for a client that sends its request.
    assert_eq!(service.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let pool = EmulatorPool::create(&unique("forwarded")).await;
    // 127.0.0.2 plays the proxy; the test's ordinary client (127.0.0.1) is not one.
    let service = WebhookApi::start(&[
        "--signup-user-pool-id",
        &pool.pool_id,
        "--signup-per-minute",
        "2",
        "--trusted-proxies",
        "127.0.0.2/32",
    ])
    .await;
    let proxy = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("client bound to 127.0.0.2");
    // An empty body: refused (400) after the rate limit, so no user is created.
    let signup = |client: &reqwest::Client, forwarded_for: &str| {
        client
            .post(format!("{}/signup", service.base))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({}))
            .send()
    };
    let status =
        |response: reqwest::Result<reqwest::Response>| response.expect("request /signup").status();

    // A direct client cannot buy a new budget per request with a made-up header.
    for n in 1..=2 {
        let spoofed = format!("198.51.100.{n}");
        assert_eq!(
            status(signup(&service.http, &spoofed).await),
            StatusCode::BAD_REQUEST
        );
    }
    let third = signup(&service.http, "198.51.100.3").await;
    assert_eq!(status(third), StatusCode::TOO_MANY_REQUESTS);

    // Behind the trusted proxy, each client has its own budget, and a client's own
    // entries (left of the proxy's) do not count.
    for _ in 0..2 {
        let chained = signup(&proxy, "1.1.1.1, 203.0.113.7").await;
        assert_eq!(status(chained), StatusCode::BAD_REQUEST);
    }
    let third = signup(&proxy, "9.9.9.9, 203.0.113.7").await;
    assert_eq!(status(third), StatusCode::TOO_MANY_REQUESTS);
    let other_client = signup(&proxy, "203.0.113.8").await;
    assert_eq!(status(other_client), StatusCode::BAD_REQUEST);
}
