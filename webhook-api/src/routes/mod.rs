//! The HTTP surface: one small module per route, assembled by [`app`].

pub mod forward_auth;
pub mod health;
pub mod machine;
pub mod me;
pub mod signup;
pub mod triggers;
pub mod unfinished_signup;

use std::sync::Arc;

use axum::{
    Extension, Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

use crate::{
    auth::RequireToken,
    metrics::{Metrics, Outcome},
    policy::RoutePolicy,
    state::{AppState, Draining},
};

/// Request bodies (sign-up, trigger events) are small; Cognito events stay far below.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The service's public router. `/api/*` is guarded by the `RequireToken` layer, each
/// route with its own policy; `/auth` by the `Claims` extractor with its route policy.
/// `/metrics` is not here: see [`metrics_app`].
pub fn app(state: AppState) -> Router {
    let guarded =
        |policy: &RoutePolicy| RequireToken::new(Arc::clone(&state.verifier), policy.clone());
    let api = Router::<AppState>::new()
        .route("/api/me", get(me::me))
        .route_layer(guarded(&state.policies.api));
    let machine = Router::<AppState>::new()
        .route("/api/machine", get(machine::machine))
        .route_layer(guarded(&state.policies.machine));
    let forward_auth = Router::<AppState>::new()
        .route("/auth", get(forward_auth::forward_auth))
        .route_layer(Extension(Arc::new(state.policies.forward_auth.clone())));

    let mut router = Router::<AppState>::new()
        .merge(api)
        .merge(machine)
        .merge(forward_auth)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if state.signup.is_some() {
        router = router.route("/signup", post(signup::signup));
    }
    if state.trigger_secret.is_some() {
        router = router.route("/triggers", post(triggers::triggers));
    }
    if state.bench_unchecked_route {
        router = router.route("/bench/unchecked/me", get(me::unchecked_me));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            Finish {
                metrics: Arc::clone(&state.metrics),
                draining: state.draining().clone(),
            },
            finish_response,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .with_state(state)
}

/// `/metrics` alone, for a listener apart from the public port: request counts and
/// pool names are nobody's business outside the cluster's monitoring.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}

/// What [`finish_response`] needs: cloned for every request, so not the whole `AppState`.
#[derive(Clone)]
struct Finish {
    metrics: Arc<Metrics>,
    draining: Draining,
}

/// Counts and times the request by route and outcome and, once shutdown has begun,
/// closes the connection after the answer: a kept-alive connection would go on carrying
/// requests here after the pod's endpoint is gone, until the listener closes under it.
async fn finish_response(State(finish): State<Finish>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    finish.metrics.record_request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        Outcome::from_status(response.status()),
        started.elapsed(),
    );
    if finish.draining.get() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use clap::Parser;
    use tower::ServiceExt;

    use super::*;

    async fn get(state: &AppState, path: &str) -> Response {
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        app(state.clone())
            .oneshot(request)
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn draining_turns_unready_and_closes_connections() {
        let cli = crate::config::Cli::parse_from(["webhook-api"]);
        let state = AppState::new(&cli, &aws_config::SdkConfig::builder().build()).expect("state");
        let ready = get(&state, "/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK, "no pool to wait for");
        assert!(ready.headers().get(header::CONNECTION).is_none());

        state.start_draining();
        let unready = get(&state, "/readyz").await;
        assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unready.headers()[header::CONNECTION], "close");
        let body = to_bytes(unready.into_body(), 1024).await.expect("body");
        assert_eq!(body, "shutting down");
        // Still serving while draining, each answer asking for a new connection.
        let health = get(&state, "/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(health.headers()[header::CONNECTION], "close");
    }
}
