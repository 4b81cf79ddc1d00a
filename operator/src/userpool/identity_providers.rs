//! The identity providers of a pool's stack, as pure functions of the spec. A
//! provider's client secret or private key never enters the template: each is a
//! `NoEcho` parameter the operator fills from the tenant's Secret on every create or
//! update, as the trigger sink's secret is. The template carries only the Secret's
//! `resourceVersion`, so that a new secret changes the template and the stack is
//! updated with it.

use std::collections::BTreeMap;

use cognito_crds::userpool::{
    AttributesRequestMethod, COGNITO_PROVIDER, IdentityProvider, ProviderSecretRef, ProviderType,
    UserPoolSpec,
};
use serde_json::{Map, Value, json};

use super::template::logical_id;

/// Metadata key on a provider resource holding the versions of its secrets.
const SECRET_VERSIONS: &str = "cognito.kubeauth.dev/secret-versions";

fn resource_id(provider: &str) -> String {
    logical_id("IdentityProvider", provider)
}

/// A secret a provider needs: the stack parameter that carries it, the detail key it
/// fills, and where it comes from.
pub struct ProviderSecret<'a> {
    pub parameter: String,
    pub detail: &'static str,
    pub provider: &'a str,
    pub source: &'a ProviderSecretRef,
}

/// The secrets of one provider.
fn secrets_of(provider: &IdentityProvider) -> Vec<ProviderSecret<'_>> {
    let client_secret = provider
        .client_secret_ref
        .as_ref()
        .map(|source| ("client_secret", "ClientSecret", source));
    let private_key = provider
        .apple
        .as_ref()
        .map(|apple| ("private_key", "PrivateKey", &apple.private_key_ref));
    client_secret
        .into_iter()
        .chain(private_key)
        .map(|(detail, kind, source)| ProviderSecret {
            parameter: logical_id(&format!("Idp{kind}"), &provider.name),
            detail,
            provider: &provider.name,
            source,
        })
        .collect()
}

/// Every secret the spec's providers need.
pub fn secrets(spec: &UserPoolSpec) -> Vec<ProviderSecret<'_>> {
    spec.identity_providers
        .iter()
        .flat_map(secrets_of)
        .collect()
}

/// The stack parameters of the providers' secrets.
pub fn parameters(spec: &UserPoolSpec) -> Map<String, Value> {
    secrets(spec)
        .into_iter()
        .map(|secret| {
            (
                secret.parameter,
                json!({
                    "Type": "String",
                    "NoEcho": true,
                    "Description": format!("{} of identity provider {}", secret.detail, secret.provider),
                }),
            )
        })
        .collect()
}

/// The provider resources. `versions`: the `resourceVersion` of each secret's Secret,
/// by parameter name.
pub fn resources(
    spec: &UserPoolSpec,
    pool_ref: &Value,
    versions: &BTreeMap<String, String>,
) -> Map<String, Value> {
    spec.identity_providers
        .iter()
        .map(|provider| {
            let secrets = secrets_of(provider);
            let mut details = details(provider);
            for secret in &secrets {
                details.insert(secret.detail.into(), json!({ "Ref": secret.parameter }));
            }
            let mut properties = json!({
                "UserPoolId": pool_ref,
                "ProviderName": provider.name,
                "ProviderType": provider.provider_type,
                "ProviderDetails": details,
            });
            if !provider.attribute_mapping.is_empty() {
                properties["AttributeMapping"] = json!(provider.attribute_mapping);
            }
            if !provider.identifiers.is_empty() {
                properties["IdpIdentifiers"] = json!(provider.identifiers);
            }
            let mut resource =
                json!({ "Type": "AWS::Cognito::UserPoolIdentityProvider", "Properties": properties });
            if !secrets.is_empty() {
                let seen: BTreeMap<&str, &str> = secrets
                    .iter()
                    .map(|s| {
                        let version = versions.get(&s.parameter).map_or("", String::as_str);
                        (s.detail, version)
                    })
                    .collect();
                resource["Metadata"] = json!({ SECRET_VERSIONS: seen });
            }
            (resource_id(&provider.name), resource)
        })
        .collect()
}

/// `ProviderDetails` without the secrets.
fn details(provider: &IdentityProvider) -> Map<String, Value> {
    let mut details = Map::new();
    if let Some(client_id) = &provider.client_id {
        details.insert("client_id".into(), json!(client_id));
    }
    if provider.provider_type != ProviderType::Saml {
        details.insert(
            "authorize_scopes".into(),
            json!(provider.authorize_scopes.join(" ")),
        );
    }
    if let Some(apple) = &provider.apple {
        details.insert("team_id".into(), json!(apple.team_id));
        details.insert("key_id".into(), json!(apple.key_id));
    }
    if let Some(oidc) = &provider.oidc {
        details.insert("oidc_issuer".into(), json!(oidc.issuer));
        details.insert(
            "attributes_request_method".into(),
            json!(match oidc.attributes_request_method {
                AttributesRequestMethod::Get => "GET",
                AttributesRequestMethod::Post => "POST",
            }),
        );
    }
    if let Some(saml) = &provider.saml {
        details.insert("MetadataURL".into(), json!(saml.metadata_url));
    }
    details
}

/// Whether an app client may list `provider`: the pool's own directory or a declared
/// provider.
pub fn is_known(provider: &str, spec: &UserPoolSpec) -> bool {
    provider == COGNITO_PROVIDER || spec.identity_providers.iter().any(|p| p.name == provider)
}

/// A client's `SupportedIdentityProviders` entry: a declared provider is a `Ref`, so
/// CloudFormation creates it before the client names it.
pub fn supported_provider(provider: &str, spec: &UserPoolSpec) -> Value {
    if provider != COGNITO_PROVIDER && is_known(provider, spec) {
        json!({ "Ref": resource_id(provider) })
    } else {
        json!(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> UserPoolSpec {
        serde_yaml_ng::from_str(yaml).expect("valid spec")
    }

    const PROVIDERS: &str = r#"
        identityProviders:
          - name: Google
            type: Google
            clientId: id.apps.googleusercontent.com
            clientSecretRef: {name: google, key: client-secret}
            authorizeScopes: [openid, email, profile]
            attributeMapping: {email: email}
          - name: SignInWithApple
            type: SignInWithApple
            clientId: com.shop.web
            authorizeScopes: [email, name]
            apple: {teamId: TEAM, keyId: KEY, privateKeyRef: {name: apple, key: key.p8}}
          - name: Corp
            type: SAML
            saml: {metadataUrl: "https://idp.corp.example/metadata"}
            identifiers: [corp.example]
    "#;

    #[test]
    fn secrets_are_parameter_refs_and_their_versions_are_in_the_template() {
        let spec = spec(PROVIDERS);
        let secrets = secrets(&spec);
        assert_eq!(secrets.len(), 2);
        let versions = BTreeMap::from([(secrets[0].parameter.clone(), "41".to_owned())]);
        let resources = resources(&spec, &json!({ "Ref": "UserPool" }), &versions);
        let google = &resources[&resource_id("Google")];
        assert_eq!(
            google["Properties"]["ProviderDetails"]["client_secret"],
            json!({ "Ref": secrets[0].parameter })
        );
        assert_eq!(
            google["Properties"]["ProviderDetails"]["authorize_scopes"],
            "openid email profile"
        );
        assert_eq!(google["Metadata"][SECRET_VERSIONS]["client_secret"], "41");
        let apple = &resources[&resource_id("SignInWithApple")]["Properties"]["ProviderDetails"];
        assert_eq!(apple["private_key"], json!({ "Ref": secrets[1].parameter }));
        assert_eq!(apple["team_id"], "TEAM");
        let corp = &resources[&resource_id("Corp")];
        assert_eq!(
            corp["Properties"]["ProviderDetails"],
            json!({ "MetadataURL": "https://idp.corp.example/metadata" })
        );
        assert!(corp.get("Metadata").is_none());
        let parameters = parameters(&spec);
        assert_eq!(parameters[&secrets[1].parameter]["NoEcho"], true);
    }

    #[test]
    fn declared_providers_are_refs_for_clients() {
        let spec = spec(PROVIDERS);
        assert_eq!(supported_provider("COGNITO", &spec), json!("COGNITO"));
        assert_eq!(
            supported_provider("Corp", &spec),
            json!({ "Ref": resource_id("Corp") })
        );
        assert!(!is_known("Facebook", &spec));
    }
}
