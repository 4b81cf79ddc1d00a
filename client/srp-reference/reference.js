// Reference SRP for cognito-client's tests (client/tests/srp_reference.rs). Reads a JSON
// array of vectors on stdin and drives amazon-cognito-identity-js's own USER_SRP_AUTH flow
// (CognitoUser with a fake transport) for each, so the library computes A, u, the HKDF
// key, the timestamp and the PASSWORD_CLAIM_SIGNATURE as browsers and Amplify do. Prints
// a JSON array. Dependencies: tests/env/install-srp-reference.sh (NODE_PATH).
//
// Vector: {poolId, clientId, username, userIdForSrp, password, smallA (hex), salt (hex),
//          srpB (hex), secretBlock (base64), unixMillis}
'use strict';

const {
  AuthenticationDetails,
  AuthenticationHelper,
  CognitoUser,
  CognitoUserPool,
} = require('amazon-cognito-identity-js');
// The library's own big integers (jsbn), which index.js does not export.
const BigInteger = require('amazon-cognito-identity-js/lib/BigInteger').default;

// Fixed inputs go in by patching the two sources of non-determinism: the random a and the clock.
let fixedSmallA;
AuthenticationHelper.prototype.generateRandomSmallA = function () {
  return new BigInteger(fixedSmallA, 16);
};
const RealDate = Date;
let fixedMillis;
global.Date = class extends RealDate {
  constructor(...args) {
    super(...(args.length ? args : [fixedMillis]));
  }
};

// Keep what the helper computes on the way (u and the HKDF key) for the report.
let captured = {};
const keyOriginal = AuthenticationHelper.prototype.getPasswordAuthenticationKey;
AuthenticationHelper.prototype.getPasswordAuthenticationKey = function (user, password, b, salt, cb) {
  return keyOriginal.call(this, user, password, b, salt, (err, hkdf) => {
    captured.u = this.UValue.toString(16);
    captured.hkdf = Buffer.from(hkdf).toString('hex');
    cb(err, hkdf);
  });
};

function run(vector) {
  return new Promise((resolve, reject) => {
    fixedSmallA = vector.smallA;
    fixedMillis = vector.unixMillis;
    captured = {};
    const pool = new CognitoUserPool({ UserPoolId: vector.poolId, ClientId: vector.clientId });
    const user = new CognitoUser({ Username: vector.username, Pool: pool });
    user.setAuthenticationFlowType('USER_SRP_AUTH');
    user.client = {
      request(operation, params, callback) {
        if (operation === 'InitiateAuth') {
          captured.srpA = params.AuthParameters.SRP_A;
          return callback(null, {
            ChallengeName: 'PASSWORD_VERIFIER',
            Session: 'session',
            ChallengeParameters: {
              SALT: vector.salt,
              SRP_B: vector.srpB,
              SECRET_BLOCK: vector.secretBlock,
              USER_ID_FOR_SRP: vector.userIdForSrp,
              USERNAME: vector.userIdForSrp,
            },
          });
        }
        if (operation === 'RespondToAuthChallenge') {
          const responses = params.ChallengeResponses;
          return resolve({
            ...captured,
            username: responses.USERNAME,
            timestamp: responses.TIMESTAMP,
            signature: responses.PASSWORD_CLAIM_SIGNATURE,
          });
        }
        return reject(new Error(`unexpected operation ${operation}`));
      },
    };
    const details = new AuthenticationDetails({ Username: vector.username, Password: vector.password });
    user.authenticateUser(details, { onSuccess: () => {}, onFailure: reject });
  });
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const results = [];
  for (const vector of JSON.parse(input)) results.push(await run(vector));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
