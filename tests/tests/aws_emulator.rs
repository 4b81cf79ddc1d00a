//! The AWS emulator as the operator will use it: the Rust SDK creates a CloudFormation
//! stack holding a Cognito pool and client, and the pool is then real in Cognito.

use aws_sdk_cloudformation::types::StackStatus;
use cognito_operator_tests::{EmulatorPool, cloudformation, describe_stack, wait};

const TEMPLATE: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "UserPool": {
      "Type": "AWS::Cognito::UserPool",
      "DeletionPolicy": "Retain",
      "Properties": {
        "UserPoolName": "harness-pool",
        "UsernameAttributes": ["email"],
        "Policies": {"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": false}}
      }
    },
    "AppClient": {
      "Type": "AWS::Cognito::UserPoolClient",
      "Properties": {
        "UserPoolId": {"Ref": "UserPool"},
        "ClientName": "harness-client",
        "GenerateSecret": false,
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
      }
    }
  },
  "Outputs": {
    "UserPoolId": {"Value": {"Ref": "UserPool"}},
    "ProviderURL": {"Value": {"Fn::GetAtt": ["UserPool", "ProviderURL"]}},
    "ClientId": {"Value": {"Ref": "AppClient"}}
  }
}"#;

#[tokio::test]
async fn cloudformation_stack_creates_a_cognito_pool_and_client() {
    let cloudformation = cloudformation().await;
    let stack_name = format!("harness-{}", std::process::id());

    cloudformation
        .create_stack()
        .stack_name(&stack_name)
        .template_body(TEMPLATE)
        .send()
        .await
        .expect("CreateStack");

    let stack = wait::poll("the stack CREATE_COMPLETE", wait::TIMEOUT, || async {
        describe_stack(&stack_name)
            .await
            .filter(|s| s.stack_status() == Some(&StackStatus::CreateComplete))
    })
    .await;
    let output = |key: &str| {
        stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap_or_else(|| panic!("output {key}"))
            .to_owned()
    };
    let pool_id = output("UserPoolId");
    assert_eq!(
        output("ProviderURL"),
        format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}")
    );

    let pool = EmulatorPool::of(&pool_id, &output("ClientId")).await;
    let described = pool.describe().await.expect("DescribeUserPool");
    assert_eq!(described.name(), Some("harness-pool"));
    let policy = described
        .policies()
        .and_then(|p| p.password_policy())
        .expect("password policy");
    assert_eq!(policy.minimum_length(), Some(10));

    let client = pool.client(&pool.client_id).await;
    assert_eq!(
        client.as_ref().and_then(|c| c.client_name()),
        Some("harness-client")
    );

    cloudformation
        .delete_stack()
        .stack_name(&stack_name)
        .send()
        .await
        .expect("DeleteStack");
    assert!(
        pool.describe().await.is_some(),
        "DeletionPolicy Retain keeps the pool"
    );
}
