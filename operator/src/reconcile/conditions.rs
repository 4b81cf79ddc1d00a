//! Status conditions following Kubernetes API conventions, and the reasons the
//! controllers set.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

/// Condition types.
pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

/// A condition stamped with the object's generation.
pub fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: Time(now_in_seconds()),
    }
}

/// Now, in the whole seconds a `Time` keeps on the API server, so a condition reads back
/// equal to the one written.
fn now_in_seconds() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Merges `new` into `existing`, keeping `lastTransitionTime` when the status is unchanged.
pub fn merge(existing: &[Condition], new: Vec<Condition>) -> Vec<Condition> {
    let mut merged: Vec<Condition> = existing
        .iter()
        .filter(|c| !new.iter().any(|n| n.type_ == c.type_))
        .cloned()
        .collect();
    for mut condition in new {
        if let Some(old) = existing.iter().find(|c| c.type_ == condition.type_)
            && old.status == condition.status
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
        merged.push(condition);
    }
    merged.sort_by(|a, b| a.type_.cmp(&b.type_));
    merged
}

/// The status of condition `type_`, if set.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// Whether two condition lists differ in anything but timestamps.
pub fn differ(a: &[Condition], b: &[Condition]) -> bool {
    let key = |c: &Condition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
        )
    };
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| key(x) != key(y))
}

/// Every reason a controller sets, in one place so docs and tests can list them.
pub mod reasons {
    /// The stack is being created.
    pub const CREATING: &str = "Creating";
    /// The stack is being updated.
    pub const UPDATING: &str = "Updating";
    /// The stack matches the spec and the pool is usable.
    pub const AVAILABLE: &str = "Available";
    /// The stack matches the spec.
    pub const IN_SYNC: &str = "InSync";
    /// A change to a create-only property was refused (needs `allowReplacement`).
    pub const CREATE_ONLY_CHANGE: &str = "CreateOnlyChangeRefused";
    /// A stack of that name belongs to another object.
    pub const STACK_OWNED_ELSEWHERE: &str = "StackOwnedByAnotherObject";
    /// A stack of that name exists without our tags and adoption was not requested.
    pub const STACK_NOT_ADOPTED: &str = "StackExistsNotAdopted";
    /// Stack creation failed; fix the spec to retry.
    pub const CREATE_FAILED: &str = "StackCreateFailed";
    /// A stack update failed and was rolled back; the pool keeps its previous settings.
    pub const UPDATE_FAILED: &str = "StackUpdateFailed";
    /// The stack is in a state the operator cannot repair by itself.
    pub const STACK_BROKEN: &str = "StackNeedsAttention";
    /// A failed create is being cleaned up before the stack is created again.
    pub const RECREATING: &str = "Recreating";
    /// A trigger names a Lambda function not handed to this namespace.
    pub const TRIGGER_FUNCTION_REFUSED: &str = "TriggerFunctionRefused";
    /// The trigger sink's Secret or key is missing, or its secret is too short.
    pub const SINK_SECRET_INVALID: &str = "TriggerSinkSecretInvalid";
    /// An identity provider's Secret or key is missing or empty.
    pub const PROVIDER_SECRET_INVALID: &str = "IdentityProviderSecretInvalid";
    /// The stack is being deleted.
    pub const DELETING: &str = "Deleting";
    /// The AppUser's UserPool does not exist or is not Ready yet.
    pub const WAITING_FOR_POOL: &str = "WaitingForUserPool";
    /// The password Secret or its key does not exist.
    pub const SECRET_MISSING: &str = "PasswordSecretMissing";
    /// Cognito refused the password (pool policy); a new Secret version is needed.
    pub const INVALID_PASSWORD: &str = "InvalidPassword";
    /// An older AppUser already declares the same email in the same UserPool.
    pub const DUPLICATE_EMAIL: &str = "DuplicateEmail";
    /// The spec names a group the UserPool does not declare.
    pub const UNKNOWN_GROUP: &str = "UnknownGroup";
    /// Cognito rejected an attribute or another parameter of the spec.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Cognito kept throttling the operator's calls; it retries with backoff.
    pub const THROTTLED: &str = "Throttled";
    /// Cognito failed on its side or did not answer; the operator retries with backoff.
    pub const COGNITO_UNAVAILABLE: &str = "CognitoUnavailable";
    /// The Cognito user exists as declared and can sign in.
    pub const USER_READY: &str = "UserReady";
    /// The operator found no AWS credentials, or could not load them.
    pub const AWS_CREDENTIALS_MISSING: &str = "AWSCredentialsMissing";
    /// AWS does not accept the operator's credentials (unknown, expired).
    pub const AWS_CREDENTIALS_REJECTED: &str = "AWSCredentialsRejected";
    /// IAM refused an AWS call: the operator's role lacks an action.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// An AWS or Kubernetes call failed; the operator retries with backoff.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_lists_compare_without_timestamps() {
        let a = vec![condition(READY, true, "R", "m", Some(1))];
        let mut b = a.clone();
        b[0].last_transition_time = Time(Timestamp::UNIX_EPOCH);
        assert!(!differ(&a, &b));
        b[0].message = "other".into();
        assert!(differ(&a, &b));
    }

    /// A Ready condition of generation 1 that turned true at the epoch.
    fn ready_since_epoch() -> Condition {
        let mut ready = condition(READY, true, reasons::AVAILABLE, "", Some(1));
        ready.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        ready
    }

    #[test]
    fn merge_keeps_transition_time_of_unchanged_status() {
        let still_ready = condition(READY, true, reasons::AVAILABLE, "still", Some(2));
        let updating = condition(SYNCED, false, reasons::UPDATING, "", Some(2));
        let merged = merge(&[ready_since_epoch()], vec![still_ready, updating]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0].last_transition_time,
            ready_since_epoch().last_transition_time
        );
        assert_eq!(merged[0].observed_generation, Some(2));
        assert!(is_true(&merged, READY));
        assert!(!is_true(&merged, SYNCED));
    }

    #[test]
    fn merge_moves_transition_time_when_status_flips() {
        let failed = condition(READY, false, reasons::CREATE_FAILED, "x", Some(2));
        let merged = merge(&[ready_since_epoch()], vec![failed]);
        assert_ne!(
            merged[0].last_transition_time,
            ready_since_epoch().last_transition_time
        );
    }
}
