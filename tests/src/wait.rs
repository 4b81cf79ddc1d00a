//! Polling an object until the operator has done something to it.

use std::time::{Duration, Instant};

use k8s_openapi::serde::de::DeserializeOwned;
use kube::Api;

use crate::OperatorProcess;

/// Polls `name` in `api` until `done` holds, for at most 60 s; on timeout panics with
/// `what`, the object and the operator's log.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    operator: &OperatorProcess,
    what: &str,
    done: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(object) = api.get(name).await
            && done(&object)
        {
            return object;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {name}: {what}\nobject: {:?}\noperator log:\n{}",
            api.get(name).await.ok(),
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
