// GET /api/me guarded by aws-jwt-verify, the way a Node service would do it; the
// benchmark's comparison point. The JWKS is preloaded with cacheJwks() because the
// tokens' issuer is the real https://cognito-idp... form while the keys live in the
// emulator. One worker per CPU (NODE_WORKERS), like the Rust server's thread pool.
"use strict";

const cluster = require("node:cluster");
const fs = require("node:fs");
const os = require("node:os");

const workers = Number(process.env.NODE_WORKERS || os.availableParallelism());

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const fastify = require("fastify")({ logger: false });
  const { CognitoJwtVerifier } = require("aws-jwt-verify");

  const verifier = CognitoJwtVerifier.create({
    userPoolId: process.env.USER_POOL_ID,
    tokenUse: "access",
    clientId: process.env.CLIENT_ID,
  });
  verifier.cacheJwks(JSON.parse(fs.readFileSync(process.env.JWKS_FILE, "utf8")));

  fastify.get("/api/me", async (request, reply) => {
    const header = request.headers.authorization || "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : "";
    try {
      const claims = await verifier.verify(token);
      return {
        sub: claims.sub,
        username: claims.username,
        email: claims.email ?? null,
        groups: claims["cognito:groups"] ?? [],
        token_use: claims.token_use,
      };
    } catch {
      reply.code(401).header("www-authenticate", 'Bearer error="invalid_token"');
      return { error: "invalid_token" };
    }
  });

  fastify.listen({ host: "127.0.0.1", port: Number(process.env.PORT || 8091) });
}
