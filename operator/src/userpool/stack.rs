//! The CloudFormation side of a UserPool: reading, creating, updating and deleting its
//! stack. Thin calls only; decisions live in [`super::decide`].

use std::collections::BTreeMap;

use aws_sdk_cloudformation::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{Capability, Parameter, Tag},
};

use super::{decide::Phase, template::content_hash};
use crate::error::{Error, Result};

/// A stack as CloudFormation reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedStack {
    pub id: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

/// Awaits a sent `request`, naming `operation` in the error of a failed call.
async fn call<T, E>(
    operation: &'static str,
    request: impl Future<Output = std::result::Result<T, SdkError<E>>>,
) -> Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    request
        .await
        .map_err(|e| Error::cloudformation(operation, e))
}

/// CloudFormation calls for one region.
#[derive(Clone)]
pub struct Stacks {
    cloudformation: Client,
}

impl Stacks {
    pub fn new(cloudformation: Client) -> Self {
        Self { cloudformation }
    }

    /// The stack named (or with the id) `stack`, or `None` when there is none.
    pub async fn describe(&self, stack: &str) -> Result<Option<ObservedStack>> {
        let response = match self
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(response) => response,
            // CloudFormation answers a missing stack with a ValidationError.
            Err(e)
                if e.code() == Some("ValidationError")
                    && e.message().is_some_and(|m| m.contains("does not exist")) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::cloudformation("DescribeStacks", e)),
        };
        let Some(stack) = response.stacks().first() else {
            return Ok(None);
        };
        let observed = ObservedStack {
            id: stack.stack_id().unwrap_or_default().to_owned(),
            status: stack
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            tags: stack
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect(),
        };
        Ok((Phase::of(&observed.status) != Phase::Deleted).then_some(observed))
    }

    /// Creates the stack and returns its id.
    pub async fn create(&self, name: &str, body: &StackBody) -> Result<String> {
        let request = self.cloudformation.create_stack().stack_name(name);
        let request = request
            .template_body(&body.template)
            .set_tags(Some(body.tags()))
            .set_parameters(Some(body.parameters()))
            .capabilities(Capability::CapabilityIam);
        let response = call("CreateStack", request.send()).await?;
        Ok(response.stack_id().unwrap_or(name).to_owned())
    }

    /// Updates the stack; `false` when CloudFormation found nothing to change.
    pub async fn update(&self, stack: &str, body: &StackBody) -> Result<bool> {
        let request = self.cloudformation.update_stack().stack_name(stack);
        match request
            .template_body(&body.template)
            .set_tags(Some(body.tags()))
            .set_parameters(Some(body.parameters()))
            // The trigger forwarder's role is an IAM resource.
            .capabilities(Capability::CapabilityIam)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.message()
                    .is_some_and(|m| m.contains("No updates are to be performed")) =>
            {
                Ok(false)
            }
            Err(e) => Err(Error::cloudformation("UpdateStack", e)),
        }
    }

    /// The [`content_hash`] of the template the stack runs now; `None` when that
    /// template is not JSON (a stack written by hand in YAML, say).
    pub async fn running_template_hash(&self, stack: &str) -> Result<Option<String>> {
        let request = self.cloudformation.get_template().stack_name(stack);
        let response = call("GetTemplate", request.send()).await?;
        Ok(response
            .template_body()
            .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
            .map(|body| content_hash(&body)))
    }

    /// Starts deleting the stack.
    pub async fn delete(&self, stack: &str) -> Result<()> {
        let request = self.cloudformation.delete_stack().stack_name(stack);
        call("DeleteStack", request.send()).await.map(drop)
    }

    /// The root cause of the stack's last failed operation: the earliest failed resource
    /// event since that operation began.
    pub async fn first_failure(&self, stack: &str) -> Result<Option<String>> {
        let request = self
            .cloudformation
            .describe_stack_events()
            .stack_name(stack);
        let response = call("DescribeStackEvents", request.send()).await?;
        // Events come newest first; the operation began at the stack's own *_IN_PROGRESS
        // event that carries a user-initiated reason or is the create.
        let mut failure = None;
        for event in response.stack_events() {
            let status = event
                .resource_status()
                .map(|s| s.as_str())
                .unwrap_or_default();
            let is_stack = event.physical_resource_id() == event.stack_id();
            if is_stack && (status == "CREATE_IN_PROGRESS" || status == "UPDATE_IN_PROGRESS") {
                break;
            }
            if status.ends_with("_FAILED")
                && let Some(reason) = event.resource_status_reason()
            {
                failure = Some(format!(
                    "{}: {reason}",
                    event.logical_resource_id().unwrap_or("stack")
                ));
            }
        }
        Ok(failure)
    }
}

/// What a create or update sends: the template, the stack's tags and its parameters.
pub struct StackBody {
    pub template: String,
    pub tags: BTreeMap<String, String>,
    /// Values of the template's (NoEcho) parameters. Not `Debug`: they are secrets.
    pub parameters: BTreeMap<String, String>,
}

impl StackBody {
    fn tags(&self) -> Vec<Tag> {
        self.tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k.as_str())
                    .parameter_value(v)
                    .build()
            })
            .collect()
    }
}
