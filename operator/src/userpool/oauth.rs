//! The OAuth part of a pool's stack, as pure functions of the spec: resource servers,
//! the domain (prefix and custom), managed login branding, the OAuth properties of app
//! clients, and the endpoint URLs the status publishes.
//!
//! References between resources are `Ref`s (a client's scopes to its resource server, a
//! branding to its client): CloudFormation orders creation by them, and a scope then
//! never reaches Cognito before the resource server that defines it.

use cognito_crds::userpool::{
    AppClient, Domain, OAuthEndpoints, OAuthFlow, ResourceServer, UserPoolSpec,
};
use serde_json::{Map, Value, json};

use super::template::logical_id;

/// Logical id of the prefix domain.
const PREFIX_DOMAIN: &str = "DomainPrefix";
/// Logical id of the custom domain.
const CUSTOM_DOMAIN: &str = "DomainCustom";
/// Output key of the custom domain's CloudFront distribution.
pub const OUTPUT_CLOUD_FRONT: &str = "CustomDomainCloudFront";

/// Logical id of a resource server.
fn resource_server_id(identifier: &str) -> String {
    logical_id("ResourceServer", identifier)
}

/// The resource servers, domains and brandings of the stack. `clients` are the
/// effective clients with their logical ids.
pub fn resources(
    spec: &UserPoolSpec,
    pool_ref: &Value,
    clients: &[(String, &AppClient)],
) -> Map<String, Value> {
    let mut resources = Map::new();
    for server in &spec.resource_servers {
        resources.insert(
            resource_server_id(&server.identifier),
            resource_server(server, pool_ref),
        );
    }
    let Some(domain) = &spec.domain else {
        return resources;
    };
    if let Some(prefix) = &domain.prefix {
        resources.insert(
            PREFIX_DOMAIN.to_owned(),
            json!({
                "Type": "AWS::Cognito::UserPoolDomain",
                "Properties": {
                    "UserPoolId": pool_ref,
                    "Domain": prefix,
                    "ManagedLoginVersion": domain.managed_login_version,
                },
            }),
        );
    }
    if let Some(custom) = &domain.custom {
        resources.insert(
            CUSTOM_DOMAIN.to_owned(),
            json!({
                "Type": "AWS::Cognito::UserPoolDomain",
                "Properties": {
                    "UserPoolId": pool_ref,
                    "Domain": custom.name,
                    "CustomDomainConfig": { "CertificateArn": custom.certificate_arn },
                    "ManagedLoginVersion": domain.managed_login_version,
                },
            }),
        );
    }
    // Managed login shows a client's pages only once the client has a style; the
    // default one is Cognito's.
    if domain.managed_login_version == 2 {
        for (client_id, client) in clients {
            if signs_users_in(client) {
                resources.insert(
                    format!("{client_id}Branding"),
                    json!({
                        "Type": "AWS::Cognito::ManagedLoginBranding",
                        "Properties": {
                            "UserPoolId": pool_ref,
                            "ClientId": { "Ref": client_id },
                            "UseCognitoProvidedValues": true,
                        },
                    }),
                );
            }
        }
    }
    resources
}

/// Whether users sign in through the managed login pages with this client.
fn signs_users_in(client: &AppClient) -> bool {
    client.oauth.as_ref().is_some_and(|oauth| {
        oauth
            .flows
            .iter()
            .any(|flow| matches!(flow, OAuthFlow::Code | OAuthFlow::Implicit))
    })
}

/// The stack outputs the OAuth resources add.
pub fn outputs(spec: &UserPoolSpec) -> Map<String, Value> {
    let mut outputs = Map::new();
    if spec.domain.as_ref().is_some_and(|d| d.custom.is_some()) {
        outputs.insert(
            OUTPUT_CLOUD_FRONT.to_owned(),
            json!({ "Value": { "Fn::GetAtt": [CUSTOM_DOMAIN, "CloudFrontDistribution"] } }),
        );
    }
    outputs
}

fn resource_server(server: &ResourceServer, pool_ref: &Value) -> Value {
    let scopes: Vec<Value> = server
        .scopes
        .iter()
        .map(|s| json!({ "ScopeName": s.name, "ScopeDescription": s.description }))
        .collect();
    json!({
        "Type": "AWS::Cognito::UserPoolResourceServer",
        "Properties": {
            "UserPoolId": pool_ref,
            "Identifier": server.identifier,
            "Name": server.name.as_deref().unwrap_or(&server.identifier),
            "Scopes": scopes,
        },
    })
}

/// The OAuth and token properties of a client beyond the basic ones.
pub fn client_properties(client: &AppClient, spec: &UserPoolSpec) -> Map<String, Value> {
    let mut properties = Map::new();
    if let Some(oauth) = &client.oauth {
        properties.insert("AllowedOAuthFlowsUserPoolClient".into(), json!(true));
        properties.insert("AllowedOAuthFlows".into(), json!(oauth.flows));
        let scopes: Vec<Value> = oauth
            .scopes
            .iter()
            .map(|scope| scope_value(scope, &spec.resource_servers))
            .collect();
        properties.insert("AllowedOAuthScopes".into(), json!(scopes));
        if !oauth.callback_urls.is_empty() {
            properties.insert("CallbackURLs".into(), json!(oauth.callback_urls));
        }
        if !oauth.logout_urls.is_empty() {
            properties.insert("LogoutURLs".into(), json!(oauth.logout_urls));
        }
        if let Some(uri) = &oauth.default_redirect_uri {
            properties.insert("DefaultRedirectURI".into(), json!(uri));
        }
        let providers: Vec<Value> = oauth
            .identity_providers
            .iter()
            .map(|provider| super::identity_providers::supported_provider(provider, spec))
            .collect();
        properties.insert("SupportedIdentityProviders".into(), json!(providers));
    }
    if let Some(attributes) = &client.read_attributes {
        properties.insert("ReadAttributes".into(), json!(attributes));
    }
    if let Some(rotation) = &client.refresh_token_rotation {
        properties.insert(
            "RefreshTokenRotation".into(),
            json!({
                "Feature": "ENABLED",
                "RetryGracePeriodSeconds": rotation.retry_grace_period_seconds,
            }),
        );
    }
    if let Some(minutes) = client.auth_session_validity_minutes {
        properties.insert("AuthSessionValidity".into(), json!(minutes));
    }
    properties
}

/// A scope as the template holds it: a resource server's scope refers to the server,
/// so CloudFormation creates the server first.
fn scope_value(scope: &str, servers: &[ResourceServer]) -> Value {
    match resource_server_of(scope, servers) {
        Some((server, name)) => json!({
            "Fn::Join": ["/", [{ "Ref": resource_server_id(&server.identifier) }, name]]
        }),
        None => json!(scope),
    }
}

/// The resource server and scope name a `<identifier>/<scope>` string names. An
/// identifier may itself hold slashes (`https://api.example.com`), so the scope name is
/// what follows the identifier.
fn resource_server_of<'a>(
    scope: &'a str,
    servers: &'a [ResourceServer],
) -> Option<(&'a ResourceServer, &'a str)> {
    servers.iter().find_map(|server| {
        let name = scope.strip_prefix(&server.identifier)?.strip_prefix('/')?;
        server
            .scopes
            .iter()
            .any(|s| s.name == name)
            .then_some((server, name))
    })
}

/// What in the spec refers to something the spec does not declare: a client scope
/// that is neither standard nor a declared resource server's, an unknown sign-in
/// provider, or OAuth settings without a domain. Each entry is a sentence. CEL
/// cannot check these at admission within its cost budget (every scope of every client
/// against every scope of every resource server).
pub fn dangling_references(spec: &UserPoolSpec, clients: &[AppClient]) -> Vec<String> {
    const STANDARD_SCOPES: [&str; 5] = [
        "openid",
        "email",
        "phone",
        "profile",
        "aws.cognito.signin.user.admin",
    ];
    let mut problems = Vec::new();
    for client in clients {
        let Some(oauth) = &client.oauth else { continue };
        for scope in &oauth.scopes {
            if !STANDARD_SCOPES.contains(&scope.as_str())
                && resource_server_of(scope, &spec.resource_servers).is_none()
            {
                problems.push(format!(
                    "client {} asks for scope {scope:?}, which is neither a standard scope nor <identifier>/<scope> of an entry of spec.resourceServers",
                    client.name
                ));
            }
        }
        for provider in &oauth.identity_providers {
            if !super::identity_providers::is_known(provider, spec) {
                problems.push(format!(
                    "client {} lists identity provider {provider:?}, which is neither COGNITO nor the name of an entry of spec.identityProviders",
                    client.name
                ));
            }
        }
        // The managed login pages and the token endpoint are served on the domain.
        if spec.domain.is_none() {
            problems.push(format!(
                "client {} has OAuth settings, which need spec.domain: the login pages and the token endpoint are served on it",
                client.name
            ));
        }
    }
    problems
}

/// Where a pool's domain serves its pages and endpoints. `aws_endpoint`: an emulator,
/// which serves each domain under `<endpoint>/_cognito/domains/<domain>`.
pub fn endpoints(
    domain: &Domain,
    region: &str,
    aws_endpoint: Option<&str>,
    cloud_front_distribution: Option<String>,
) -> OAuthEndpoints {
    let name = domain
        .custom
        .as_ref()
        .map(|custom| custom.name.clone())
        .or_else(|| domain.prefix.clone())
        .unwrap_or_default();
    let base_url = match (aws_endpoint, &domain.custom) {
        (Some(endpoint), _) => {
            format!("{}/_cognito/domains/{name}", endpoint.trim_end_matches('/'))
        }
        (None, Some(_)) => format!("https://{name}"),
        (None, None) => format!("https://{name}.auth.{region}.amazoncognito.com"),
    };
    OAuthEndpoints {
        authorize_url: format!("{base_url}/oauth2/authorize"),
        token_url: format!("{base_url}/oauth2/token"),
        user_info_url: format!("{base_url}/oauth2/userInfo"),
        logout_url: format!("{base_url}/logout"),
        base_url,
        cloud_front_distribution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userpool::template::effective_clients;

    fn spec(yaml: &str) -> UserPoolSpec {
        serde_yaml_ng::from_str(yaml).expect("valid spec")
    }

    const WEB_APP: &str = r#"
        domain: {prefix: shop-login, managedLoginVersion: 2}
        resourceServers:
          - identifier: https://api.example.com
            name: Shop API
            scopes: [{name: orders.read, description: Read orders}]
        clients:
          - name: web
            oauth:
              flows: [code]
              scopes: [openid, email, "https://api.example.com/orders.read"]
              callbackUrls: ["https://shop.example.com/callback"]
          - name: machine
            generateSecret: true
            oauth: {flows: [client_credentials], scopes: ["https://api.example.com/orders.read"]}
          - name: api-only
    "#;

    #[test]
    fn resource_server_scopes_refer_to_their_server() {
        let spec = spec(WEB_APP);
        let properties = client_properties(&spec.clients[0], &spec);
        let scopes = &properties["AllowedOAuthScopes"];
        assert_eq!(scopes[0], "openid");
        let server = resource_server_id("https://api.example.com");
        assert_eq!(
            scopes[2],
            json!({ "Fn::Join": ["/", [{ "Ref": server }, "orders.read"]] })
        );
        assert_eq!(properties["SupportedIdentityProviders"], json!(["COGNITO"]));
        assert!(client_properties(&spec.clients[2], &spec).is_empty());
    }

    #[test]
    fn managed_login_brands_only_clients_that_sign_users_in() {
        let spec = spec(WEB_APP);
        let clients = effective_clients(&spec, "shop");
        let ids: Vec<(String, &AppClient)> = clients
            .iter()
            .map(|c| (logical_id("Client", &c.name), c))
            .collect();
        let resources = resources(&spec, &json!({ "Ref": "UserPool" }), &ids);
        let brandings: Vec<&String> = resources
            .keys()
            .filter(|id| id.ends_with("Branding"))
            .collect();
        assert_eq!(brandings, [&format!("{}Branding", ids[0].0)]);
        assert_eq!(
            resources[PREFIX_DOMAIN]["Properties"]["Domain"],
            "shop-login"
        );
        assert!(!resources.contains_key(CUSTOM_DOMAIN));
    }

    #[test]
    fn undeclared_scopes_providers_and_a_missing_domain_are_named() {
        let mut spec = spec(WEB_APP);
        assert!(dangling_references(&spec, &spec.clients).is_empty());
        spec.domain = None;
        let oauth = spec.clients[1].oauth.as_mut().expect("oauth");
        oauth.scopes = vec!["https://api.example.com/orders.write".into()];
        oauth.identity_providers = vec!["Google".into()];
        let problems = dangling_references(&spec, &spec.clients);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[0].contains("client web has OAuth settings, which need spec.domain"),
            "{problems:?}"
        );
        assert!(problems[1].contains("orders.write"), "{problems:?}");
        assert!(problems[2].contains("\"Google\""), "{problems:?}");
        assert!(
            problems[3].contains("client machine has OAuth settings"),
            "{problems:?}"
        );
    }

    #[test]
    fn endpoints_follow_the_domain_kind_and_an_emulator() {
        let prefix = spec("domain: {prefix: shop}").domain.expect("domain");
        let aws = endpoints(&prefix, "eu-west-1", None, None);
        assert_eq!(
            aws.base_url,
            "https://shop.auth.eu-west-1.amazoncognito.com"
        );
        assert_eq!(
            aws.token_url,
            "https://shop.auth.eu-west-1.amazoncognito.com/oauth2/token"
        );
        let custom = spec(
            "domain: {prefix: shop, custom: {name: auth.shop.example, certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc'}}",
        )
        .domain
        .expect("domain");
        let both = endpoints(&custom, "eu-west-1", None, Some("d1.cloudfront.net".into()));
        assert_eq!(both.logout_url, "https://auth.shop.example/logout");
        assert_eq!(
            both.cloud_front_distribution.as_deref(),
            Some("d1.cloudfront.net")
        );
        let emulated = endpoints(&prefix, "eu-west-1", Some("http://127.0.0.1:5055/"), None);
        assert_eq!(
            emulated.authorize_url,
            "http://127.0.0.1:5055/_cognito/domains/shop/oauth2/authorize"
        );
    }
}
