//! Counting AWS calls: an SDK interceptor that records every attempt's outcome in
//! [`Metrics`], and the constructor of the operator's AWS clients that installs it.
//!
//! Attempts, not operations, are counted, so a throttled call that succeeds on retry shows
//! up as one `throttled` and one `success`: that is what AWS's rate limits see.

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{Intercept, context::FinalizerInterceptorContextRef},
        orchestrator::{HttpResponse, Metadata},
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::ConfigBag;
use cognito_crds::aws_failure::THROTTLING_CODES;

use crate::runtime::metrics::{Metrics, Outcome};

/// The AWS service clients the operator uses, for one region.
#[derive(Clone, Debug)]
pub struct ServiceClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// For the calls on users, which the caller retries itself: without SDK retries, so
    /// that every attempt waits on the operator's rate limits (see `appuser::directory`).
    pub cognito_users: aws_sdk_cognitoidentityprovider::Client,
    /// Reads the tags of the tenants' trigger functions.
    pub lambda: aws_sdk_lambda::Client,
}

/// Builds the operator's clients from `config` (region, credentials and
/// `AWS_ENDPOINT_URL` as loaded by `aws_config`), each counting its calls in `metrics`.
///
/// ```no_run
/// # async fn example(metrics: cognito_operator::runtime::metrics::Metrics) {
/// let config = aws_config::load_from_env().await;
/// let clients = cognito_operator::runtime::aws_metrics::with_call_metrics(&config, &metrics);
/// # }
/// ```
pub fn with_call_metrics(config: &aws_config::SdkConfig, metrics: &Metrics) -> ServiceClients {
    let counter = AwsCallCounter::new(metrics.clone());
    let cloudformation = aws_sdk_cloudformation::config::Builder::from(config)
        .interceptor(counter.clone())
        .build();
    let cognito = aws_sdk_cognitoidentityprovider::config::Builder::from(config)
        .interceptor(counter.clone())
        .build();
    let cognito_users = cognito
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let lambda = aws_sdk_lambda::config::Builder::from(config)
        .interceptor(counter)
        .build();
    ServiceClients {
        cloudformation: aws_sdk_cloudformation::Client::from_conf(cloudformation),
        cognito: aws_sdk_cognitoidentityprovider::Client::from_conf(cognito),
        cognito_users: aws_sdk_cognitoidentityprovider::Client::from_conf(cognito_users),
        lambda: aws_sdk_lambda::Client::from_conf(lambda),
    }
}

/// SDK interceptor that counts every call attempt in `aws_calls_total{service,operation,outcome}`.
///
/// Add it to any service's config builder with `.interceptor(AwsCallCounter::new(metrics))`.
#[derive(Clone, Debug)]
pub struct AwsCallCounter {
    metrics: Metrics,
}

impl AwsCallCounter {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl Intercept for AwsCallCounter {
    fn name(&self) -> &'static str {
        "AwsCallCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => Outcome::Success,
            _ if context.response().is_some_and(is_throttled) => Outcome::Throttled,
            _ => Outcome::Error,
        };
        // Every generated operation stores its Metadata; "unknown" only guards against an
        // SDK change, since failing the call over a metric would be worse.
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("unknown", "unknown"), |metadata| {
                (metadata.service(), metadata.name())
            });
        self.metrics.aws_call(service, operation, outcome);
        Ok(())
    }
}

fn is_throttled(response: &HttpResponse) -> bool {
    let status = response.status().as_u16();
    if status == 429 {
        return true;
    }
    if !(400..500).contains(&status) {
        return false;
    }
    // By now the orchestrator has read the (small) error body into memory.
    let body = response.body().bytes().unwrap_or_default();
    error_code(response.headers().get("x-amzn-errortype"), body)
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// The AWS error code of an error response: from the `x-amzn-ErrorType` header or the
/// `__type`/`code` field (JSON protocols, e.g. Cognito), else from `<Code>` (the query
/// protocol, e.g. CloudFormation). Codes may carry a namespace (`ns#Code`) or a suffix
/// (`Code:uri`), which are cut off.
fn error_code<'a>(header: Option<&'a str>, body: &'a [u8]) -> Option<&'a str> {
    let raw = header
        .or_else(|| json_error_type(body))
        .or_else(|| xml_error_code(body))?;
    let code = raw.split(':').next().unwrap_or(raw);
    let code = code.rsplit('#').next().unwrap_or(code).trim();
    (!code.is_empty()).then_some(code)
}

fn json_error_type(body: &[u8]) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct JsonError<'a> {
        #[serde(rename = "__type", alias = "code", borrow)]
        error_type: Option<&'a str>,
    }
    serde_json::from_slice::<JsonError<'_>>(body)
        .ok()?
        .error_type
}

fn xml_error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
    use aws_sdk_cognitoidentityprovider::config::{Credentials, SharedCredentialsProvider};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;
    use axum::http;
    use prometheus_client::{encoding::text::encode, registry::Registry};

    use super::*;

    fn event(status: u16, headers: &[(&str, &str)], body: &str) -> ReplayEvent {
        let request = http::Request::builder()
            .uri("https://aws.test/")
            .body(SdkBody::empty())
            .expect("valid request");
        let mut response = http::Response::builder().status(status);
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        let response = response
            .body(SdkBody::from(body.to_owned()))
            .expect("valid response");
        ReplayEvent::new(request, response)
    }

    fn sdk_config(http_client: StaticReplayClient) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .http_client(http_client)
            .build()
    }

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).expect("encoding into a String cannot fail");
        text
    }

    #[tokio::test]
    async fn counts_each_attempt_with_service_operation_and_outcome() {
        let replay = StaticReplayClient::new(vec![
            event(
                400,
                &[("x-amzn-ErrorType", "TooManyRequestsException")],
                r#"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#,
            ),
            event(
                200,
                &[("content-type", "application/x-amz-json-1.1")],
                r#"{"UserPools":[]}"#,
            ),
            event(
                400,
                &[("content-type", "text/xml")],
                "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>\
                 <Message>Stack with id shop does not exist</Message></Error></ErrorResponse>",
            ),
        ]);
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let ServiceClients {
            cloudformation,
            cognito,
            ..
        } = with_call_metrics(&sdk_config(replay.clone()), &metrics);

        cognito
            .list_user_pools()
            .max_results(10)
            .send()
            .await
            .expect("the retry after throttling succeeds");
        cloudformation
            .describe_stacks()
            .stack_name("shop")
            .send()
            .await
            .expect_err("the stack does not exist");

        let text = render(&registry);
        for line in [
            r#"cognito_operator_aws_calls_total{service="Cognito Identity Provider",operation="ListUserPools",outcome="throttled"} 1"#,
            r#"cognito_operator_aws_calls_total{service="Cognito Identity Provider",operation="ListUserPools",outcome="success"} 1"#,
            r#"cognito_operator_aws_calls_total{service="CloudFormation",operation="DescribeStacks",outcome="error"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        assert_eq!(replay.actual_requests().count(), 3);
    }

    #[test]
    fn error_codes_of_json_and_query_protocols() {
        assert_eq!(
            error_code(Some("TooManyRequestsException:http://internal/"), b""),
            Some("TooManyRequestsException")
        );
        assert_eq!(
            error_code(
                None,
                br#"{"__type":"com.amazonaws.cognito#TooManyRequestsException"}"#
            ),
            Some("TooManyRequestsException")
        );
        assert_eq!(
            error_code(
                None,
                b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"
            ),
            Some("Throttling")
        );
        assert_eq!(error_code(None, b"not an error document"), None);
    }
}
