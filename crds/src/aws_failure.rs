//! What a failed AWS call means, in words a person can act on: the one classification of
//! AWS SDK errors, for every service the operator and webhook-api call.
//!
//! An [`AwsFailure`] reads as the likely cause and what to do about it; status conditions
//! and Events carry that. The SDK's whole error chain ([`chain`]) is long and names the
//! SDK's internals, so it goes to debug logs only.

use std::{error::Error, fmt};

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::{orchestrator::HttpResponse, result::SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS service as its errors are told: its name for people and its IAM action prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub iam_prefix: &'static str,
}

impl Service {
    pub const CLOUDFORMATION: Self = Self {
        name: "CloudFormation",
        iam_prefix: "cloudformation",
    };
    pub const COGNITO: Self = Self {
        name: "Cognito",
        iam_prefix: "cognito-idp",
    };
    pub const LAMBDA: Self = Self {
        name: "Lambda",
        iam_prefix: "lambda",
    };
}

/// Error codes with which AWS refuses a call for its request rate. CloudFormation says
/// `Throttling`, Cognito `TooManyRequestsException`; quota errors such as
/// `LimitExceededException` are deliberately not here, as retrying does not fix them.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// Codes of an IAM refusal (CloudFormation `AccessDenied`, Cognito and Lambda
/// `AccessDeniedException`, EC2-style `UnauthorizedOperation`).
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
];

/// Codes with which AWS refuses the credentials themselves, before any IAM check.
const CREDENTIALS_REJECTED_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
];

/// Codes of a refused parameter; AWS's message names the parameter.
const VALIDATION_CODES: &[&str] = &[
    "ValidationError",
    "ValidationException",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "MissingParameter",
];

/// The most of AWS's own text a message quotes: conditions stay readable in `kubectl
/// describe`, and the whole text is in the debug log.
const QUOTED_CHARS: usize = 200;

/// Why an AWS call failed, by what a person does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsFailure {
    /// No credentials were found (`problem` is `None`), or a configured source of them
    /// failed (`problem` says how). Nothing was sent to AWS.
    NoCredentials { problem: Option<String> },
    /// AWS does not accept the credentials (unknown key, expired session, bad signature).
    CredentialsRejected { code: String },
    /// IAM refused `action` (e.g. `cloudformation:CreateStack`). `blocked_by` is set when
    /// a policy other than the role's own refused it ("by an explicit deny in a service
    /// control policy"), which adding the action to the role's policy does not fix.
    AccessDenied {
        action: String,
        blocked_by: Option<String>,
    },
    /// The request got no answer: the connection failed or timed out.
    Unreachable { detail: String },
    /// AWS refused the call for its request rate.
    Throttled { message: String },
    /// AWS refused a parameter; its message names it.
    Validation { message: String },
    /// AWS failed on its side (5xx), or answered with something unreadable.
    ServerError { code: String },
    /// Anything else, in AWS's words.
    Other { code: String, message: String },
}

impl AwsFailure {
    /// Classifies a failed call of `operation` on `service`.
    pub fn of<E>(service: Service, operation: &str, error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + Error + 'static,
    {
        match error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Self::unsent(error),
            SdkError::ConstructionFailure(_) => Self::Other {
                code: "request not built".to_owned(),
                message: clip(&root_cause(error).to_string()),
            },
            SdkError::ResponseError(_) => Self::ServerError {
                code: match error.raw_response() {
                    Some(response) => {
                        format!("unreadable answer, HTTP {}", response.status().as_u16())
                    }
                    None => "unreadable answer".to_owned(),
                },
            },
            _ => Self::answered(
                service,
                operation,
                error.code().unwrap_or_default(),
                error.message().unwrap_or_default(),
                error.raw_response().map(|r| r.status().as_u16()),
            ),
        }
    }

    /// Classifies AWS's answer to `operation`: its error `code`, `message` and HTTP
    /// `status`.
    pub fn answered(
        service: Service,
        operation: &str,
        code: &str,
        message: &str,
        status: Option<u16>,
    ) -> Self {
        // Throttling first: some services send it with a 5xx status.
        if THROTTLING_CODES.contains(&code) || status == Some(429) {
            let message = if message.is_empty() {
                "Rate exceeded"
            } else {
                message
            };
            return Self::Throttled {
                message: clip(message),
            };
        }
        if ACCESS_DENIED_CODES.contains(&code) || message.contains(NOT_AUTHORIZED) {
            return Self::AccessDenied {
                action: denied_action(message)
                    .unwrap_or_else(|| format!("{}:{operation}", service.iam_prefix)),
                blocked_by: blocking_policy(message),
            };
        }
        if CREDENTIALS_REJECTED_CODES.contains(&code) {
            return Self::CredentialsRejected {
                code: code.to_owned(),
            };
        }
        let code = match (code, status) {
            ("", Some(status)) => format!("HTTP {status}"),
            ("", None) => "Unknown".to_owned(),
            (code, _) => code.to_owned(),
        };
        if status.is_some_and(|s| s >= 500) {
            Self::ServerError { code }
        } else if VALIDATION_CODES.contains(&code.as_str()) {
            Self::Validation {
                message: clip(message),
            }
        } else {
            Self::Other {
                code,
                message: clip(message),
            }
        }
    }

    /// Classifies a call that got no answer: credentials that could not be loaded (the
    /// SDK fails the call before sending it), else the network.
    fn unsent(error: &(dyn Error + 'static)) -> Self {
        let credentials = causes(error).find_map(|e| e.downcast_ref::<CredentialsError>());
        let root = root_cause(error).to_string();
        match credentials {
            Some(CredentialsError::CredentialsNotLoaded(_)) => {
                Self::NoCredentials { problem: None }
            }
            Some(failed) => Self::NoCredentials {
                problem: Some(clip(&root_cause(failed).to_string())),
            },
            // The SDK's identity cache gives up on a provider that hangs (an unreachable
            // instance metadata service, say) with this error, which it does not export.
            None if root.starts_with("identity resolver timed out") => Self::NoCredentials {
                problem: Some("loading them timed out".to_owned()),
            },
            None => Self::Unreachable {
                detail: clip(&root),
            },
        }
    }

    /// Whether AWS refused the call for its request rate.
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Throttled { .. })
    }
}

/// The sentence a person reads: the likely cause, then what to do.
impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCredentials { problem: None } => f.write_str(
                "no AWS credentials found; set up IRSA or EKS Pod Identity for the ServiceAccount, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ),
            Self::NoCredentials {
                problem: Some(problem),
            } => write!(
                f,
                "AWS credentials could not be loaded ({problem}); check the ServiceAccount's IRSA or Pod Identity role and its trust policy"
            ),
            Self::CredentialsRejected { code } => write!(
                f,
                "AWS rejected the credentials ({code}: unknown, expired or malformed); check the IRSA or Pod Identity role, or the AWS_* environment variables"
            ),
            Self::AccessDenied {
                action,
                blocked_by: None,
            } => write!(
                f,
                "access denied: the role lacks {action}; add it to the role's IAM policy"
            ),
            Self::AccessDenied {
                action,
                blocked_by: Some(policy),
            } => write!(
                f,
                "access denied: {action} is refused {policy}; an AWS account administrator must allow it"
            ),
            Self::Unreachable { detail } => write!(
                f,
                "AWS did not answer ({detail}); check the network path to AWS (egress rules, proxy, VPC endpoints) and AWS_ENDPOINT_URL if set"
            ),
            Self::Throttled { message } => write!(
                f,
                "throttled by AWS ({message}); if it lasts, lower the request rates or ask AWS for a higher quota"
            ),
            Self::Validation { message } => write!(
                f,
                "AWS refused a parameter: {message}; correct the field it names"
            ),
            Self::ServerError { code } => write!(
                f,
                "AWS failed on its side ({code}); this usually passes, see the AWS Health Dashboard if it lasts"
            ),
            Self::Other { code, message } if message.is_empty() => f.write_str(code),
            Self::Other { code, message } => write!(f, "{code}: {message}"),
        }
    }
}

/// What IAM's refusals say before the action they refuse.
const NOT_AUTHORIZED: &str = "is not authorized to perform: ";

/// The action in IAM's "User: … is not authorized to perform: cognito-idp:AdminCreateUser
/// on resource: …".
fn denied_action(message: &str) -> Option<String> {
    let (_, rest) = message.split_once(NOT_AUTHORIZED)?;
    let action = rest.split_whitespace().next()?;
    let action = action.trim_end_matches(['.', ',', ';']);
    action.contains(':').then(|| action.to_owned())
}

/// The policy that refused the action, when it is not the role's own: "with an explicit
/// deny in a service control policy", or "because no permissions boundary allows …".
fn blocking_policy(message: &str) -> Option<String> {
    if let Some((_, rest)) = message.split_once("with an explicit deny ") {
        let policy = rest.split(['.', ',']).next().unwrap_or(rest).trim();
        return Some(format!("by an explicit deny {policy}"));
    }
    let (_, rest) = message.split_once("because no ")?;
    let policy = rest.split(" allows").next()?.trim();
    (policy != "identity-based policy").then(|| format!("because no {policy} allows it"))
}

/// `error` and its sources, outermost first.
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// The innermost source of `error`: with the SDK's wrappers, the one that says what
/// happened ("Connection refused (os error 111)").
pub fn root_cause<'a>(error: &'a (dyn Error + 'static)) -> &'a (dyn Error + 'static) {
    causes(error).last().unwrap_or(error)
}

/// Every level of `error`'s chain, outermost first, for debug logs. Display text only:
/// the `Debug` form of an SDK error holds the raw response, whose body can carry
/// secrets.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    for cause in causes(error) {
        let level = cause.to_string();
        // Wrappers often repeat their source's text; say it once.
        if text.ends_with(&level) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&level);
    }
    text
}

/// `text` cut to [`QUOTED_CHARS`] characters, marked with "…" when cut.
pub fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_smithy_runtime_api::{
        client::result::ConnectorError,
        http::{Response, StatusCode},
    };
    use aws_smithy_types::{body::SdkBody, error::ErrorMetadata};

    use super::*;

    /// An operation error as the SDKs generate them: metadata and nothing else.
    #[derive(Debug)]
    struct OperationError(ErrorMetadata);

    impl fmt::Display for OperationError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.0)
        }
    }

    impl Error for OperationError {}

    impl ProvideErrorMetadata for OperationError {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    type Failed = SdkError<OperationError, HttpResponse>;

    fn answered(status: u16, code: &str, message: &str) -> Failed {
        let metadata = ErrorMetadata::builder().code(code).message(message).build();
        let status = StatusCode::try_from(status).expect("a status code");
        SdkError::service_error(
            OperationError(metadata),
            Response::new(status, SdkBody::empty()),
        )
    }

    fn cfn(error: &Failed) -> AwsFailure {
        AwsFailure::of(Service::CLOUDFORMATION, "CreateStack", error)
    }

    /// What the SDK returns when the credential chain finds nothing.
    fn no_credentials(error: CredentialsError) -> Failed {
        SdkError::dispatch_failure(ConnectorError::other(error.into(), None))
    }

    #[test]
    fn missing_credentials_are_named_whatever_the_wrapping() {
        let none = no_credentials(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ));
        assert_eq!(cfn(&none), AwsFailure::NoCredentials { problem: None });
        let text = cfn(&none).to_string();
        assert!(
            text.starts_with("no AWS credentials found") && text.contains("IRSA"),
            "{text}"
        );

        let failed = no_credentials(CredentialsError::provider_error(
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ));
        assert_eq!(
            cfn(&failed),
            AwsFailure::NoCredentials {
                problem: Some("Not authorized to perform sts:AssumeRoleWithWebIdentity".into())
            }
        );

        let hung = SdkError::dispatch_failure(ConnectorError::other(
            "identity resolver timed out after 5s".into(),
            None,
        ));
        assert!(matches!(
            cfn(&hung),
            AwsFailure::NoCredentials { problem: Some(_) }
        ));
    }

    #[test]
    fn access_denied_names_the_missing_action() {
        let message = "User: arn:aws:iam::123456789012:user/chaos-1 is not authorized to perform: cloudformation:CreateStack on resource: arn:aws:cloudformation:us-east-1:123456789012:stack/s/* because no identity-based policy allows the cloudformation:CreateStack action";
        let denied = cfn(&answered(403, "AccessDenied", message));
        assert_eq!(
            denied,
            AwsFailure::AccessDenied {
                action: "cloudformation:CreateStack".into(),
                blocked_by: None
            }
        );
        assert_eq!(
            denied.to_string(),
            "access denied: the role lacks cloudformation:CreateStack; add it to the role's IAM policy"
        );

        // Without IAM's sentence, the action is the call's.
        let bare = AwsFailure::of(
            Service::COGNITO,
            "AdminCreateUser",
            &answered(400, "AccessDeniedException", ""),
        );
        assert_eq!(
            bare,
            AwsFailure::AccessDenied {
                action: "cognito-idp:AdminCreateUser".into(),
                blocked_by: None
            }
        );
    }

    #[test]
    fn a_deny_elsewhere_is_not_fixed_in_the_role_policy() {
        let scp = "User: arn:aws:sts::1:assumed-role/op/x is not authorized to perform: lambda:ListTags on resource: f with an explicit deny in a service control policy";
        let denied = cfn(&answered(403, "AccessDeniedException", scp));
        assert_eq!(
            denied,
            AwsFailure::AccessDenied {
                action: "lambda:ListTags".into(),
                blocked_by: Some("by an explicit deny in a service control policy".into())
            }
        );
        assert!(denied.to_string().contains("administrator"), "{denied}");

        let boundary = "User: u is not authorized to perform: cognito-idp:AdminCreateUser on resource: p because no permissions boundary allows the cognito-idp:AdminCreateUser action";
        assert_eq!(
            blocking_policy(boundary).as_deref(),
            Some("because no permissions boundary allows it")
        );
    }

    #[test]
    fn answers_are_classified_by_code_and_status() {
        let of = |status, code, message| cfn(&answered(status, code, message));
        assert!(of(400, "Throttling", "Rate exceeded").is_throttling());
        assert!(of(400, "TooManyRequestsException", "").is_throttling());
        assert!(of(429, "", "").is_throttling());
        // Throttling wins over the 5xx some services send it with.
        assert!(of(503, "ThrottlingException", "slow down").is_throttling());
        assert_eq!(
            of(500, "InternalFailure", "boom"),
            AwsFailure::ServerError {
                code: "InternalFailure".into()
            }
        );
        assert_eq!(
            of(503, "", ""),
            AwsFailure::ServerError {
                code: "HTTP 503".into()
            }
        );
        assert_eq!(
            of(
                400,
                "UnrecognizedClientException",
                "The security token is invalid"
            ),
            AwsFailure::CredentialsRejected {
                code: "UnrecognizedClientException".into()
            }
        );
        let field = "1 validation error detected: Value at 'username' failed to satisfy constraint";
        assert_eq!(
            of(400, "InvalidParameterException", field),
            AwsFailure::Validation {
                message: field.into()
            }
        );
        assert_eq!(
            of(400, "AliasExistsException", "taken"),
            AwsFailure::Other {
                code: "AliasExistsException".into(),
                message: "taken".into()
            }
        );
    }

    #[test]
    fn no_answer_is_unreachable_with_the_root_cause() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let error: Failed = SdkError::dispatch_failure(ConnectorError::io(refused.into()));
        assert_eq!(
            cfn(&error),
            AwsFailure::Unreachable {
                detail: "Connection refused".into()
            }
        );
        let timeout: Failed = SdkError::timeout_error("attempt timed out after 15s");
        let failure = cfn(&timeout);
        assert_eq!(
            failure,
            AwsFailure::Unreachable {
                detail: "attempt timed out after 15s".into()
            }
        );
        assert!(failure.to_string().contains("network path"), "{failure}");
    }

    #[test]
    fn every_sentence_is_short_and_says_what_to_do() {
        let long = "x".repeat(5_000);
        let failures = [
            AwsFailure::NoCredentials { problem: None },
            AwsFailure::NoCredentials {
                problem: Some(clip(&long)),
            },
            AwsFailure::CredentialsRejected {
                code: "ExpiredToken".into(),
            },
            AwsFailure::answered(Service::COGNITO, "X", "AccessDenied", &long, None),
            AwsFailure::Unreachable {
                detail: clip(&long),
            },
            AwsFailure::answered(Service::COGNITO, "X", "Throttling", &long, None),
            AwsFailure::answered(Service::COGNITO, "X", "ValidationError", &long, None),
            AwsFailure::ServerError {
                code: "InternalFailure".into(),
            },
            AwsFailure::answered(Service::COGNITO, "X", "Weird", &long, None),
        ];
        for failure in failures {
            let text = failure.to_string();
            assert!(text.chars().count() < 400, "{} chars: {text}", text.len());
            assert!(
                !text.contains("DispatchFailure") && !text.contains("{"),
                "{text}"
            );
        }
    }

    #[test]
    fn the_chain_keeps_every_level_once() {
        let error = no_credentials(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ));
        assert_eq!(
            chain(&error),
            "dispatch failure: other: the credential provider was not enabled: no providers in chain provided credentials"
        );
    }

    #[test]
    fn clipping_respects_characters() {
        assert_eq!(clip("  short  "), "short");
        let clipped = clip(&"é".repeat(QUOTED_CHARS + 10));
        assert_eq!(clipped.chars().count(), QUOTED_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }
}
