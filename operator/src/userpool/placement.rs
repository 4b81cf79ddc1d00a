//! Where a UserPool's AWS resources live and who owns them: its region, its stack's name
//! and tags, and whether an existing stack may be managed by this object. Pure rules,
//! used by the UserPool controller, the AppUser controller and the census alike.

use std::collections::{BTreeMap, HashMap};

use cognito_crds::{UserPool, UserPoolSpec, UserPoolStatus};
use kube::ResourceExt;
use sha2::{Digest, Sha256};

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

/// Longest stack name CloudFormation accepts.
const STACK_NAME_MAX: usize = 128;

/// The stack's name: `spec.stackName`, else the name the stack was created under (kept in
/// `status`; pools made before the default below keep theirs), else the default
/// `<namespace>-<name>-<hash>-cognito`. The hash of `<namespace>/<name>` keeps defaults of
/// different objects apart (`a-b`/`c` and `a`/`b-c` would otherwise meet), and admission
/// refuses a `spec.stackName` of that shape, so no tenant can take another's default.
/// A name in `status` is tenant-writable; the owner tags decide whether it may be used.
pub fn stack_name(pool: &UserPool, status: Option<&UserPoolStatus>, namespace: &str) -> String {
    pool.spec
        .stack_name
        .clone()
        .or_else(|| status.and_then(|s| s.stack_name.clone()))
        .unwrap_or_else(|| default_stack_name(namespace, &pool.name_any()))
}

fn default_stack_name(namespace: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{namespace}/{name}").as_bytes());
    let suffix = format!("-{}-cognito", &hex::encode(digest)[..8]);
    // Object names may hold dots, which stack names may not.
    let readable: String = format!("{namespace}-{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(STACK_NAME_MAX - suffix.len())
        .collect();
    readable + &suffix
}

/// The stack's tags: the spec's, then the owner tags (which win).
pub fn stack_tags(pool: &UserPool, namespace: &str, uid: &str) -> BTreeMap<String, String> {
    let mut tags = pool.spec.tags.clone();
    tags.insert(OWNER_UID_TAG.into(), uid.to_owned());
    tags.insert(OWNER_NAMESPACE_TAG.into(), namespace.to_owned());
    tags.insert(OWNER_NAME_TAG.into(), pool.name_any());
    tags
}

/// Whether a user pool with `tags` belongs to `namespace`. A pool id read from a status
/// is tenant-writable; only the operator writes the owner namespace tag (it wins over
/// the spec's tags), so this tag decides whether a namespace may act on the pool.
pub fn pool_belongs_to(tags: &HashMap<String, String>, namespace: &str) -> bool {
    tags.get(OWNER_NAMESPACE_TAG)
        .is_some_and(|owner| owner == namespace)
}

/// How this object relates to an existing stack's tags.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Our tags: ours to manage.
    Ours,
    /// Not ours, but the adopt annotation asks for it and an admin allows adoption in
    /// this namespace: untagged, or left by an earlier object of the same namespace and
    /// name (deleted with Retain and re-applied, or restored from a backup).
    Adopt,
    /// Not ours: the condition reason and message that say why.
    Refused(&'static str, String),
}

/// Whether `pool` (uid `uid`) may manage the stack `stack_name` with `tags`.
/// `adoption_allowed` is the admin's word for the pool's namespace.
pub fn ownership(
    pool: &UserPool,
    uid: &str,
    stack_name: &str,
    tags: &BTreeMap<String, String>,
    adoption_allowed: bool,
) -> Ownership {
    let owner = tags.get(OWNER_UID_TAG);
    if owner.is_some_and(|owner| owner == uid) {
        return Ownership::Ours;
    }
    let earlier_self = tags.get(OWNER_NAMESPACE_TAG) == pool.namespace().as_ref()
        && tags.get(OWNER_NAME_TAG) == Some(&pool.name_any());
    let adoptable = owner.is_none() || earlier_self;
    let annotated = pool.annotations().get(ADOPT_ANNOTATION).map(String::as_str) == Some("true");
    if adoptable && annotated && adoption_allowed {
        return Ownership::Adopt;
    }
    let how = if adoption_allowed {
        format!("annotate the UserPool {ADOPT_ANNOTATION}=\"true\" to adopt it")
    } else {
        "an admin must allow adoption in this namespace (operator --adopt-namespaces) before the adopt annotation counts".to_owned()
    };
    match owner {
        Some(owner) if earlier_self => Ownership::Refused(
            reasons::STACK_OWNED_ELSEWHERE,
            format!(
                "stack {stack_name} belongs to an earlier UserPool of this name (uid {owner}); to take it back, {how}"
            ),
        ),
        Some(owner) => Ownership::Refused(
            reasons::STACK_OWNED_ELSEWHERE,
            format!(
                "stack {stack_name} belongs to another UserPool (uid {owner}); choose another spec.stackName"
            ),
        ),
        None => Ownership::Refused(
            reasons::STACK_NOT_ADOPTED,
            format!("stack {stack_name} exists and was not created by cognito-operator; {how}"),
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

    fn tags(uid: &str, namespace: &str, name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_UID_TAG.to_owned(), uid.to_owned()),
            (OWNER_NAMESPACE_TAG.to_owned(), namespace.to_owned()),
            (OWNER_NAME_TAG.to_owned(), name.to_owned()),
        ])
    }

    #[test]
    fn only_our_tags_or_an_admitted_adoption_let_us_manage_a_stack() {
        let plain = pool(serde_json::json!({}));
        let ours = tags("u1", "web", "shop");
        let foreign = tags("u2", "other", "shop");
        let untagged = BTreeMap::new();
        let verdict = |p: &UserPool, t: &BTreeMap<String, String>, allowed: bool| match ownership(
            p, "u1", "s", t, allowed,
        ) {
            Ownership::Ours => "ours",
            Ownership::Adopt => "adopt",
            Ownership::Refused(reason, _) => reason,
        };
        assert_eq!(verdict(&plain, &ours, false), "ours");
        assert_eq!(
            verdict(&plain, &foreign, true),
            reasons::STACK_OWNED_ELSEWHERE
        );
        assert_eq!(verdict(&plain, &untagged, true), reasons::STACK_NOT_ADOPTED);

        let mut adopting = plain.clone();
        adopting
            .annotations_mut()
            .insert(ADOPT_ANNOTATION.into(), "true".into());
        // The tenant's annotation alone is not enough.
        assert_eq!(
            verdict(&adopting, &untagged, false),
            reasons::STACK_NOT_ADOPTED
        );
        assert_eq!(verdict(&adopting, &untagged, true), "adopt");
        // Another object's stack is never adoptable; an earlier self's is, when allowed.
        assert_eq!(
            verdict(&adopting, &foreign, true),
            reasons::STACK_OWNED_ELSEWHERE
        );
        let earlier_self = tags("u0", "web", "shop");
        assert_eq!(
            verdict(&adopting, &earlier_self, false),
            reasons::STACK_OWNED_ELSEWHERE
        );
        assert_eq!(verdict(&adopting, &earlier_self, true), "adopt");
    }

    #[test]
    fn default_stack_names_never_meet_and_stay_valid() {
        let named = |namespace: &str, name: &str| {
            let mut p = pool(serde_json::json!({}));
            p.metadata.name = Some(name.to_owned());
            stack_name(&p, None, namespace)
        };
        assert_ne!(named("a-b", "c"), named("a", "b-c"));
        let long = named(&"n".repeat(63), &format!("{}.example", "x".repeat(240)));
        assert!(long.len() <= STACK_NAME_MAX, "{long}");
        assert!(long.ends_with("-cognito"));
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));

        // A stack created under another name keeps it; the spec's name wins over both.
        let created = UserPoolStatus {
            stack_name: Some("web-shop-cognito".into()),
            ..Default::default()
        };
        let p = pool(serde_json::json!({}));
        assert_eq!(stack_name(&p, Some(&created), "web"), "web-shop-cognito");
        let pinned = pool(serde_json::json!({"stackName": "mine"}));
        assert_eq!(stack_name(&pinned, Some(&created), "web"), "mine");
    }

    #[test]
    fn only_the_owner_namespace_tag_makes_a_pool_a_namespaces_own() {
        let p = pool(serde_json::json!({"tags": {OWNER_NAMESPACE_TAG: "other"}}));
        let tags: HashMap<_, _> = stack_tags(&p, "web", "u1").into_iter().collect();
        assert!(pool_belongs_to(&tags, "web"));
        assert!(!pool_belongs_to(&tags, "other"));
        assert!(!pool_belongs_to(&HashMap::new(), "web"));
    }

    #[test]
    fn owner_tags_win_over_spec_tags() {
        let p = pool(serde_json::json!({"tags": {OWNER_UID_TAG: "forged", "team": "web"}}));
        let tags = stack_tags(&p, "web", "u1");
        assert_eq!(tags.get(OWNER_UID_TAG).map(String::as_str), Some("u1"));
        assert_eq!(tags.get("team").map(String::as_str), Some("web"));
    }
}
