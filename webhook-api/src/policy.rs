//! What a route requires of a token, and the check of a signature-verified token's
//! claims against its pool and the route: issuer, the pools the route accepts, token
//! use, client, times, revocation, then the kind of caller, groups and scopes. `exp` and `nbf` allow a clock
//! skew for clocks that disagree slightly.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::{
    pools::TrustedPool,
    token::{Caller, InvalidToken, TokenClaims, TokenUse},
};

/// What a route requires of a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutePolicy {
    /// The pools whose tokens this route accepts, by name: a configured pool's `name`
    /// (or issuer), `<namespace>/<name>` of a discovered `UserPool`, or `<namespace>/*`
    /// for every pool discovered there. Empty: every trusted pool.
    #[serde(default)]
    pub pools: Vec<String>,
    pub token_use: TokenUse,
    /// Who may call: signed-in users (the default), app clients on their own, or both.
    #[serde(default)]
    pub caller: Callers,
    /// Every one of these must be in `cognito:groups`.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Every one of these must be in `scope` (access tokens).
    #[serde(default)]
    pub required_scopes: Vec<String>,
}

impl RoutePolicy {
    pub fn new(token_use: TokenUse) -> Self {
        Self {
            token_use,
            caller: Callers::User,
            required_groups: Vec::new(),
            required_scopes: Vec::new(),
            pools: Vec::new(),
        }
    }

    /// Whether tokens of `pool` may be used on this route.
    pub fn accepts(&self, pool: &TrustedPool) -> bool {
        self.pools.is_empty()
            || self.pools.iter().any(|wanted| {
                *wanted == pool.name
                    || wanted.strip_suffix("/*").is_some_and(|namespace| {
                        !pool.configured
                            && pool
                                .name
                                .split_once('/')
                                .is_some_and(|(ns, _)| ns == namespace)
                    })
            })
    }
}

/// Which callers a route admits. Users by default: a route written for people must not
/// start answering app clients because a client got a token of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Callers {
    #[default]
    User,
    Machine,
    Any,
}

impl Callers {
    pub fn admit(self, caller: Caller<'_>) -> Result<(), Insufficient> {
        match (self, caller) {
            (Self::User, Caller::Machine(_)) => Err(Insufficient::MachineCaller),
            (Self::Machine, Caller::User(_)) => Err(Insufficient::UserCaller),
            _ => Ok(()),
        }
    }
}

/// Why a valid token is not enough for the route (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Insufficient {
    #[error("this route needs a signed-in user; machine tokens are refused")]
    MachineCaller,
    #[error("this route is for app clients; user tokens are refused")]
    UserCaller,
    #[error("a required group is missing")]
    MissingGroup,
    #[error("a required scope is missing")]
    MissingScope,
}

/// The verdict on a token that is refused, whichever step refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Invalid(#[from] InvalidToken),
    #[error(transparent)]
    Forbidden(#[from] Insufficient),
    /// The issuer's JWKS could not be fetched: not the client's fault.
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

/// Everything about a signature-verified token that does not involve keys: issuer,
/// token use, client, times, revocation, who it speaks for, then the route's kind of
/// caller, groups and scopes.
pub fn check_claims(
    claims: &TokenClaims,
    pool: Option<&TrustedPool>,
    policy: &RoutePolicy,
    revoked_origin_jtis: &BTreeSet<String>,
    now: u64,
    clock_skew: u64,
) -> Result<(), VerifyError> {
    let pool = pool.ok_or(InvalidToken::UntrustedIssuer)?;
    if !policy.accepts(pool) {
        return Err(InvalidToken::PoolNotAccepted.into());
    }
    if claims.token_use != policy.token_use {
        return Err(InvalidToken::WrongTokenUse.into());
    }
    if !claims
        .client()
        .is_some_and(|client| pool.client_ids.contains(client))
    {
        return Err(InvalidToken::ClientNotAllowed.into());
    }
    if now >= claims.exp.saturating_add(clock_skew) {
        return Err(InvalidToken::Expired.into());
    }
    if claims
        .nbf
        .is_some_and(|nbf| now.saturating_add(clock_skew) < nbf)
    {
        return Err(InvalidToken::NotYetValid.into());
    }
    if claims
        .origin_jti
        .as_ref()
        .is_some_and(|jti| revoked_origin_jtis.contains(jti))
    {
        return Err(InvalidToken::Revoked.into());
    }
    // Before groups and scopes: "machine tokens are refused" says more to a client than
    // "a required group is missing" would.
    policy
        .caller
        .admit(claims.caller().ok_or(InvalidToken::NoCaller)?)?;
    if !policy
        .required_groups
        .iter()
        .all(|group| claims.groups.contains(group))
    {
        return Err(Insufficient::MissingGroup.into());
    }
    if !policy
        .required_scopes
        .iter()
        .all(|scope| claims.has_scope(scope))
    {
        return Err(Insufficient::MissingScope.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Audience;

    const NOW: u64 = 1_800_000_000;
    const SKEW: u64 = 30;

    fn pool() -> TrustedPool {
        TrustedPool {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x".into(),
            jwks_uri: String::new(),
            client_ids: ["client-a".to_owned()].into(),
            name: "shop".into(),
            configured: true,
        }
    }

    fn access_claims() -> TokenClaims {
        TokenClaims {
            iss: pool().issuer,
            sub: "sub-1".into(),
            token_use: TokenUse::Access,
            exp: NOW + 60,
            nbf: None,
            client_id: Some("client-a".into()),
            aud: None,
            username: Some("alice".into()),
            cognito_username: None,
            email: None,
            email_verified: None,
            groups: vec!["admins".into()],
            scope: Some("aws.cognito.signin.user.admin orders/read".into()),
            origin_jti: Some("session-1".into()),
        }
    }

    /// A client_credentials access token: no user, `sub` = `client_id`, custom scopes.
    fn machine_claims() -> TokenClaims {
        TokenClaims {
            sub: "client-a".into(),
            username: None,
            groups: Vec::new(),
            scope: Some("orders/read".into()),
            origin_jti: None,
            ..access_claims()
        }
    }

    fn route(caller: Callers) -> RoutePolicy {
        RoutePolicy { caller, ..access() }
    }

    fn check(claims: &TokenClaims, policy: &RoutePolicy) -> Result<(), VerifyError> {
        check_claims(
            claims,
            Some(&pool()),
            policy,
            &["revoked-session".to_owned()].into(),
            NOW,
            SKEW,
        )
    }

    fn access() -> RoutePolicy {
        RoutePolicy::new(TokenUse::Access)
    }

    /// The verdict on a valid access token with one change, for an access route.
    fn check_changed(change: impl FnOnce(&mut TokenClaims)) -> Result<(), VerifyError> {
        let mut claims = access_claims();
        change(&mut claims);
        check(&claims, &access())
    }

    #[test]
    fn accepts_a_valid_access_token() {
        assert_eq!(check(&access_claims(), &access()), Ok(()));
    }

    #[test]
    fn token_use_must_match_the_route() {
        let policy = RoutePolicy::new(TokenUse::Id);
        assert_eq!(
            check(&access_claims(), &policy),
            Err(InvalidToken::WrongTokenUse.into())
        );
    }

    #[test]
    fn id_tokens_are_matched_on_aud_and_access_tokens_on_client_id() {
        let mut id = access_claims();
        id.token_use = TokenUse::Id;
        id.client_id = None;
        id.aud = Some(Audience::One("client-a".into()));
        id.cognito_username = id.username.take();
        assert_eq!(check(&id, &RoutePolicy::new(TokenUse::Id)), Ok(()));

        // An access token's aud does not stand in for client_id.
        let access_with_aud = check_changed(|claims| {
            claims.client_id = None;
            claims.aud = Some(Audience::One("client-a".into()));
        });
        assert_eq!(access_with_aud, Err(InvalidToken::ClientNotAllowed.into()));

        id.aud = Some(Audience::Many(vec!["client-a".into()]));
        assert_eq!(
            check(&id, &RoutePolicy::new(TokenUse::Id)),
            Err(InvalidToken::ClientNotAllowed.into())
        );
    }

    #[test]
    fn unknown_issuer_and_client_are_refused() {
        assert_eq!(
            check_claims(
                &access_claims(),
                None,
                &access(),
                &BTreeSet::new(),
                NOW,
                SKEW
            ),
            Err(InvalidToken::UntrustedIssuer.into())
        );
        let other_client = check_changed(|claims| claims.client_id = Some("client-b".into()));
        assert_eq!(other_client, Err(InvalidToken::ClientNotAllowed.into()));
    }

    #[test]
    fn expiry_and_not_before_allow_the_clock_skew_and_no_more() {
        assert_eq!(check_changed(|claims| claims.exp = NOW - SKEW + 1), Ok(()));
        assert_eq!(
            check_changed(|claims| claims.exp = NOW - SKEW),
            Err(InvalidToken::Expired.into())
        );
        assert_eq!(
            check_changed(|claims| claims.nbf = Some(NOW + SKEW)),
            Ok(())
        );
        assert_eq!(
            check_changed(|claims| claims.nbf = Some(NOW + SKEW + 1)),
            Err(InvalidToken::NotYetValid.into())
        );
    }

    #[test]
    fn a_route_bound_to_pools_refuses_other_pools() {
        let mut policy = access();
        policy.pools = vec!["other".into(), "team-a/*".into()];
        assert_eq!(
            check(&access_claims(), &policy),
            Err(InvalidToken::PoolNotAccepted.into())
        );
        policy.pools.push("shop".into());
        assert_eq!(check(&access_claims(), &policy), Ok(()));

        let discovered = |name: &str| TrustedPool {
            name: name.into(),
            configured: false,
            ..pool()
        };
        policy.pools = vec!["team-a/*".into()];
        assert!(policy.accepts(&discovered("team-a/shop")));
        assert!(!policy.accepts(&discovered("team-ab/shop")));
        assert!(!policy.accepts(&discovered("team-b/shop")));
        // A configured pool whose name looks like a namespace is not matched by a glob.
        assert!(!policy.accepts(&TrustedPool {
            name: "team-a/x".into(),
            ..pool()
        }));
    }

    #[test]
    fn revoked_sessions_are_refused() {
        let revoked = check_changed(|claims| claims.origin_jti = Some("revoked-session".into()));
        assert_eq!(revoked, Err(InvalidToken::Revoked.into()));
    }

    #[test]
    fn missing_group_or_scope_is_forbidden_not_unauthorized() {
        let mut policy = access();
        policy.required_groups = vec!["admins".into()];
        policy.required_scopes = vec!["orders/read".into()];
        assert_eq!(check(&access_claims(), &policy), Ok(()));

        policy.required_groups = vec!["auditors".into()];
        assert_eq!(
            check(&access_claims(), &policy),
            Err(Insufficient::MissingGroup.into())
        );
        policy.required_groups.clear();
        // A scope must match a whole entry, not a prefix.
        policy.required_scopes = vec!["orders".into()];
        assert_eq!(
            check(&access_claims(), &policy),
            Err(Insufficient::MissingScope.into())
        );
    }

    #[test]
    fn each_route_admits_its_kind_of_caller() {
        let (user, machine) = (access_claims(), machine_claims());
        let forbidden = |reason: Insufficient| Err(VerifyError::Forbidden(reason));
        assert_eq!(check(&user, &route(Callers::User)), Ok(()));
        assert_eq!(
            check(&machine, &route(Callers::User)),
            forbidden(Insufficient::MachineCaller)
        );
        assert_eq!(check(&machine, &route(Callers::Machine)), Ok(()));
        assert_eq!(
            check(&user, &route(Callers::Machine)),
            forbidden(Insufficient::UserCaller)
        );
        assert_eq!(check(&user, &route(Callers::Any)), Ok(()));
        assert_eq!(check(&machine, &route(Callers::Any)), Ok(()));

        // The kind of caller is judged before groups: the more useful refusal.
        let mut staff_only = route(Callers::User);
        staff_only.required_groups = vec!["admins".into()];
        assert_eq!(
            check(&machine, &staff_only),
            forbidden(Insufficient::MachineCaller)
        );
    }

    #[test]
    fn a_machine_route_checks_scopes_like_any_other() {
        let mut policy = route(Callers::Machine);
        policy.required_scopes = vec!["orders/read".into()];
        assert_eq!(check(&machine_claims(), &policy), Ok(()));
        policy.required_scopes.push("orders/write".into());
        assert_eq!(
            check(&machine_claims(), &policy),
            Err(Insufficient::MissingScope.into())
        );
    }

    #[test]
    fn a_token_that_names_no_caller_passes_nowhere() {
        let mut stray = machine_claims();
        stray.sub = "sub-1".into();
        for callers in [Callers::User, Callers::Machine, Callers::Any] {
            assert_eq!(
                check(&stray, &route(callers)),
                Err(InvalidToken::NoCaller.into()),
                "{callers:?}"
            );
        }
    }

    #[test]
    fn routes_admit_users_unless_configured_otherwise() {
        let parse = |yaml: &str| serde_yaml_ng::from_str::<RoutePolicy>(yaml);
        let default = parse("tokenUse: access").expect("parses");
        assert_eq!(default, access());
        assert_eq!(default.caller, Callers::User);
        for (text, callers) in [
            ("user", Callers::User),
            ("machine", Callers::Machine),
            ("any", Callers::Any),
        ] {
            let policy = parse(&format!("{{tokenUse: access, caller: {text}}}")).expect("parses");
            assert_eq!(policy.caller, callers);
        }
        assert!(parse("{tokenUse: access, caller: service}").is_err());
    }
}
