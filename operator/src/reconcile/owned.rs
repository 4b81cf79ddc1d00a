//! Which Secrets the operator may write: only those it created for the object at hand.
//! A name alone (a tenant's `passwordSecretRef`, a UserPool's `<name>-cognito`) never
//! hands over a Secret that something else made.

use kube::{Resource, api::ObjectMeta};

/// Whether `meta` names `owner` (by UID) as its controller.
pub fn is_controlled_by<K: Resource>(meta: &ObjectMeta, owner: &K) -> bool {
    let Some(uid) = owner.meta().uid.as_deref() else {
        return false;
    };
    meta.owner_references
        .iter()
        .flatten()
        .any(|reference| reference.controller == Some(true) && reference.uid == uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::core::v1::ConfigMap, apimachinery::pkg::apis::meta::v1::OwnerReference,
    };

    fn owner(uid: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("owner".into()),
                uid: Some(uid.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn owned_by(uid: &str, controller: Option<bool>) -> ObjectMeta {
        ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                uid: uid.into(),
                controller,
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn only_a_controller_reference_with_the_owners_uid_counts() {
        assert!(is_controlled_by(&owned_by("u1", Some(true)), &owner("u1")));
        assert!(!is_controlled_by(&owned_by("u2", Some(true)), &owner("u1")));
        assert!(!is_controlled_by(&owned_by("u1", None), &owner("u1")));
        assert!(!is_controlled_by(&ObjectMeta::default(), &owner("u1")));
    }
}
