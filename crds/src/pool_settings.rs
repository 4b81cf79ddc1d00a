//! Pool-wide settings of a UserPool beyond passwords and MFA: the feature plan, threat
//! protection, how Cognito sends e-mail, account recovery, the messages users receive,
//! and which attributes Cognito verifies.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Cognito's feature plans (`UserPoolTier`). Each plan includes the one before it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeaturePlan {
    Lite,
    Essentials,
    Plus,
}

/// Threat protection (`UserPoolAddOns.AdvancedSecurityMode`); anything but `Disabled`
/// needs the `Plus` plan.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThreatProtection {
    /// No threat protection (Cognito's `OFF`; not `Off`, which YAML reads as false).
    #[default]
    Disabled,
    /// Detect and log risks without acting on them (`AUDIT`).
    Audit,
    /// Detect risks and act on them as configured (`ENFORCED`).
    Enforced,
}

/// How Cognito sends e-mail (`EmailConfiguration`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.sender == 'SES' || !has(self.sourceArn)")
    .message("sourceArn applies only to sender SES")
    .field_path(".sourceArn"))]
#[x_kube(validation = Rule::new("self.sender == 'Cognito' || has(self.sourceArn)")
    .message("sender SES needs sourceArn: the ARN of a verified SES identity")
    .field_path(".sourceArn"))]
#[x_kube(validation = Rule::new("self.sender == 'SES' || !has(self.configurationSet)")
    .message("configurationSet applies only to sender SES")
    .field_path(".configurationSet"))]
#[x_kube(validation = Rule::new("self.sender == 'SES' || !has(self.from)")
    .message("from applies only to sender SES: Cognito's own sender always writes from no-reply@verificationemail.com")
    .field_path(".from"))]
pub struct EmailSettings {
    /// `Cognito` (default: Cognito's own sender, limited to a few messages a day) or `SES`
    /// (your Amazon SES identity; Cognito's `DEVELOPER` account).
    #[serde(default)]
    pub sender: EmailSender,

    /// ARN of the verified SES identity to send from (sender SES).
    #[schemars(regex(pattern = r"^arn:[\w+=/,.@-]+:ses:[a-z0-9-]+:[0-9]{12}:identity/\S+$"))]
    pub source_arn: Option<String>,

    /// The From address, optionally with a name: `Shop <no-reply@shop.example>`
    /// (sender SES).
    #[schemars(length(min = 3, max = 256))]
    pub from: Option<String>,

    /// Where replies go.
    #[schemars(length(min = 3, max = 256), regex(pattern = r"^\S+@\S+$"))]
    pub reply_to_address: Option<String>,

    /// SES configuration set, for event publishing and IP pools (sender SES).
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-zA-Z0-9_-]+$"))]
    pub configuration_set: Option<String>,
}

/// Who sends the pool's e-mail.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmailSender {
    #[default]
    Cognito,
    #[serde(rename = "SES")]
    Ses,
}

/// A way users can recover their account, in the order Cognito tries them.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMechanism {
    VerifiedEmail,
    VerifiedPhoneNumber,
    /// Only an administrator can reset the password; must stand alone.
    AdminOnly,
}

/// Which message a verification sends, and what it says (`VerificationMessageTemplate`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.emailMessage) || self.emailMessage.contains('{####}')")
    .message("emailMessage must contain the code placeholder {####}")
    .field_path(".emailMessage"))]
#[x_kube(validation = Rule::new("!has(self.emailMessageByLink) || self.emailMessageByLink.matches('\\\\{##[^#]+##\\\\}')")
    .message("emailMessageByLink must contain a link placeholder {##Click here##}")
    .field_path(".emailMessageByLink"))]
#[x_kube(validation = Rule::new("!has(self.smsMessage) || self.smsMessage.contains('{####}')")
    .message("smsMessage must contain the code placeholder {####}")
    .field_path(".smsMessage"))]
pub struct VerificationMessage {
    /// `Code` (default: the user types a code) or `Link` (the user clicks a link).
    #[serde(default)]
    pub default_email_option: VerificationStyle,

    /// Subject of the e-mail with a code.
    #[schemars(length(min = 1, max = 140))]
    pub email_subject: Option<String>,

    /// Body of the e-mail with a code; must contain `{####}`.
    #[schemars(length(min = 6, max = 20000))]
    pub email_message: Option<String>,

    /// Subject of the e-mail with a link.
    #[schemars(length(min = 1, max = 140))]
    pub email_subject_by_link: Option<String>,

    /// Body of the e-mail with a link; must contain `{##<link text>##}`.
    #[schemars(length(min = 6, max = 20000))]
    pub email_message_by_link: Option<String>,

    /// Text message with a code; must contain `{####}`.
    #[schemars(length(min = 6, max = 140))]
    pub sms_message: Option<String>,
}

/// How a verification e-mail lets the user verify.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerificationStyle {
    #[default]
    Code,
    Link,
}

/// The message a user invited by an administrator receives
/// (`AdminCreateUserConfig.InviteMessageTemplate`). AppUsers with a preset password are
/// never sent one; users created with a temporary password are.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.emailMessage) || (self.emailMessage.contains('{username}') && self.emailMessage.contains('{####}'))")
    .message("emailMessage must contain {username} and the temporary password placeholder {####}")
    .field_path(".emailMessage"))]
#[x_kube(validation = Rule::new("!has(self.smsMessage) || (self.smsMessage.contains('{username}') && self.smsMessage.contains('{####}'))")
    .message("smsMessage must contain {username} and the temporary password placeholder {####}")
    .field_path(".smsMessage"))]
pub struct InvitationMessage {
    /// Subject of the invitation e-mail.
    #[schemars(length(min = 1, max = 140))]
    pub email_subject: Option<String>,

    /// Body of the invitation e-mail; must contain `{username}` and `{####}`.
    #[schemars(length(min = 6, max = 20000))]
    pub email_message: Option<String>,

    /// Invitation text message; must contain `{username}` and `{####}`.
    #[schemars(length(min = 6, max = 140))]
    pub sms_message: Option<String>,
}

/// An attribute Cognito can verify by sending a code.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifiableAttribute {
    Email,
    PhoneNumber,
}
