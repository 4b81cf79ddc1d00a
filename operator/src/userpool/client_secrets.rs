//! Client-secret rotation, decided from what Cognito and the connection Secret hold now,
//! so that an operator restarted at any step picks up where it stopped.
//!
//! A rotation adds a second secret in Cognito, publishes it in the connection Secret as
//! the current one with the old one as previous, and after the grace period unpublishes
//! the old one and then deletes it. Cognito's `AddUserPoolClientSecret` has no idempotency
//! token, so the rule that makes restarts safe is: a Cognito secret that the connection
//! Secret does not publish was never handed to anyone, and is deleted. That one rule
//! cleans up an add whose answer was lost and finishes a retirement whose delete was
//! interrupted, and it never removes a secret a consumer may hold.

use std::fmt;

use cognito_crds::userpool::{AppClient, SecretRotation};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A secret of an app client as Cognito lists it (the value is never listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoSecret {
    pub id: String,
    /// Creation time, milliseconds since the epoch (a request made in the same second
    /// as a secret must still tell before from after).
    pub created: i64,
}

/// A secret published in the connection Secret: its Cognito id and its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Published {
    pub id: String,
    pub value: String,
}

impl fmt::Debug for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Published")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the connection Secret publishes for one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishedPair {
    pub current: Option<Published>,
    pub previous: Option<Published>,
}

/// The connection Secret's keys for a client's secrets.
pub struct Keys {
    pub current: String,
    pub current_id: String,
    pub previous: String,
    pub previous_id: String,
}

impl Keys {
    pub fn of(client: &str) -> Self {
        Self {
            current: format!("{client}.clientSecret"),
            current_id: format!("{client}.clientSecretId"),
            previous: format!("{client}.previousClientSecret"),
            previous_id: format!("{client}.previousClientSecretId"),
        }
    }
}

/// The next thing to do about one client's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Publish what is published; nothing to do in Cognito.
    Keep,
    /// Publish Cognito's only secret, whose value `DescribeUserPoolClient` gives, as the
    /// current one: a client seen for the first time, or whose published secret is gone.
    Adopt { id: String },
    /// Add a secret and publish it as current, the current one as previous.
    Rotate { why: String },
    /// The grace period is over: unpublish the previous secret, then delete it.
    Retire { id: String },
    /// Delete a secret nobody was given.
    DeleteUnpublished { id: String },
    /// Two secrets, and the connection Secret publishes neither: the operator cannot tell
    /// which one consumers hold, so it changes nothing.
    Unattributed,
}

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// When rotations happen for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub interval_days: Option<i32>,
    pub grace_period_minutes: i32,
}

impl Policy {
    pub fn of(client: &AppClient) -> Self {
        let rotation = client.secret_rotation.clone().unwrap_or_default();
        let SecretRotation {
            interval_days,
            grace_period_minutes,
        } = rotation;
        Self {
            interval_days,
            grace_period_minutes,
        }
    }

    fn grace_ms(&self) -> i64 {
        i64::from(self.grace_period_minutes.max(0)) * MINUTE_MS
    }

    fn interval_ms(&self) -> Option<i64> {
        self.interval_days
            .map(|days| i64::from(days.max(1)) * DAY_MS)
    }
}

/// Decides the next step from Cognito's secrets (any order), the published pair, the
/// rotation policy, a rotation request (rotate secrets created before it) and the time
/// now; times in milliseconds since the epoch.
pub fn next_step(
    cognito: &[CognitoSecret],
    published: &PublishedPair,
    policy: &Policy,
    requested_before: Option<i64>,
    now: i64,
) -> Step {
    let published_id = |p: &Option<Published>| p.as_ref().map(|p| p.id.clone());
    let current = published_id(&published.current)
        .and_then(|id| cognito.iter().find(|s| s.id == id).cloned());
    match (cognito, current) {
        ([only], Some(current)) if only.id == current.id => {
            match rotation_reason(&current, policy, requested_before, now) {
                Some(why) => Step::Rotate { why },
                None => Step::Keep,
            }
        }
        ([only], _) => Step::Adopt {
            id: only.id.clone(),
        },
        ([a, b], Some(current)) => {
            let other = if a.id == current.id { b } else { a };
            if published_id(&published.previous).as_deref() != Some(other.id.as_str()) {
                Step::DeleteUnpublished {
                    id: other.id.clone(),
                }
            } else if now >= current.created + policy.grace_ms() {
                Step::Retire {
                    id: other.id.clone(),
                }
            } else {
                Step::Keep
            }
        }
        ([_, _], None) => Step::Unattributed,
        // No secret (the client has none) or more than Cognito allows: nothing to do.
        _ => Step::Keep,
    }
}

fn rotation_reason(
    current: &CognitoSecret,
    policy: &Policy,
    requested_before: Option<i64>,
    now: i64,
) -> Option<String> {
    if requested_before.is_some_and(|before| current.created < before) {
        return Some("requested by annotation".to_owned());
    }
    let interval = policy.interval_ms()?;
    (now >= current.created + interval).then(|| {
        format!(
            "the secret is {} days old (intervalDays {})",
            (now - current.created) / DAY_MS,
            interval / DAY_MS
        )
    })
}

/// Milliseconds from `now` until this client needs the operator again (the grace period
/// ends, or the secret is due), if ever.
pub fn wake_in(
    cognito: &[CognitoSecret],
    published: &PublishedPair,
    policy: &Policy,
    now: i64,
) -> Option<i64> {
    let current_id = published.current.as_ref()?.id.as_str();
    let current = cognito.iter().find(|s| s.id == current_id)?;
    let at = if cognito.len() == 2 {
        current.created + policy.grace_ms()
    } else {
        current.created + policy.interval_ms()?
    };
    Some((at - now).max(0))
}

/// The rotation request of a UserPool annotation: the time before which secrets are
/// replaced. `Err` says why the value is refused.
pub fn requested_before(annotation: Option<&str>, now: Timestamp) -> Result<Option<i64>, String> {
    let Some(text) = annotation else {
        return Ok(None);
    };
    let at: Timestamp = text.trim().parse().map_err(|_| {
        format!(
            "annotation {} is not an RFC 3339 time (for example 2026-11-30T20:00:00Z): {text:?}",
            cognito_crds::ROTATE_CLIENT_SECRETS_ANNOTATION
        )
    })?;
    // A little clock skew is fine; a time far ahead would rotate again and again.
    if at > now + SignedDuration::from_mins(5) {
        return Err(format!(
            "annotation {} is in the future ({text}); annotate with the current time to rotate now",
            cognito_crds::ROTATE_CLIENT_SECRETS_ANNOTATION
        ));
    }
    Ok(Some(at.as_millisecond()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = DAY_MS;

    fn secret(id: &str, created: i64) -> CognitoSecret {
        CognitoSecret {
            id: id.into(),
            created,
        }
    }

    fn published(id: &str) -> Option<Published> {
        Some(Published {
            id: id.into(),
            value: format!("value-of-{id}"),
        })
    }

    fn pair(current: &str, previous: Option<&str>) -> PublishedPair {
        PublishedPair {
            current: published(current),
            previous: previous.and_then(published),
        }
    }

    const POLICY: Policy = Policy {
        interval_days: Some(30),
        grace_period_minutes: 60,
    };

    #[test]
    fn a_client_seen_first_adopts_its_only_secret() {
        let cognito = [secret("a", 0)];
        let step = next_step(&cognito, &PublishedPair::default(), &POLICY, None, HOUR);
        assert_eq!(step, Step::Adopt { id: "a".into() });
        // Also when the published one was deleted by hand.
        let step = next_step(&cognito, &pair("gone", None), &POLICY, None, HOUR);
        assert_eq!(step, Step::Adopt { id: "a".into() });
    }

    #[test]
    fn rotation_is_due_by_request_or_by_age() {
        let cognito = [secret("a", 1000)];
        let keep = next_step(&cognito, &pair("a", None), &POLICY, None, 1000 + DAY);
        assert_eq!(keep, Step::Keep);
        let requested = next_step(&cognito, &pair("a", None), &POLICY, Some(2000), 3000);
        assert!(matches!(requested, Step::Rotate { .. }), "{requested:?}");
        // A request older than the secret was handled by the rotation that made it.
        let handled = next_step(&cognito, &pair("a", None), &POLICY, Some(999), 3000);
        assert_eq!(handled, Step::Keep);
        let aged = next_step(&cognito, &pair("a", None), &POLICY, None, 1000 + 30 * DAY);
        assert!(matches!(aged, Step::Rotate { .. }), "{aged:?}");
        let manual_only = Policy {
            interval_days: None,
            ..POLICY
        };
        let never = next_step(
            &cognito,
            &pair("a", None),
            &manual_only,
            None,
            1000 + 900 * DAY,
        );
        assert_eq!(never, Step::Keep);
    }

    #[test]
    fn the_previous_secret_is_retired_after_the_grace_period() {
        let cognito = [secret("a", 0), secret("b", 10 * DAY)];
        let published = pair("b", Some("a"));
        let during = next_step(&cognito, &published, &POLICY, None, 10 * DAY + HOUR - 1);
        assert_eq!(during, Step::Keep);
        let after = next_step(&cognito, &published, &POLICY, None, 10 * DAY + HOUR);
        assert_eq!(after, Step::Retire { id: "a".into() });
        assert_eq!(wake_in(&cognito, &published, &POLICY, 10 * DAY), Some(HOUR));
    }

    #[test]
    fn unpublished_secrets_are_deleted_whichever_is_older() {
        // An add whose answer was lost: the new secret was never published.
        let lost_add = [secret("a", 0), secret("b", DAY)];
        let step = next_step(&lost_add, &pair("a", None), &POLICY, Some(DAY), 2 * DAY);
        assert_eq!(step, Step::DeleteUnpublished { id: "b".into() });
        // A retirement whose delete was interrupted: the old one is no longer published.
        let step = next_step(&lost_add, &pair("b", None), &POLICY, None, 2 * DAY);
        assert_eq!(step, Step::DeleteUnpublished { id: "a".into() });
    }

    #[test]
    fn two_secrets_and_neither_published_changes_nothing() {
        let cognito = [secret("a", 0), secret("b", DAY)];
        let step = next_step(&cognito, &pair("x", Some("y")), &POLICY, None, 2 * DAY);
        assert_eq!(step, Step::Unattributed);
    }

    #[test]
    fn rotation_requests_must_be_times_not_in_the_future() {
        let now: Timestamp = "2026-11-30T20:00:00Z".parse().expect("time");
        assert_eq!(requested_before(None, now), Ok(None));
        assert_eq!(
            requested_before(Some("2026-11-30T19:00:00Z"), now),
            Ok(Some(now.as_millisecond() - HOUR))
        );
        assert!(requested_before(Some("yesterday"), now).is_err());
        assert!(requested_before(Some("2026-12-01T20:00:00Z"), now).is_err());
    }

    #[test]
    fn published_values_stay_out_of_debug_output() {
        let text = format!("{:?}", pair("a", Some("b")));
        assert!(!text.contains("value-of"), "{text}");
    }
}
