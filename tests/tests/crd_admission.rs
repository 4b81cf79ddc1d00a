//! The CRDs on a real kube-apiserver: valid objects are stored with their defaults and
//! printer columns; invalid ones are refused at admission with a message naming the field.

use cognito_operator_tests::{
    TestNamespace, environment, kubectl,
    objects::{API_VERSION, app_user_manifest, manifest, user_pool_manifest},
};

fn valid_pool() -> String {
    user_pool_manifest(
        "shop",
        "  groups:\n    - name: admins\n      precedence: 1\n  schema:\n    - name: tier\n      attributeDataType: String\n      stringConstraints: {minLength: 1, maxLength: 16}\n",
    )
}

fn valid_user() -> String {
    app_user_manifest(
        "alice",
        "shop",
        "alice@example.com",
        "alice-password",
        "  attributes:\n    given_name: Alice\n    custom:tier: gold\n  groups: [admins]\n",
    )
}

#[test]
fn valid_objects_are_stored_with_defaults_and_printer_columns() {
    let ns = TestNamespace::create("crd-valid");
    ns.try_apply(&valid_pool()).expect_success("apply UserPool");
    ns.try_apply(&valid_user()).expect_success("apply AppUser");

    let table = kubectl(&["get", "cup,cau", "-n", ns.name()])
        .run()
        .expect_success("get cup,cau");
    for header in [
        "READY",
        "POOL ID",
        "STACK STATUS",
        "EMAIL",
        "POOL",
        "USER STATUS",
        "AGE",
    ] {
        assert!(
            table.contains(header),
            "missing column {header} in:\n{table}"
        );
    }
    assert!(table.contains("alice@example.com"), "{table}");

    let pool = kubectl(&["get", "userpool", "shop", "-n", ns.name(), "-o", "json"])
        .run()
        .expect_success("get pool");
    let pool: serde_json::Value = serde_json::from_str(&pool).expect("pool JSON");
    let spec = &pool["spec"];
    assert_eq!(spec["usernameAttributes"], serde_json::json!(["email"]));
    assert_eq!(spec["usernameCaseSensitive"], false);
    assert_eq!(spec["deletionPolicy"], "Retain");
    assert_eq!(spec["allowReplacement"], false);
    assert_eq!(spec["passwordPolicy"]["minimumLength"], 8);

    let user = kubectl(&["get", "appuser", "alice", "-n", ns.name(), "-o", "json"])
        .run()
        .expect_success("get user");
    let user: serde_json::Value = serde_json::from_str(&user).expect("user JSON");
    assert_eq!(user["spec"]["passwordSecretRef"]["key"], "password");
    assert_eq!(user["spec"]["emailVerified"], true);
    assert_eq!(user["spec"]["enabled"], true);
    assert_eq!(user["spec"]["deletionPolicy"], "Delete");

    let explained = kubectl(&["explain", "userpool.spec.passwordPolicy.minimumLength"])
        .run()
        .expect_success("explain");
    assert!(explained.contains("Minimum password length"), "{explained}");
}

/// docs/crd-reference.md says what `kubectl explain` says, field by field.
#[test]
fn crd_reference_matches_kubectl_explain() {
    let env = environment();
    let reference = std::fs::read_to_string(env.repo_root.join("docs/crd-reference.md"))
        .expect("docs/crd-reference.md");
    let normalized = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let reference = normalized(&reference);
    for (field, row) in [
        (
            "userpool.spec.passwordPolicy.minimumLength",
            "spec.passwordPolicy.minimumLength",
        ),
        (
            "userpool.spec.clients.generateSecret",
            "spec.clients[].generateSecret",
        ),
        ("userpool.status.jwksUri", "status.jwksUri"),
        ("appuser.spec.passwordSecretRef", "spec.passwordSecretRef"),
        ("appuser.spec.deletionPolicy", "spec.deletionPolicy"),
        (
            "appuser.status.appliedPasswordVersion",
            "status.appliedPasswordVersion",
        ),
    ] {
        let explained = kubectl(&["explain", field]).run().expect_success("explain");
        // kubectl prints the description, indented and wrapped, after "DESCRIPTION:".
        let description = explained
            .split("DESCRIPTION:")
            .nth(1)
            .and_then(|rest| rest.split("FIELDS:").next())
            .map(normalized)
            .unwrap_or_else(|| panic!("no description in:\n{explained}"));
        assert!(
            reference.contains(&format!("`{row}`")) && reference.contains(&description),
            "docs/crd-reference.md lacks {row} with kubectl's description {description:?}"
        );
    }
}

/// Each case: what it breaks, the manifest, and text the API server's refusal must contain.
const INVALID: &[(&str, &str, &str)] = &[
    (
        "email format",
        "kind: AppUser\nspec: {userPoolRef: {name: p}, email: not-an-email, passwordSecretRef: {name: s}}",
        "spec.email",
    ),
    (
        "missing userPoolRef",
        "kind: AppUser\nspec: {email: a@example.com, passwordSecretRef: {name: s}}",
        "spec.userPoolRef",
    ),
    (
        "missing passwordSecretRef",
        "kind: AppUser\nspec: {userPoolRef: {name: p}, email: a@example.com}",
        "spec.passwordSecretRef",
    ),
    (
        "unknown attribute",
        "kind: AppUser\nspec: {userPoolRef: {name: p}, email: a@example.com, passwordSecretRef: {name: s}, attributes: {email_verified: 'false'}}",
        "spec.attributes",
    ),
    (
        "deletionPolicy enum",
        "kind: AppUser\nspec: {userPoolRef: {name: p}, email: a@example.com, passwordSecretRef: {name: s}, deletionPolicy: Orphan}",
        "spec.deletionPolicy",
    ),
    (
        "password too short",
        "kind: UserPool\nspec: {passwordPolicy: {minimumLength: 5}}",
        "spec.passwordPolicy.minimumLength",
    ),
    (
        "password too long",
        "kind: UserPool\nspec: {passwordPolicy: {minimumLength: 100}}",
        "spec.passwordPolicy.minimumLength",
    ),
    (
        "mfa enum",
        "kind: UserPool\nspec: {mfa: {mode: SOMETIMES}}",
        "spec.mfa.mode",
    ),
    (
        "mfa without software token",
        "kind: UserPool\nspec: {mfa: {mode: Required, softwareToken: false}}",
        "spec.mfa.softwareToken",
    ),
    (
        "access token validity",
        "kind: UserPool\nspec: {clients: [{name: web, accessTokenValidityMinutes: 2}]}",
        "accessTokenValidityMinutes",
    ),
    (
        "refresh flow missing",
        "kind: UserPool\nspec: {clients: [{name: web, explicitAuthFlows: [ALLOW_USER_SRP_AUTH]}]}",
        "explicitAuthFlows",
    ),
    (
        "empty write attributes (Cognito would read it as every attribute)",
        "kind: UserPool\nspec: {clients: [{name: web, writeAttributes: []}]}",
        "writeAttributes",
    ),
    (
        "write attribute name",
        "kind: UserPool\nspec: {clients: [{name: web, writeAttributes: [\"e mail\"]}]}",
        "writeAttributes",
    ),
    (
        "username attribute enum",
        "kind: UserPool\nspec: {usernameAttributes: [nickname]}",
        "spec.usernameAttributes",
    ),
    (
        "delete with deletion protection",
        "kind: UserPool\nspec: {deletionPolicy: Delete, deletionProtection: true}",
        "spec.deletionProtection",
    ),
    (
        "string constraints on a number",
        "kind: UserPool\nspec: {schema: [{name: age, attributeDataType: Number, stringConstraints: {maxLength: 3}}]}",
        "stringConstraints",
    ),
    (
        "duplicate group",
        "kind: UserPool\nspec: {groups: [{name: a}, {name: a}]}",
        "spec.groups",
    ),
    (
        "region format",
        "kind: UserPool\nspec: {region: Mars}",
        "spec.region",
    ),
    (
        "group name with a comma (it would split X-Auth-Request-Groups)",
        "kind: UserPool\nspec: {groups: [{name: 'staff,admins'}]}",
        "spec.groups[0].name",
    ),
    (
        "stackName of the reserved default shape",
        "kind: UserPool\nspec: {stackName: team-b-shop-0123abcd-cognito}",
        "reserved",
    ),
    (
        "trigger ARN",
        "kind: UserPool\nspec: {triggers: {preSignUp: {lambdaArn: not-an-arn}}}",
        "spec.triggers.preSignUp.lambdaArn",
    ),
    (
        "trigger with both a function and the sink",
        "kind: UserPool\nspec: {triggers: {sink: {url: 'https://h.example.com/triggers', secretRef: {name: s}}, postConfirmation: {lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', sink: true}}}",
        "exactly one of lambdaArn or sink",
    ),
    (
        "trigger with neither a function nor the sink",
        "kind: UserPool\nspec: {triggers: {preTokenGeneration: {eventVersion: V2_0}}}",
        "exactly one of lambdaArn or sink",
    ),
    (
        "sink trigger without a sink",
        "kind: UserPool\nspec: {triggers: {customMessage: {sink: true}}}",
        "spec.triggers.sink",
    ),
    (
        "sink over plain HTTP",
        "kind: UserPool\nspec: {triggers: {sink: {url: 'http://h.example.com/triggers', secretRef: {name: s}}, preSignUp: {sink: true}}}",
        "spec.triggers.sink.url",
    ),
    (
        "sink timeout past Cognito's limit",
        "kind: UserPool\nspec: {triggers: {sink: {url: 'https://h.example.com/triggers', secretRef: {name: s}, timeoutMilliseconds: 5000}, preSignUp: {sink: true}}}",
        "spec.triggers.sink.timeoutMilliseconds",
    ),
    (
        "token event version",
        "kind: UserPool\nspec: {triggers: {preTokenGeneration: {lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', eventVersion: V4_0}}}",
        "spec.triggers.preTokenGeneration.eventVersion",
    ),
    (
        "threat protection without the Plus plan",
        "kind: UserPool\nspec: {featurePlan: Essentials, threatProtection: Enforced}",
        "needs featurePlan: Plus",
    ),
    (
        "SES sender without an identity",
        "kind: UserPool\nspec: {email: {sender: SES}}",
        "spec.email.sourceArn",
    ),
    (
        "From address with Cognito's sender",
        "kind: UserPool\nspec: {email: {from: a@shop.example}}",
        "spec.email.from",
    ),
    (
        "admin_only recovery with another mechanism",
        "kind: UserPool\nspec: {accountRecovery: [admin_only, verified_email]}",
        "spec.accountRecovery",
    ),
    (
        "verification message without a code",
        "kind: UserPool\nspec: {verificationMessage: {emailMessage: 'Welcome aboard'}}",
        "spec.verificationMessage.emailMessage",
    ),
    (
        "invitation without the user name",
        "kind: UserPool\nspec: {invitationMessage: {emailMessage: 'Your code: {####}'}}",
        "spec.invitationMessage.emailMessage",
    ),
    (
        "verification before update of an attribute not auto-verified",
        "kind: UserPool\nspec: {attributesRequireVerificationBeforeUpdate: [email]}",
        "spec.attributesRequireVerificationBeforeUpdate",
    ),
    (
        "V2 token events on the Lite plan",
        "kind: UserPool\nspec: {featurePlan: Lite, triggers: {preTokenGeneration: {lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', eventVersion: V2_0}}}",
        "spec.triggers.preTokenGeneration.eventVersion",
    ),
    (
        "managed login on the Lite plan",
        "kind: UserPool\nspec: {featurePlan: Lite, domain: {prefix: shop, managedLoginVersion: 2}}",
        "spec.domain.managedLoginVersion",
    ),
    (
        "reserved word in a domain prefix",
        "kind: UserPool\nspec: {domain: {prefix: my-cognito-login}}",
        "spec.domain.prefix",
    ),
    (
        "domain prefix with capitals",
        "kind: UserPool\nspec: {domain: {prefix: Shop}}",
        "spec.domain.prefix",
    ),
    (
        "custom domain with a certificate outside us-east-1",
        "kind: UserPool\nspec: {domain: {custom: {name: auth.shop.example, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc'}}}",
        "spec.domain.custom.certificateArn",
    ),
    (
        "client_credentials with another flow",
        "kind: UserPool\nspec: {clients: [{name: m, generateSecret: true, oauth: {flows: [client_credentials, code], scopes: [orders/read], callbackUrls: ['https://a.example/cb']}}]}",
        "cannot be combined",
    ),
    (
        "client_credentials without a secret",
        "kind: UserPool\nspec: {clients: [{name: m, oauth: {flows: [client_credentials], scopes: [orders/read]}}]}",
        "needs generateSecret: true",
    ),
    (
        "client_credentials with a user scope",
        "kind: UserPool\nspec: {clients: [{name: m, generateSecret: true, oauth: {flows: [client_credentials], scopes: [openid]}}]}",
        "only resource-server scopes",
    ),
    (
        "code flow without a callback URL",
        "kind: UserPool\nspec: {clients: [{name: web, oauth: {flows: [code], scopes: [openid]}}]}",
        "spec.clients[0].oauth.callbackUrls",
    ),
    (
        "plain-HTTP callback URL off the local host",
        "kind: UserPool\nspec: {clients: [{name: web, oauth: {flows: [code], scopes: [openid], callbackUrls: ['http://shop.example/cb']}}]}",
        "spec.clients[0].oauth.callbackUrls[0]",
    ),
    (
        "callback URL with a fragment",
        "kind: UserPool\nspec: {clients: [{name: web, oauth: {flows: [code], scopes: [openid], callbackUrls: ['https://shop.example/cb#top']}}]}",
        "spec.clients[0].oauth.callbackUrls[0]",
    ),
    (
        "default redirect outside the callback URLs",
        "kind: UserPool\nspec: {clients: [{name: web, oauth: {flows: [code], scopes: [openid], callbackUrls: ['https://shop.example/cb'], defaultRedirectUri: 'https://shop.example/other'}}]}",
        "spec.clients[0].oauth.defaultRedirectUri",
    ),
    (
        "email scope without openid",
        "kind: UserPool\nspec: {clients: [{name: web, oauth: {flows: [code], scopes: [email], callbackUrls: ['https://shop.example/cb']}}]}",
        "need the openid scope",
    ),
    (
        "social provider not named after its type",
        "kind: UserPool\nspec: {identityProviders: [{name: MyGoogle, type: Google, clientId: a, clientSecretRef: {name: g, key: k}}]}",
        "named after their type",
    ),
    (
        "Google provider without its secret",
        "kind: UserPool\nspec: {identityProviders: [{name: Google, type: Google, clientId: a}]}",
        "spec.identityProviders[0].clientSecretRef",
    ),
    (
        "OIDC provider without its issuer",
        "kind: UserPool\nspec: {identityProviders: [{name: Corp, type: OIDC, clientId: a}]}",
        "spec.identityProviders[0].oidc",
    ),
    (
        "SAML provider with a client id",
        "kind: UserPool\nspec: {identityProviders: [{name: Corp, type: SAML, clientId: a, saml: {metadataUrl: 'https://idp.example/m'}}]}",
        "spec.identityProviders[0].clientId",
    ),
    (
        "URL identifier without a name",
        "kind: UserPool\nspec: {resourceServers: [{identifier: 'https://api.shop.example'}]}",
        "spec.resourceServers[0].name",
    ),
    (
        "resource server scope with a slash",
        "kind: UserPool\nspec: {resourceServers: [{identifier: orders, scopes: [{name: a/b, description: d}]}]}",
        "spec.resourceServers[0].scopes[0].name",
    ),
];

#[test]
fn invalid_objects_are_rejected_naming_the_field() {
    let ns = TestNamespace::create("crd-invalid");
    let mut failures = Vec::new();
    for (case, body, field) in INVALID {
        let manifest = format!("apiVersion: {API_VERSION}\nmetadata: {{name: bad}}\n{body}\n");
        let output = ns.try_apply(&manifest);
        if output.success {
            failures.push(format!("{case}: accepted"));
        } else if !output.stderr.contains(field) {
            failures.push(format!(
                "{case}: message does not name {field}: {}",
                output.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each case: the object as created, the changed object, and text the refusal must contain.
type Manifest = fn() -> String;
const IMMUTABLE: &[(&str, Manifest, &str, &str)] = &[
    (
        "email",
        valid_user,
        "email: alice@example.com",
        "email: bob@example.com",
    ),
    (
        "userPoolRef",
        valid_user,
        "userPoolRef: {name: shop}",
        "userPoolRef: {name: other}",
    ),
    (
        "usernameAttributes",
        valid_pool,
        "region: us-east-1",
        "region: us-east-1\n  usernameAttributes: [phone_number]",
    ),
    (
        "region",
        valid_pool,
        "region: us-east-1",
        "region: eu-west-1",
    ),
    (
        "usernameCaseSensitive",
        valid_pool,
        "region: us-east-1",
        "region: us-east-1\n  usernameCaseSensitive: true",
    ),
];

#[test]
fn create_only_fields_cannot_change() {
    let ns = TestNamespace::create("crd-immutable");
    for (field, manifest, from, to) in IMMUTABLE {
        let manifest = manifest();
        ns.try_apply(&manifest).expect_success("create");
        let refusal = ns
            .try_apply(&manifest.replace(from, to))
            .expect_failure(field);
        assert!(
            refusal.contains(field)
                && (refusal.contains("immutable") || refusal.contains("cannot change")),
            "{field}: {refusal}"
        );
    }
}

#[test]
fn app_schemes_and_local_http_are_valid_callback_urls() {
    let ns = TestNamespace::create("crd-oauth");
    let pool = manifest(
        "UserPool",
        "web",
        "  domain: {prefix: shop-login}\n  clients: [{name: web, oauth: {flows: [code], scopes: [openid, email], callbackUrls: ['https://shop.example/cb', 'http://localhost:3000/cb', 'http://[::1]/cb', 'myapp://callback', 'httpx://x']}}]\n",
    );
    ns.try_apply(&pool).expect_success("create");
}

#[test]
fn a_domain_is_not_renamed_in_place() {
    let ns = TestNamespace::create("crd-domain");
    let pool = |prefix: &str| {
        manifest(
            "UserPool",
            "p",
            &format!("  domain: {{prefix: {prefix}}}\n"),
        )
    };
    ns.try_apply(&pool("shop-login")).expect_success("create");
    let refusal = ns
        .try_apply(&pool("shop-signin"))
        .expect_failure("rename the prefix");
    assert!(refusal.contains("cannot be renamed in place"), "{refusal}");
    // Removing the domain, then adding the new one, is the way.
    ns.try_apply(&manifest("UserPool", "p", "  groups: []\n"))
        .expect_success("remove the domain");
    ns.try_apply(&pool("shop-signin"))
        .expect_success("the new prefix");
}

#[test]
fn an_identity_provider_keeps_its_type() {
    let ns = TestNamespace::create("crd-idp");
    let pool = |provider: &str| {
        manifest(
            "UserPool",
            "p",
            &format!("  identityProviders: [{{name: Corp, {provider}}}]\n"),
        )
    };
    ns.try_apply(&pool(
        "type: OIDC, clientId: a, oidc: {issuer: 'https://idp.corp.example'}",
    ))
    .expect_success("create");
    let refusal = ns
        .try_apply(&pool(
            "type: SAML, saml: {metadataUrl: 'https://idp.corp.example/m'}",
        ))
        .expect_failure("change the type");
    assert!(refusal.contains("type cannot change"), "{refusal}");
}

#[test]
fn allow_replacement_unlocks_username_attributes() {
    let ns = TestNamespace::create("crd-replace");
    ns.try_apply(&valid_pool()).expect_success("create");
    let replaced = valid_pool().replace(
        "region: us-east-1",
        "region: us-east-1\n  allowReplacement: true\n  usernameAttributes: [phone_number]",
    );
    ns.try_apply(&replaced)
        .expect_success("change with allowReplacement");
}

#[test]
fn client_generate_secret_cannot_change() {
    let ns = TestNamespace::create("crd-secret");
    let pool = |secret: bool| {
        manifest(
            "UserPool",
            "p",
            &format!("  clients: [{{name: web, generateSecret: {secret}}}]\n"),
        )
    };
    ns.try_apply(&pool(false)).expect_success("create");
    let refusal = ns
        .try_apply(&pool(true))
        .expect_failure("flip generateSecret");
    assert!(refusal.contains("generateSecret"), "{refusal}");
}
