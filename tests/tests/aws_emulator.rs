//! The AWS emulator as the operator will use it: the Rust SDK creates a CloudFormation
//! stack holding a Cognito pool and client, and the pool is then real in Cognito.

use std::time::Duration;

use aws_sdk_cloudformation::types::StackStatus;
use cognito_operator_tests::aws_config;

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
    let config = aws_config().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let stack_name = format!("harness-{}", std::process::id());

    cloudformation
        .create_stack()
        .stack_name(&stack_name)
        .template_body(TEMPLATE)
        .send()
        .await
        .expect("CreateStack");

    let mut stack = None;
    for _ in 0..60 {
        let described = cloudformation
            .describe_stacks()
            .stack_name(&stack_name)
            .send()
            .await
            .expect("DescribeStacks");
        let current = described.stacks().first().cloned().expect("stack listed");
        if current.stack_status() == Some(&StackStatus::CreateComplete) {
            stack = Some(current);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stack = stack.expect("stack reaches CREATE_COMPLETE");
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

    let pool = cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("DescribeUserPool");
    let pool = pool.user_pool().expect("pool");
    assert_eq!(pool.name(), Some("harness-pool"));
    let policy = pool
        .policies()
        .and_then(|p| p.password_policy())
        .expect("password policy");
    assert_eq!(policy.minimum_length(), Some(10));

    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(output("ClientId"))
        .send()
        .await
        .expect("DescribeUserPoolClient");
    assert_eq!(
        client.user_pool_client().and_then(|c| c.client_name()),
        Some("harness-client")
    );

    cloudformation
        .delete_stack()
        .stack_name(&stack_name)
        .send()
        .await
        .expect("DeleteStack");
    let retained = cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await;
    assert!(retained.is_ok(), "DeletionPolicy Retain keeps the pool");
}
