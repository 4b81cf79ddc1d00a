//! Waiting on observable conditions, never on the clock: every wait polls a condition
//! (an object's status, an AWS read, a metric, a log line) and fails the test with what
//! it waited for once a deadline passes.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use k8s_openapi::serde::de::DeserializeOwned;
use kube::Api;

/// How long the operator, the emulator or a service may take to do something.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two checks of a condition.
const POLL: Duration = Duration::from_millis(250);

/// Polls `check` until it returns `Some`, for at most `timeout`; returns that value or
/// panics naming `what`. (An [`crate::OperatorProcess`] shows its log when a test fails.)
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it holds, for at most [`TIMEOUT`].
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll(what, TIMEOUT, || {
        let checked = check();
        async move { checked.await.then_some(()) }
    })
    .await;
}

/// Polls `name` in `api` until `done` holds, for at most [`TIMEOUT`]; returns the object.
/// On timeout the message shows the object as it was last read.
pub async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, done: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut last = None;
    let found = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(object) = api.get(name).await {
                if done(&object) {
                    return object;
                }
                last = Some(object);
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!("timed out after {TIMEOUT:?} waiting for {name}: {what}\nlast seen: {last:#?}")
    })
}

/// Polls until `name` no longer exists in `api` (its finalizers are done).
pub async fn wait_for_deletion<K>(api: &Api<K>, name: &str, what: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    until(what, || async {
        matches!(api.get_opt(name).await, Ok(None))
    })
    .await;
}
