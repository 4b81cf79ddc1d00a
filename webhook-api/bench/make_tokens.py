"""Creates a pool, a client and USERS users in the emulator, signs each in, and writes
the access tokens (one per line), the pool id, the client id and the pool's JWKS."""

import json
import os
import sys
import urllib.request
import uuid

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL"]
out = sys.argv[1]
users = int(os.environ.get("USERS", "1000"))
password = "Bench-Password-9"

cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
pool_id = cognito.create_user_pool(PoolName=f"bench-{uuid.uuid4().hex[:8]}",
                                   UsernameAttributes=["email"])["UserPool"]["Id"]
client_id = cognito.create_user_pool_client(
    UserPoolId=pool_id, ClientName="bench",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]

tokens = []
for n in range(users):
    email = f"bench-{n}@example.com"
    cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                              TemporaryPassword=password)
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password,
                                    Permanent=True)
    auth = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": email, "PASSWORD": password})
    tokens.append(auth["AuthenticationResult"]["AccessToken"])

with open(os.path.join(out, "tokens.txt"), "w") as f:
    f.write("\n".join(tokens) + "\n")
with open(os.path.join(out, "pool.env"), "w") as f:
    f.write(f"USER_POOL_ID={pool_id}\nCLIENT_ID={client_id}\n")
with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json") as response:
    with open(os.path.join(out, "jwks.json"), "wb") as f:
        f.write(response.read())
