//! The AppUser controller's decisions, as pure functions of what was observed: whether a
//! user is settled, how to learn its state, whether to set the password, what a failed
//! create means, and which of two AppUsers holds an email.

use cognito_crds::{AppUser, AppUserStatus, user_provisioning::CognitoErrorKind};
use kube::ResourceExt;

use super::directory::ATTEMPTS;
use crate::{
    error::Error,
    reconcile::{
        conditions::{self, READY, SYNCED, reasons},
        outcome::{self, pending_request},
    },
};

/// Whether the user converged for its current generation, so that it needs no read of
/// Cognito until the census reports on it. The one definition, used by the reconcile and
/// the census alike. Not settled: an object being deleted; a user never created; one
/// created by a reconcile that failed before its password was set (its flags and groups
/// may be missing too); anything not Ready and Synced; a pending reconcile request.
pub fn is_settled(user: &AppUser, status: &AppUserStatus) -> bool {
    user.metadata.deletion_timestamp.is_none()
        && status.sub.is_some()
        && status.observed_generation == user.metadata.generation
        && status.applied_password_version.is_some()
        && conditions::is_true(&status.conditions, READY)
        && conditions::is_true(&status.conditions, SYNCED)
        && pending_request(user, status).is_none()
}

/// How a reconcile learns the user's state before converging it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// Never attempted in this pool (or the pool was replaced): record that a create is
    /// under way, then create, adopting on a clash.
    Create,
    /// Use what the census just read.
    CensusReport,
    /// Settled: take the user to be as last applied, without a call.
    AsApplied,
    /// Read it (`AdminGetUser`).
    Read,
}

pub fn how_to_observe(
    user: &AppUser,
    status: &AppUserStatus,
    pool_id: &str,
    census_reported: bool,
) -> Observe {
    if status.user_pool_id.as_deref() != Some(pool_id) {
        Observe::Create
    } else if status.sub.is_none() {
        // A create was recorded as under way and never as done: a reconcile cut short
        // (a crash, a restart) may have made the user already.
        Observe::Read
    } else if census_reported {
        Observe::CensusReport
    } else if is_settled(user, status) {
        Observe::AsApplied
    } else {
        Observe::Read
    }
}

/// What to do about the password of Secret version `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordStep {
    /// A new version, or a user without a permanent password: set it.
    Set,
    /// Cognito refused this version already: keep saying so, wait for a new one.
    StillRefused,
    /// Applied already.
    Keep,
}

pub fn password_step(status: &AppUserStatus, version: &str, confirmed: bool) -> PasswordStep {
    if status.rejected_password_version.as_deref() == Some(version) {
        PasswordStep::StillRefused
    } else if status.applied_password_version.as_deref() != Some(version) || !confirmed {
        PasswordStep::Set
    } else {
        PasswordStep::Keep
    }
}

/// What a failed `AdminCreateUser` means for the AppUser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateFailure {
    /// The user exists already: adopt it.
    Adopt,
    /// The pool's policy refuses the password: wait for a new Secret version.
    PasswordRefused(String),
    /// A value of the spec is refused: wait for a new spec.
    SpecRefused(String),
    /// Anything else: retry with backoff.
    Retry,
}

pub fn create_failure(kind: &CognitoErrorKind) -> CreateFailure {
    match kind {
        CognitoErrorKind::UserExists => CreateFailure::Adopt,
        CognitoErrorKind::InvalidPassword(message) => {
            CreateFailure::PasswordRefused(message.clone())
        }
        CognitoErrorKind::InvalidParameter(message) => CreateFailure::SpecRefused(message.clone()),
        _ => CreateFailure::Retry,
    }
}

/// The Synced reason and message of a reconcile that failed with `error` (Ready stays as
/// it was: a user that could sign in still can). Cognito's own trouble is named as such,
/// so that a user waiting out throttling or an outage says so; the rest is reported as
/// for any object (credentials, IAM, other failures).
pub fn failure_report(error: &Error) -> (&'static str, String) {
    match error {
        Error::Cognito(error) if error.kind.is_throttling() => (
            reasons::THROTTLED,
            format!(
                "Cognito throttled {} after {ATTEMPTS} attempts within the operator's request rates; retrying with backoff (if it lasts, lower operator.cognitoRates or ask AWS for a higher quota)",
                error.operation
            ),
        ),
        Error::Cognito(error) if error.kind.is_unavailable() => (
            reasons::COGNITO_UNAVAILABLE,
            format!("{error}; retrying with backoff"),
        ),
        error => outcome::failure_report(error),
    }
}

/// The name of an older AppUser that declares the same Cognito user as `user` (same
/// namespace, UserPool and email, compared without case as Cognito does by default), if
/// any. The oldest claim wins; ties go to the name that sorts first.
pub fn earlier_claim<'a>(
    user: &AppUser,
    others: impl Iterator<Item = &'a AppUser>,
) -> Option<String> {
    let rank = |u: &AppUser| (u.creation_timestamp(), u.name_any());
    others
        .filter(|other| {
            other.uid() != user.uid()
                && other.namespace() == user.namespace()
                && other.spec.user_pool_ref.name == user.spec.user_pool_ref.name
                && other.spec.email.eq_ignore_ascii_case(&user.spec.email)
                && rank(other) < rank(user)
        })
        .min_by_key(|other| rank(other))
        .map(ResourceExt::name_any)
}

#[cfg(test)]
mod tests {
    use cognito_crds::RECONCILE_REQUEST_ANNOTATION;
    use serde_json::json;

    use super::*;

    fn claim(name: &str, email: &str, pool: &str, created_at: &str) -> AppUser {
        serde_json::from_value(json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "AppUser",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": format!("uid-{name}"),
                "creationTimestamp": created_at,
                "generation": 3,
            },
            "spec": {
                "userPoolRef": {"name": pool},
                "email": email,
                "passwordSecretRef": {"name": "s"},
            },
        }))
        .expect("an AppUser")
    }

    #[test]
    fn the_oldest_appuser_holds_an_email() {
        let alice = claim("alice", "alice@example.com", "shop", "2026-01-01T00:00:00Z");
        let alice_again = claim(
            "alice-2",
            "Alice@Example.com",
            "shop",
            "2026-01-02T00:00:00Z",
        );
        let same_second = claim(
            "alice-0",
            "alice@example.com",
            "shop",
            "2026-01-02T00:00:00Z",
        );
        let other_pool = claim(
            "alice-3",
            "alice@example.com",
            "staff",
            "2025-01-01T00:00:00Z",
        );
        let all = [&alice, &alice_again, &same_second, &other_pool];

        assert_eq!(earlier_claim(&alice, all.into_iter()), None);
        assert_eq!(earlier_claim(&other_pool, all.into_iter()), None);
        assert_eq!(
            earlier_claim(&alice_again, all.into_iter()).as_deref(),
            Some("alice")
        );
        assert_eq!(
            earlier_claim(&same_second, all.into_iter()).as_deref(),
            Some("alice")
        );
        // Once the holder is gone, the tie goes to the name that sorts first.
        assert_eq!(
            earlier_claim(&alice_again, [&alice_again, &same_second].into_iter()).as_deref(),
            Some("alice-0")
        );
    }

    fn converged() -> AppUserStatus {
        AppUserStatus {
            observed_generation: Some(3),
            sub: Some("sub-1".into()),
            user_pool_id: Some("eu-west-1_pool".into()),
            applied_password_version: Some("41".into()),
            conditions: vec![
                conditions::condition(READY, true, "Ready", "m", Some(3)),
                conditions::condition(SYNCED, true, "InSync", "m", Some(3)),
            ],
            ..AppUserStatus::default()
        }
    }

    #[test]
    fn settled_means_converged_for_this_generation() {
        let user = claim("alice", "alice@example.com", "shop", "2026-01-01T00:00:00Z");
        assert!(is_settled(&user, &converged()));

        let mut newer = user.clone();
        newer.metadata.generation = Some(4);
        assert!(!is_settled(&newer, &converged()), "a newer generation");

        // What a create writes before its next call, over an earlier Ready status.
        let recreated = AppUserStatus {
            applied_password_version: None,
            ..converged()
        };
        assert!(!is_settled(&user, &recreated));

        let never_created = AppUserStatus {
            sub: None,
            ..converged()
        };
        assert!(!is_settled(&user, &never_created));

        let out_of_sync = AppUserStatus {
            conditions: vec![
                conditions::condition(READY, true, "Ready", "m", Some(3)),
                conditions::condition(SYNCED, false, "Throttled", "m", Some(3)),
            ],
            ..converged()
        };
        assert!(!is_settled(&user, &out_of_sync));

        let mut deleting = user.clone();
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert!(!is_settled(&deleting, &converged()));

        let mut requested = user.clone();
        requested
            .annotations_mut()
            .insert(RECONCILE_REQUEST_ANNOTATION.into(), "t1".into());
        assert!(!is_settled(&requested, &converged()), "a reconcile request");
        let handled = AppUserStatus {
            last_handled_reconcile_at: Some("t1".into()),
            ..converged()
        };
        assert!(is_settled(&requested, &handled));
    }

    #[test]
    fn observation_follows_what_is_known() {
        let user = claim("alice", "alice@example.com", "shop", "2026-01-01T00:00:00Z");
        let status = converged();
        assert_eq!(
            how_to_observe(&user, &status, "eu-west-1_other", true),
            Observe::Create,
            "a replaced pool"
        );
        assert_eq!(
            how_to_observe(&user, &AppUserStatus::default(), "eu-west-1_pool", false),
            Observe::Create
        );
        assert_eq!(
            how_to_observe(&user, &status, "eu-west-1_pool", true),
            Observe::CensusReport
        );
        assert_eq!(
            how_to_observe(&user, &status, "eu-west-1_pool", false),
            Observe::AsApplied
        );
        let unsettled = AppUserStatus {
            observed_generation: Some(2),
            ..converged()
        };
        assert_eq!(
            how_to_observe(&user, &unsettled, "eu-west-1_pool", false),
            Observe::Read
        );
        let create_under_way = AppUserStatus {
            user_pool_id: Some("eu-west-1_pool".into()),
            ..AppUserStatus::default()
        };
        assert_eq!(
            how_to_observe(&user, &create_under_way, "eu-west-1_pool", false),
            Observe::Read,
            "a create cut short may have made the user"
        );
    }

    #[test]
    fn a_password_is_set_once_per_version() {
        let status = converged();
        assert_eq!(password_step(&status, "41", true), PasswordStep::Keep);
        assert_eq!(password_step(&status, "42", true), PasswordStep::Set);
        assert_eq!(
            password_step(&status, "41", false),
            PasswordStep::Set,
            "not confirmed"
        );
        let refused = AppUserStatus {
            rejected_password_version: Some("42".into()),
            ..converged()
        };
        assert_eq!(
            password_step(&refused, "42", true),
            PasswordStep::StillRefused
        );
        assert_eq!(password_step(&refused, "43", true), PasswordStep::Set);
    }

    #[test]
    fn cognito_trouble_is_named_in_the_report() {
        let failed = |kind| {
            Error::Cognito(cognito_crds::user_provisioning::CognitoError::new(
                "AdminCreateUser",
                kind,
            ))
        };
        let (reason, message) =
            failure_report(&failed(CognitoErrorKind::Throttled("Rate exceeded".into())));
        assert_eq!(reason, reasons::THROTTLED);
        assert!(message.contains("AdminCreateUser"), "{message}");
        for kind in [
            CognitoErrorKind::ServerError("InternalErrorException: boom".into()),
            CognitoErrorKind::Unreachable("timed out".into()),
        ] {
            assert_eq!(
                failure_report(&failed(kind)).0,
                reasons::COGNITO_UNAVAILABLE
            );
        }
        let (reason, _) =
            failure_report(&failed(CognitoErrorKind::NotAuthorized("bad key".into())));
        assert_eq!(reason, reasons::RECONCILE_ERROR);
        let (reason, message) = failure_report(&failed(CognitoErrorKind::AccessDenied {
            action: "cognito-idp:AdminCreateUser".into(),
            blocked_by: None,
        }));
        assert_eq!(reason, reasons::ACCESS_DENIED);
        assert!(
            message.starts_with(
                "Cognito AdminCreateUser: access denied: the role lacks cognito-idp:AdminCreateUser"
            ),
            "{message}"
        );
        assert_eq!(
            failure_report(&failed(CognitoErrorKind::NoCredentials(None))).0,
            reasons::AWS_CREDENTIALS_MISSING
        );
        assert_eq!(
            failure_report(&Error::MissingObjectKey("uid")).0,
            reasons::RECONCILE_ERROR
        );
    }

    #[test]
    fn a_failed_create_is_classified() {
        assert_eq!(
            create_failure(&CognitoErrorKind::UserExists),
            CreateFailure::Adopt
        );
        assert_eq!(
            create_failure(&CognitoErrorKind::InvalidPassword("short".into())),
            CreateFailure::PasswordRefused("short".into())
        );
        assert_eq!(
            create_failure(&CognitoErrorKind::InvalidParameter("email".into())),
            CreateFailure::SpecRefused("email".into())
        );
        assert_eq!(
            create_failure(&CognitoErrorKind::Throttled("slow".into())),
            CreateFailure::Retry
        );
    }
}
