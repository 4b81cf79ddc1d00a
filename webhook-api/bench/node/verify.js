// Per-call cost of aws-jwt-verify on one CPU, without HTTP: `verifySync` of 1,000
// distinct RS256 access tokens (what the Node service does per request), and the
// RSA-2048 signature check alone the way aws-jwt-verify makes it (createVerify with a
// KeyObject parsed once from the JWK). Compare with webhook-api's
// `cargo bench -p webhook-api --bench verify`.
//   taskset -c 0 node webhook-api/bench/node/verify.js
"use strict";

const crypto = require("node:crypto");
const { CognitoJwtVerifier } = require("aws-jwt-verify");

const ROUNDS = 5;
const CALLS = 20000;
const TOKENS = 1000;
const userPoolId = "us-east-1_bench";
const clientId = "bench-client";

const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "bench", alg: "RS256", use: "sig" };
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const tokens = [];
for (let n = 0; n < TOKENS; n++) {
  const input = `${b64url({ kid: "bench", alg: "RS256" })}.${b64url({
    sub: `user-${n}`, iss: `https://cognito-idp.us-east-1.amazonaws.com/${userPoolId}`,
    client_id: clientId, token_use: "access", scope: "aws.cognito.signin.user.admin",
    auth_time: now, exp: now + 3600, iat: now, jti: crypto.randomUUID(), username: `user-${n}`,
  })}`;
  tokens.push(`${input}.${crypto.sign("RSA-SHA256", Buffer.from(input), privateKey).toString("base64url")}`);
}

const verifier = CognitoJwtVerifier.create({ userPoolId, tokenUse: "access", clientId });
verifier.cacheJwks({ keys: [jwk] });
const keyObject = crypto.createPublicKey({ key: jwk, format: "jwk" });

function measure(name, call) {
  const perCall = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) call(i % TOKENS);
    perCall.push(Number(process.hrtime.bigint() - started) / CALLS / 1000);
  }
  perCall.sort((a, b) => a - b);
  console.log(`${name}: ${perCall[Math.floor(ROUNDS / 2)].toFixed(1)} µs per call (median of ${ROUNDS} rounds)`);
}

measure("aws-jwt-verify verifySync, 1,000 distinct tokens", (i) => verifier.verifySync(tokens[i]));
const parts = tokens.map((token) => {
  const dot = token.lastIndexOf(".");
  return [token.slice(0, dot), token.slice(dot + 1)];
});
measure("RSA-2048 check alone (createVerify, KeyObject)", (i) => {
  const [input, signature] = parts[i];
  if (!crypto.createVerify("RSA-SHA256").update(input).verify({ key: keyObject }, signature, "base64")) {
    throw new Error("bad signature");
  }
});
