//! Token checks in the two forms axum code uses: the `Claims` extractor (a handler
//! takes `claims: Claims`) and the `RequireToken` tower layer (guards a whole router
//! and hands the claims down in request extensions).

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, Request, header, request::Parts},
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;

use crate::{
    error::AppError,
    policy::RoutePolicy,
    token::{InvalidToken, TokenClaims},
    verifier::Verifier,
};

/// The claims of a verified token.
#[derive(Debug, Clone)]
pub struct Claims(pub Arc<TokenClaims>);

impl<S> FromRequestParts<S> for Claims
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    /// Uses the claims a `RequireToken` layer put in place, or else verifies the bearer
    /// token against the `RoutePolicy` the route carries as an extension.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims>() {
            return Ok(claims.clone());
        }
        let policy = parts
            .extensions
            .get::<Arc<RoutePolicy>>()
            .cloned()
            .ok_or_else(|| {
                AppError::Internal("route has neither RequireToken nor a RoutePolicy".into())
            })?;
        let verifier = Arc::<Verifier>::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        Ok(Self(verifier.verify(token, &policy).await?))
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, InvalidToken> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(InvalidToken::Missing)?
        .to_str()
        .map_err(|_| InvalidToken::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(InvalidToken::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(InvalidToken::Missing);
    }
    Ok(token.trim())
}

/// Tower layer that admits only requests with a token satisfying `policy`.
#[derive(Clone)]
pub struct RequireToken {
    verifier: Arc<Verifier>,
    policy: Arc<RoutePolicy>,
}

impl RequireToken {
    pub fn new(verifier: Arc<Verifier>, policy: RoutePolicy) -> Self {
        Self {
            verifier,
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower::Layer<S> for RequireToken {
    type Service = RequireTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireTokenService {
            inner,
            guard: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequireTokenService<S> {
    inner: S,
    guard: RequireToken,
}

impl<S> tower::Service<Request<Body>> for RequireTokenService<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let verified = match bearer_token(request.headers()) {
                Ok(token) => guard
                    .verifier
                    .verify(token, &guard.policy)
                    .await
                    .map_err(AppError::from),
                Err(invalid) => Err(AppError::Verify(invalid.into())),
            };
            match verified {
                Ok(claims) => {
                    request.extensions_mut().insert(Claims(claims));
                    inner.call(request).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}
