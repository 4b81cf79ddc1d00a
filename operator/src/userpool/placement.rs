//! Where a UserPool's AWS resources live and who owns them: its region, its stack's name
//! and tags, and whether an existing stack may be managed by this object. Pure rules,
//! used by the UserPool controller, the AppUser controller and the census alike.

use std::collections::BTreeMap;

use cognito_crds::{UserPool, UserPoolSpec, UserPoolStatus};
use kube::ResourceExt;

use crate::reconcile::conditions::reasons;

/// Tag holding the UID of the UserPool that owns a stack.
pub const OWNER_UID_TAG: &str = "cognito.kubeauth.dev/uid";
/// Tag holding the owner's namespace.
pub const OWNER_NAMESPACE_TAG: &str = "cognito.kubeauth.dev/namespace";
/// Tag holding the owner's name.
pub const OWNER_NAME_TAG: &str = "cognito.kubeauth.dev/name";
/// Annotation that allows adopting an existing stack without our tags.
pub const ADOPT_ANNOTATION: &str = "cognito.kubeauth.dev/adopt";

/// The region of a pool's stack and user pool: the spec's, else the one the stack was
/// created in (kept in `status`), else the operator's default. A changed operator
/// default never moves an existing pool.
pub fn region(
    spec: &UserPoolSpec,
    status: Option<&UserPoolStatus>,
    operator_default: Option<String>,
) -> Option<String> {
    spec.region
        .clone()
        .or_else(|| status.and_then(|s| s.region.clone()))
        .or(operator_default)
}

/// The stack's name: `spec.stackName`, else `<namespace>-<name>-cognito`.
pub fn stack_name(pool: &UserPool, namespace: &str) -> String {
    pool.spec
        .stack_name
        .clone()
        .unwrap_or_else(|| format!("{namespace}-{}-cognito", pool.name_any()))
}

/// The stack's tags: the spec's, then the owner tags (which win).
pub fn stack_tags(pool: &UserPool, namespace: &str, uid: &str) -> BTreeMap<String, String> {
    let mut tags = pool.spec.tags.clone();
    tags.insert(OWNER_UID_TAG.into(), uid.to_owned());
    tags.insert(OWNER_NAMESPACE_TAG.into(), namespace.to_owned());
    tags.insert(OWNER_NAME_TAG.into(), pool.name_any());
    tags
}

/// How this object relates to an existing stack's tags.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Our tags: ours to manage.
    Ours,
    /// Untagged, and the adopt annotation says to take it over.
    Adopt,
    /// Not ours: the condition reason and message that say why.
    Refused(&'static str, String),
}

/// Whether the object with `uid` (and `pool`'s annotations) may manage a stack with
/// `tags`.
pub fn ownership(
    pool: &UserPool,
    uid: &str,
    stack_name: &str,
    tags: &BTreeMap<String, String>,
) -> Ownership {
    match tags.get(OWNER_UID_TAG) {
        Some(owner) if owner == uid => Ownership::Ours,
        Some(owner) => Ownership::Refused(
            reasons::STACK_OWNED_ELSEWHERE,
            format!(
                "stack {stack_name} belongs to another UserPool (uid {owner}); choose another spec.stackName"
            ),
        ),
        None if pool.annotations().get(ADOPT_ANNOTATION).map(String::as_str) == Some("true") => {
            Ownership::Adopt
        }
        None => Ownership::Refused(
            reasons::STACK_NOT_ADOPTED,
            format!(
                "stack {stack_name} exists and was not created by cognito-operator; annotate the UserPool {ADOPT_ANNOTATION}=\"true\" to adopt it"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(spec: serde_json::Value) -> UserPool {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "UserPool",
            "metadata": {"name": "shop", "namespace": "web"},
            "spec": spec,
        }))
        .expect("a UserPool")
    }

    #[test]
    fn the_region_of_an_existing_pool_does_not_follow_the_operator_default() {
        let default = || Some("eu-west-1".to_owned());
        let fresh = pool(serde_json::json!({}));
        assert_eq!(
            region(&fresh.spec, None, default()).as_deref(),
            Some("eu-west-1")
        );

        let created = UserPoolStatus {
            region: Some("us-east-1".into()),
            ..UserPoolStatus::default()
        };
        assert_eq!(
            region(&fresh.spec, Some(&created), default()).as_deref(),
            Some("us-east-1")
        );

        let pinned = pool(serde_json::json!({"region": "ap-south-1"}));
        assert_eq!(
            region(&pinned.spec, Some(&created), default()).as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(region(&fresh.spec, None, None), None);
    }

    #[test]
    fn only_our_tags_or_an_adoption_let_us_manage_a_stack() {
        let tagged = |uid: &str| BTreeMap::from([(OWNER_UID_TAG.to_owned(), uid.to_owned())]);
        let plain = pool(serde_json::json!({}));
        assert_eq!(ownership(&plain, "u1", "s", &tagged("u1")), Ownership::Ours);
        assert!(matches!(
            ownership(&plain, "u1", "s", &tagged("u2")),
            Ownership::Refused(reasons::STACK_OWNED_ELSEWHERE, _)
        ));
        assert!(matches!(
            ownership(&plain, "u1", "s", &BTreeMap::new()),
            Ownership::Refused(reasons::STACK_NOT_ADOPTED, _)
        ));
        let mut adopting = plain.clone();
        adopting
            .annotations_mut()
            .insert(ADOPT_ANNOTATION.into(), "true".into());
        assert_eq!(
            ownership(&adopting, "u1", "s", &BTreeMap::new()),
            Ownership::Adopt
        );
        assert!(matches!(
            ownership(&adopting, "u1", "s", &tagged("u2")),
            Ownership::Refused(reasons::STACK_OWNED_ELSEWHERE, _)
        ));
    }

    #[test]
    fn owner_tags_win_over_spec_tags() {
        let p = pool(serde_json::json!({"tags": {OWNER_UID_TAG: "forged", "team": "web"}}));
        let tags = stack_tags(&p, "web", "u1");
        assert_eq!(tags.get(OWNER_UID_TAG).map(String::as_str), Some("u1"));
        assert_eq!(tags.get("team").map(String::as_str), Some("web"));
        assert_eq!(stack_name(&p, "web"), "web-shop-cognito");
    }
}
