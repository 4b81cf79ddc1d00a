//! The OAuth 2.0 side of a UserPool: the app clients' OAuth settings, resource servers
//! with their custom scopes, and the domain that serves the managed login pages and the
//! OAuth endpoints.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A redirect URL Cognito accepts: absolute, no fragment, and `https`, plain `http` for
/// the local host only, or an app's own scheme. The schemes spelled out letter by letter
/// are every scheme but `http` and `https`: the API server's regular expressions have no
/// look-ahead, and a CEL rule over 100 URLs per client exceeds its cost budget.
const REDIRECT_URL: &str = r"^(https://[^\s#]+|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?(/[^\s#]*)?|([a-gi-z][a-z0-9+.-]*|h([a-su-z0-9+.-][a-z0-9+.-]*)?|ht([a-su-z0-9+.-][a-z0-9+.-]*)?|htt([a-oq-z0-9+.-][a-z0-9+.-]*)?|http[a-rt-z0-9+.-][a-z0-9+.-]*|https[a-z0-9+.-]+)://[^\s#]+)$";

/// OAuth 2.0 settings of an app client: which flows it may use, which scopes it may ask
/// for, and where the managed login pages may send users back to. Setting this turns on
/// `AllowedOAuthFlowsUserPoolClient`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!('client_credentials' in self.flows) || self.flows.size() == 1")
    .message("client_credentials cannot be combined with code or implicit: use one client per kind of caller")
    .field_path(".flows"))]
#[x_kube(validation = Rule::new("!('client_credentials' in self.flows) || self.scopes.all(s, s.contains('/'))")
    .message("client_credentials takes only resource-server scopes (<identifier>/<scope>): a machine has no user to read openid, email, phone or profile from")
    .field_path(".scopes"))]
#[x_kube(validation = Rule::new("!('code' in self.flows || 'implicit' in self.flows) || self.callbackUrls.size() > 0")
    .message("the code and implicit flows need at least one entry in callbackUrls")
    .field_path(".callbackUrls"))]
#[x_kube(validation = Rule::new("!has(self.defaultRedirectUri) || self.defaultRedirectUri in self.callbackUrls")
    .message("defaultRedirectUri must be one of callbackUrls")
    .field_path(".defaultRedirectUri"))]
#[x_kube(validation = Rule::new("!self.scopes.exists(s, s in ['email', 'phone', 'profile']) || 'openid' in self.scopes")
    .message("the email, phone and profile scopes need the openid scope")
    .field_path(".scopes"))]
pub struct ClientOAuth {
    /// Allowed OAuth flows: `code` (authorization code, with PKCE for public clients),
    /// `implicit` (tokens in the redirect; discouraged), or `client_credentials` alone
    /// (machine-to-machine; needs `generateSecret: true`).
    #[schemars(length(min = 1, max = 3))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub flows: Vec<OAuthFlow>,

    /// Scopes the client may request: `openid`, `email`, `phone`, `profile`,
    /// `aws.cognito.signin.user.admin`, or a resource server's `<identifier>/<scope>`
    /// from `spec.resourceServers`.
    #[schemars(
        length(min = 1, max = 50),
        inner(
            length(min = 1, max = 256),
            regex(pattern = r"^[\x21\x23-\x5B\x5D-\x7E]+$")
        )
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub scopes: Vec<String>,

    /// Where the managed login pages may send users after sign-in: absolute URLs without
    /// a fragment, `https` (plain `http` only for `localhost`, `127.0.0.1` or `[::1]`) or
    /// an app's own scheme (`myapp://callback`).
    #[serde(default)]
    #[schemars(length(max = 100), inner(length(min = 1, max = 1024), regex(pattern = REDIRECT_URL)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub callback_urls: Vec<String>,

    /// Where the managed login pages may send users after sign-out; the same rules as
    /// `callbackUrls`.
    #[serde(default)]
    #[schemars(length(max = 100), inner(length(min = 1, max = 1024), regex(pattern = REDIRECT_URL)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub logout_urls: Vec<String>,

    /// The callback URL used when a request names none; one of `callbackUrls`.
    #[schemars(length(min = 1, max = 1024))]
    pub default_redirect_uri: Option<String>,

    /// Who users may sign in with on the managed login pages: `COGNITO` (the pool's own
    /// users) and the `name` of any entry of `spec.identityProviders`. Default `[COGNITO]`.
    #[serde(default = "default_identity_providers")]
    #[schemars(length(min = 1, max = 50), inner(length(min = 1, max = 32)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub identity_providers: Vec<String>,
}

/// The provider name of the pool's own directory.
pub const COGNITO_PROVIDER: &str = "COGNITO";

fn default_identity_providers() -> Vec<String> {
    vec![COGNITO_PROVIDER.to_owned()]
}

/// Cognito's `AllowedOAuthFlows` values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OAuthFlow {
    Code,
    Implicit,
    ClientCredentials,
}

/// Refresh-token rotation: each refresh returns a new refresh token and invalidates the
/// old one after a grace period.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenRotation {
    /// Seconds the previous refresh token stays usable, 0 to 60 (default 0), so that
    /// concurrent refreshes of one session do not sign the user out.
    #[serde(default)]
    #[schemars(range(min = 0, max = 60))]
    pub retry_grace_period_seconds: i32,
}

/// An API the pool issues access tokens for, with the custom scopes clients can ask for
/// as `<identifier>/<scope>`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.name) || self.identifier.matches('^[A-Za-z0-9_ +=,.@-]+$')")
    .message("set name: the identifier holds characters Cognito does not allow in a name (such as : or /), so it cannot stand in for it")
    .field_path(".name"))]
pub struct ResourceServer {
    /// The API's identifier, often its URL (`https://api.example.com`) or a short name
    /// (`orders`). Changing it replaces the resource server (the pool stays).
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[\x21\x23-\x5B\x5D-\x7E]+$")
    )]
    pub identifier: String,

    /// Display name: letters, digits, spaces and `+=,.@-`. Defaults to the identifier,
    /// which must then be made of those characters only.
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[\w\s+=,.@-]+$"))]
    pub name: Option<String>,

    /// The scopes of this API.
    #[serde(default)]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub scopes: Vec<ResourceScope>,
}

/// A custom scope of a resource server.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceScope {
    /// Scope name, for example `read`; no spaces, quotes, slashes or backslashes.
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+$")
    )]
    pub name: String,

    /// What the scope allows.
    #[schemars(length(min = 1, max = 256))]
    pub description: String,
}

/// The domain of the managed login pages and OAuth endpoints: a prefix under
/// `auth.<region>.amazoncognito.com`, your own domain, or both (your own domain then
/// gives the published URLs).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.prefix) || has(self.custom)")
    .message("set prefix, custom or both"))]
#[x_kube(validation = Rule::new("!has(self.prefix) || !has(oldSelf.prefix) || self.prefix == oldSelf.prefix")
    .message("a prefix domain cannot be renamed in place: Cognito allows one prefix domain per pool, so the new one cannot exist beside the old. Remove domain.prefix, wait for Ready, then set the new prefix")
    .field_path(".prefix"))]
#[x_kube(validation = Rule::new("!has(self.custom) || !has(oldSelf.custom) || self.custom.name == oldSelf.custom.name")
    .message("a custom domain cannot be renamed in place: Cognito allows one custom domain per pool. Remove domain.custom, wait for Ready, then set the new domain")
    .field_path(".custom.name"))]
pub struct Domain {
    /// Prefix of `https://<prefix>.auth.<region>.amazoncognito.com`: lower-case letters,
    /// digits and hyphens, unique in the region, without `aws`, `amazon` or `cognito`.
    #[schemars(regex(pattern = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"))]
    #[x_kube(validation = Rule::new("!self.contains('aws') && !self.contains('amazon') && !self.contains('cognito')")
        .message("Cognito reserves prefixes that contain aws, amazon or cognito"))]
    pub prefix: Option<String>,

    /// Your own domain, served through CloudFront with your certificate.
    pub custom: Option<CustomDomain>,

    /// `1`: the classic hosted UI (default); `2`: managed login, which needs the
    /// Essentials or Plus plan; each OAuth client then gets Cognito's default branding.
    #[serde(default = "default_managed_login_version")]
    #[schemars(range(min = 1, max = 2))]
    pub managed_login_version: i32,
}

fn default_managed_login_version() -> i32 {
    1
}

/// A domain of yours for the login pages.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomDomain {
    /// Fully qualified name, for example `auth.example.com`; you point it (CNAME or alias)
    /// at the CloudFront distribution in `status.oauthEndpoints.cloudFrontDistribution`.
    #[schemars(
        length(min = 4, max = 253),
        regex(pattern = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    )]
    pub name: String,

    /// ARN of the ACM certificate for `name`. It must be in us-east-1, where CloudFront
    /// takes its certificates, whatever the pool's region.
    #[schemars(regex(pattern = r"^arn:[\w+=/,.@-]+:acm:us-east-1:[0-9]{12}:certificate/[\w-]+$"))]
    pub certificate_arn: String,
}
