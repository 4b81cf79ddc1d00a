//! The desired state of one Cognito user, computed from an `AppUser` spec, and its
//! difference to what Cognito holds: the pure core of the AppUser controller and of the
//! periodic drift check. No I/O here.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserType};

use cognito_crds::AppUserSpec;

/// Cognito user statuses the operator needs to tell apart.
pub const CONFIRMED: &str = "CONFIRMED";

/// What the spec asks Cognito to hold for one user (the password aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub groups: BTreeSet<String>,
}

impl DesiredUser {
    pub fn of(spec: &AppUserSpec) -> Self {
        let mut attributes = spec.attributes.clone();
        attributes.insert("email".into(), spec.email.clone());
        attributes.insert("email_verified".into(), spec.email_verified.to_string());
        Self {
            attributes,
            enabled: spec.enabled,
            groups: spec.groups.iter().cloned().collect(),
        }
    }

    /// The attributes as the Cognito API takes them.
    pub fn attribute_types(&self) -> Vec<AttributeType> {
        to_attribute_types(&self.attributes)
    }

    /// Names of the attributes the operator manages (recorded in status, so that an
    /// attribute removed from the spec can be deleted).
    pub fn managed_attribute_names(&self) -> Vec<String> {
        self.attributes.keys().cloned().collect()
    }
}

/// What Cognito holds for one user, from `AdminGetUser` or a `ListUsers` page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedUser {
    /// Cognito's user name (a UUID in pools whose user names are e-mail addresses).
    pub username: String,
    pub sub: Option<String>,
    pub status: Option<String>,
    pub enabled: bool,
    pub attributes: BTreeMap<String, String>,
    /// Group membership, when it was read.
    pub groups: Option<BTreeSet<String>>,
}

impl ObservedUser {
    /// From `AdminCreateUser` or `ListUsers` output.
    pub fn from_user_type(user: &UserType) -> Self {
        Self::from_parts(
            user.username(),
            user.attributes(),
            user.user_status().map(|s| s.as_str()),
            user.enabled(),
        )
    }

    pub fn from_parts(
        username: Option<&str>,
        attributes: &[AttributeType],
        status: Option<&str>,
        enabled: bool,
    ) -> Self {
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|a| {
                (
                    a.name().to_owned(),
                    a.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Self {
            username: username.unwrap_or_default().to_owned(),
            sub: attributes.get("sub").cloned(),
            status: status.map(str::to_owned),
            enabled,
            attributes,
            groups: None,
        }
    }

    /// Whether the user holds a permanent password (the operator's or a later one).
    pub fn is_confirmed(&self) -> bool {
        self.status.as_deref() == Some(CONFIRMED)
    }
}

/// The writes that bring an observed user to the desired state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserChanges {
    /// Attributes to set (`AdminUpdateUserAttributes`).
    pub update: BTreeMap<String, String>,
    /// Attributes to delete (`AdminDeleteUserAttributes`).
    pub delete: Vec<String>,
    /// `Some(enabled)` when the enabled flag must flip.
    pub enable: Option<bool>,
    pub add_groups: Vec<String>,
    pub remove_groups: Vec<String>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.update.is_empty()
            && self.delete.is_empty()
            && self.enable.is_none()
            && self.add_groups.is_empty()
            && self.remove_groups.is_empty()
    }

    /// Short description for Events and logs: attribute names and groups, never values.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.update.is_empty() {
            let names: Vec<&str> = self.update.keys().map(String::as_str).collect();
            parts.push(format!("set attributes {}", names.join(", ")));
        }
        if !self.delete.is_empty() {
            parts.push(format!("deleted attributes {}", self.delete.join(", ")));
        }
        match self.enable {
            Some(true) => parts.push("enabled the user".into()),
            Some(false) => parts.push("disabled the user".into()),
            None => {}
        }
        if !self.add_groups.is_empty() {
            parts.push(format!("added to {}", self.add_groups.join(", ")));
        }
        if !self.remove_groups.is_empty() {
            parts.push(format!("removed from {}", self.remove_groups.join(", ")));
        }
        parts.join("; ")
    }
}

/// The changes from `observed` to `desired`. `previously_managed` names the attributes
/// the operator set before: those no longer desired are deleted, while attributes it
/// never managed are left alone. Groups are compared only when `observed.groups` is known.
pub fn changes(
    desired: &DesiredUser,
    observed: &ObservedUser,
    previously_managed: &[String],
) -> UserChanges {
    let update = desired
        .attributes
        .iter()
        .filter(|(name, value)| observed.attributes.get(*name) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let delete = previously_managed
        .iter()
        .filter(|name| {
            !desired.attributes.contains_key(*name) && observed.attributes.contains_key(*name)
        })
        .cloned()
        .collect();
    let enable = (observed.enabled != desired.enabled).then_some(desired.enabled);
    let (add_groups, remove_groups) = match &observed.groups {
        Some(groups) => (
            desired.groups.difference(groups).cloned().collect(),
            groups.difference(&desired.groups).cloned().collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    UserChanges {
        update,
        delete,
        enable,
        add_groups,
        remove_groups,
    }
}

pub fn to_attribute_types(attributes: &BTreeMap<String, String>) -> Vec<AttributeType> {
    attributes
        .iter()
        .filter_map(|(name, value)| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_crds::appuser::{SecretKeyRef, UserDeletionPolicy, UserPoolRef};

    fn spec() -> AppUserSpec {
        AppUserSpec {
            user_pool_ref: UserPoolRef {
                name: "shop".into(),
            },
            email: "ada@example.com".into(),
            password_secret_ref: SecretKeyRef {
                name: "ada".into(),
                key: "password".into(),
            },
            attributes: BTreeMap::from([
                ("given_name".into(), "Ada".into()),
                ("custom:tier".into(), "gold".into()),
            ]),
            email_verified: true,
            groups: vec!["admins".into()],
            enabled: true,
            deletion_policy: UserDeletionPolicy::Delete,
            generate_password: false,
        }
    }

    fn observed_as_desired(desired: &DesiredUser) -> ObservedUser {
        let mut attributes = desired.attributes.clone();
        attributes.insert("sub".into(), "0000".into());
        ObservedUser {
            username: "0000".into(),
            sub: Some("0000".into()),
            status: Some(CONFIRMED.into()),
            enabled: true,
            attributes,
            groups: Some(desired.groups.clone()),
        }
    }

    #[test]
    fn desired_state_adds_email_and_verification() {
        let desired = DesiredUser::of(&spec());
        assert_eq!(desired.attributes["email"], "ada@example.com");
        assert_eq!(desired.attributes["email_verified"], "true");
        assert_eq!(desired.attributes["custom:tier"], "gold");
        assert_eq!(
            desired.managed_attribute_names(),
            ["custom:tier", "email", "email_verified", "given_name"]
        );
    }

    #[test]
    fn a_user_as_declared_needs_no_change() {
        let desired = DesiredUser::of(&spec());
        let observed = observed_as_desired(&desired);
        let changes = changes(&desired, &observed, &desired.managed_attribute_names());
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn drifted_attributes_are_set_again_and_removed_ones_deleted() {
        let mut spec = spec();
        spec.attributes.remove("custom:tier");
        let desired = DesiredUser::of(&spec);
        let mut observed = observed_as_desired(&DesiredUser::of(&self::spec()));
        observed
            .attributes
            .insert("given_name".into(), "Eve".into());
        observed.attributes.insert("locale".into(), "fr".into());
        let managed = DesiredUser::of(&self::spec()).managed_attribute_names();

        let changes = changes(&desired, &observed, &managed);
        assert_eq!(
            changes.update,
            BTreeMap::from([("given_name".into(), "Ada".into())])
        );
        // custom:tier was managed and left the spec; locale was never managed.
        assert_eq!(changes.delete, ["custom:tier"]);
        assert_eq!(
            changes.summary(),
            "set attributes given_name; deleted attributes custom:tier"
        );
        assert!(!changes.summary().contains("Ada"), "no values in summaries");
    }

    #[test]
    fn enabled_flag_and_groups_converge() {
        let mut spec = spec();
        spec.enabled = false;
        spec.groups = vec!["readers".into()];
        let desired = DesiredUser::of(&spec);
        let observed = observed_as_desired(&DesiredUser::of(&self::spec()));
        let changes = changes(&desired, &observed, &[]);
        assert_eq!(changes.enable, Some(false));
        assert_eq!(changes.add_groups, ["readers"]);
        assert_eq!(changes.remove_groups, ["admins"]);
    }

    #[test]
    fn unknown_groups_are_not_compared() {
        let desired = DesiredUser::of(&spec());
        let mut observed = observed_as_desired(&desired);
        observed.groups = None;
        assert!(changes(&desired, &observed, &[]).is_empty());
    }

    #[test]
    fn observation_reads_sub_status_and_attributes() {
        let user = UserType::builder()
            .username("0000")
            .enabled(true)
            .user_status(aws_sdk_cognitoidentityprovider::types::UserStatusType::Confirmed)
            .attributes(
                AttributeType::builder()
                    .name("sub")
                    .value("0000")
                    .build()
                    .unwrap(),
            )
            .build();
        let observed = ObservedUser::from_user_type(&user);
        assert_eq!(observed.sub.as_deref(), Some("0000"));
        assert!(observed.is_confirmed());
        assert!(observed.enabled);
    }
}
