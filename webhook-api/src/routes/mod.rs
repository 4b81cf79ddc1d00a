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
    http::StatusCode,
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

use crate::{auth::RequireToken, metrics::Outcome, policy::RoutePolicy, state::AppState};

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
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
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

async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .record_request(&route, Outcome::from_status(response.status()));
    response
}
