//! Which Lambda functions a pool may wire as triggers. A tenant names a function by ARN;
//! without a check, a pool could invoke (and be granted the right to invoke) a function
//! that belongs to another team. An administrator hands a function to a namespace by
//! tagging it `cognito.kubeauth.dev/namespace=<namespace>`; every other function is refused.

use std::collections::HashMap;

use aws_sdk_lambda::error::ProvideErrorMetadata;

use super::placement::OWNER_NAMESPACE_TAG;
use crate::error::{Error, Result};

/// Why `arn` may not be used by `namespace`, judged from the function's tags; `None`
/// when it may.
pub fn refusal(namespace: &str, arn: &str, tags: &HashMap<String, String>) -> Option<String> {
    match tags.get(OWNER_NAMESPACE_TAG) {
        Some(owner) if owner == namespace => None,
        Some(_) => Some(format!(
            "Lambda function {arn} is handed to another namespace (tag {OWNER_NAMESPACE_TAG})"
        )),
        None => Some(format!(
            "Lambda function {arn} has no tag {OWNER_NAMESPACE_TAG}={namespace}; an administrator hands a function to a namespace with that tag"
        )),
    }
}

/// The first of `arns` that `namespace` may not use, with the reason; `None` when all
/// may be used. A function that does not exist, or whose tags the operator may not read
/// (another account's), is refused too.
pub async fn first_refused(
    lambda: &aws_sdk_lambda::Client,
    namespace: &str,
    arns: &[&str],
) -> Result<Option<String>> {
    for arn in arns {
        // Tags are read from the function itself: an alias or version ARN names the same
        // function, and ListTags takes the function's ARN.
        let function_arn = unqualified(arn);
        let why = match lambda.list_tags().resource(function_arn).send().await {
            Ok(answer) => refusal(namespace, arn, answer.tags().unwrap_or(&HashMap::new())),
            Err(e) => match e.code() {
                Some("ResourceNotFoundException") => {
                    Some(format!("Lambda function {arn} does not exist"))
                }
                Some("AccessDeniedException") => Some(format!(
                    "the operator may not read the tags of Lambda function {arn} (lambda:ListTags): functions of other accounts cannot be used"
                )),
                _ => return Err(Error::lambda("ListTags", e)),
            },
        };
        if why.is_some() {
            return Ok(why);
        }
    }
    Ok(None)
}

/// The function ARN without a version or alias qualifier.
fn unqualified(arn: &str) -> &str {
    // arn:aws:lambda:region:account:function:name[:qualifier]
    match arn.match_indices(':').nth(6) {
        Some((at, _)) => &arn[..at],
        None => arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_functions_handed_to_the_namespace_are_allowed() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:hooks";
        let tagged = |ns: &str| HashMap::from([(OWNER_NAMESPACE_TAG.to_owned(), ns.to_owned())]);
        assert_eq!(refusal("shop", arn, &tagged("shop")), None);
        let other = refusal("shop", arn, &tagged("billing")).expect("refused");
        assert!(other.contains("another namespace"), "{other}");
        let untagged = refusal("shop", arn, &HashMap::new()).expect("refused");
        assert!(untagged.contains("has no tag"), "{untagged}");
    }

    #[test]
    fn qualifiers_are_dropped() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:hooks";
        assert_eq!(unqualified(arn), arn);
        assert_eq!(unqualified(&format!("{arn}:live")), arn);
        assert_eq!(unqualified(&format!("{arn}:$LATEST")), arn);
    }
}
