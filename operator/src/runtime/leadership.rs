//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas only
//! one reconciles.
//!
//! Every write carries the resourceVersion that was read, so of two candidates racing for a
//! free lease the API server accepts exactly one. As in client-go, a candidate judges a
//! foreign lease expired by its own clock (how long the lease has stayed unchanged), not by
//! the holder's `renewTime`, so clock skew between nodes cannot make two leaders.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use tokio::{task::JoinHandle, time::Instant};
use tokio_util::sync::{CancellationToken, DropGuard};

/// Pause after losing a write race, before reading the lease again.
const RACE_RETRY: Duration = Duration::from_millis(200);

/// Competes for one Lease under one identity.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    lease_name: String,
    identity: String,
    /// The lease duration in whole seconds, as written to the Lease.
    lease_seconds: i32,
}

impl LeaderElector {
    /// `identity` must be unique per replica (the pod name is); `lease_duration` is how long
    /// the lease stays ours without a renewal (rounded up to whole seconds, at least one).
    pub fn new(
        client: kube::Client,
        namespace: &str,
        lease_name: &str,
        identity: String,
        lease_duration: Duration,
    ) -> Self {
        let seconds = lease_duration.as_secs() + u64::from(lease_duration.subsec_nanos() > 0);
        Self {
            api: Api::namespaced(client, namespace),
            lease_name: lease_name.to_owned(),
            identity,
            lease_seconds: i32::try_from(seconds.max(1)).unwrap_or(i32::MAX),
        }
    }

    fn lease_duration(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.unsigned_abs().into())
    }

    /// Waits until this process holds the lease, then keeps renewing it in the background
    /// for as long as the returned [`Leadership`] lives.
    ///
    /// Transient API errors are retried; others (e.g. RBAC forbids Leases) are returned.
    pub async fn acquire(&self) -> Result<Leadership, kube::Error> {
        // The resourceVersion last seen and since when (our clock): a lease that stays
        // unchanged for its whole duration has a dead holder.
        let mut observed: Option<(Option<String>, Instant)> = None;
        let mut last_holder: Option<String> = None;
        loop {
            let started = Instant::now();
            match self.try_acquire(&mut observed).await {
                Ok(Attempt::Acquired(lease)) => {
                    tracing::info!(lease = %self.lease_name, identity = %self.identity, "acquired leadership");
                    return Ok(Leadership::start(self.clone(), *lease, started));
                }
                Ok(Attempt::HeldBy(holder)) => {
                    if last_holder.as_ref() != Some(&holder) {
                        tracing::info!(lease = %self.lease_name, %holder, "waiting for the leader's lease");
                        last_holder = Some(holder);
                    }
                }
                // Read the winner's lease soon, without waiting a whole round.
                Ok(Attempt::Raced) => {
                    tokio::time::sleep(RACE_RETRY).await;
                    continue;
                }
                Err(error) if is_transient(&error) => {
                    tracing::warn!(lease = %self.lease_name, %error, "acquiring the lease failed, retrying");
                }
                Err(error) => return Err(error),
            }
            tokio::time::sleep(self.lease_duration() / 3).await;
        }
    }

    async fn try_acquire(
        &self,
        observed: &mut Option<(Option<String>, Instant)>,
    ) -> Result<Attempt, kube::Error> {
        let now = Timestamp::now();
        let Some(lease) = self.api.get_opt(&self.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.lease_name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.claim(LeaseSpec::default(), now, false)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(lease) => Ok(Attempt::Acquired(Box::new(lease))),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Raced),
                Err(error) => Err(error),
            };
        };

        let version = lease.metadata.resource_version.clone();
        let unchanged_since = match observed {
            Some((seen, since)) if *seen == version => *since,
            _ => {
                let since = Instant::now();
                *observed = Some((version, since));
                since
            }
        };
        if !can_acquire(&lease, &self.identity, unchanged_since.elapsed()) {
            let holder = lease
                .spec
                .and_then(|spec| spec.holder_identity)
                .unwrap_or_default();
            return Ok(Attempt::HeldBy(holder));
        }

        let spec = lease.spec.clone().unwrap_or_default();
        let transition = spec.holder_identity.as_deref() != Some(self.identity.as_str());
        let claimed = Lease {
            metadata: lease.metadata,
            spec: Some(self.claim(spec, now, transition)),
        };
        // Carries the resourceVersion we judged by: if anyone wrote since, this fails.
        match self
            .api
            .replace(&self.lease_name, &PostParams::default(), &claimed)
            .await
        {
            Ok(lease) => Ok(Attempt::Acquired(Box::new(lease))),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Raced),
            Err(error) => Err(error),
        }
    }

    /// `spec` with us as holder, renewed `now`; `transition` when the holder changes.
    fn claim(&self, mut spec: LeaseSpec, now: Timestamp, transition: bool) -> LeaseSpec {
        if transition {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.acquire_time.get_or_insert(MicroTime(now));
        spec.lease_transitions.get_or_insert(0);
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(self.lease_seconds);
        spec.renew_time = Some(MicroTime(now));
        spec
    }

    /// Writes a renewal of `lease`.
    async fn renew(&self, lease: &Lease) -> Result<Renewal, kube::Error> {
        let mut renewed = lease.clone();
        let spec = renewed.spec.get_or_insert_with(LeaseSpec::default);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        spec.lease_duration_seconds = Some(self.lease_seconds);
        match self
            .api
            .replace(&self.lease_name, &PostParams::default(), &renewed)
            .await
        {
            Ok(lease) => Ok(Renewal::Renewed(lease)),
            // Someone else wrote the lease: still ours only if we are still the holder
            // (e.g. a label was added).
            Err(kube::Error::Api(status)) if status.code == 409 => {
                match self.api.get_opt(&self.lease_name).await? {
                    Some(current) if holder(&current) == Some(self.identity.as_str()) => {
                        Ok(Renewal::Stale(current))
                    }
                    _ => Ok(Renewal::Lost),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Keeps `lease` ours until `stop`; returns the last copy while still held, or `None`
    /// once it is lost (a renewal refused, or none accepted within the lease duration).
    async fn keep(
        &self,
        mut lease: Lease,
        mut renewed_at: Instant,
        stop: CancellationToken,
    ) -> Option<Lease> {
        let duration = self.lease_duration();
        let mut next = renewed_at + duration / 3;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Some(lease),
                () = tokio::time::sleep_until(next) => {}
            }
            // Measured from the start of the last accepted renewal, so we give up before any
            // standby (which counts from when it saw that renewal) may take over.
            let deadline = renewed_at + duration;
            let started = Instant::now();
            let result = tokio::select! {
                () = stop.cancelled() => return Some(lease),
                result = tokio::time::timeout_at(deadline, self.renew(&lease)) => result,
            };
            match result {
                Ok(Ok(Renewal::Renewed(fresh))) => {
                    lease = fresh;
                    renewed_at = started;
                    next = started + duration / 3;
                }
                // Retry at once with the fresh copy.
                Ok(Ok(Renewal::Stale(fresh))) => lease = fresh,
                Ok(Ok(Renewal::Lost)) => {
                    tracing::warn!(lease = %self.lease_name, "lease taken by another replica");
                    return None;
                }
                Ok(Err(error)) => {
                    tracing::warn!(lease = %self.lease_name, %error, "renewing the lease failed, retrying");
                    // Never sleep past the deadline: the last try there reports the loss.
                    next = (Instant::now() + duration / 6).min(deadline);
                }
                Err(_elapsed) => {
                    tracing::warn!(lease = %self.lease_name, "no renewal accepted within the lease duration");
                    return None;
                }
            }
        }
    }

    /// Clears the holder so a standby takes over without waiting for expiry.
    async fn release(&self, mut lease: Lease) {
        // Retry once on a conflict: a renewal of ours may have raced with the read.
        for _ in 0..2 {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = None;
            match self
                .api
                .replace(&self.lease_name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => {
                    tracing::info!(lease = %self.lease_name, "released leadership");
                    return;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    match self.api.get_opt(&self.lease_name).await {
                        Ok(Some(current)) if holder(&current) == Some(self.identity.as_str()) => {
                            lease = current;
                        }
                        // Someone else holds it, or it is gone: nothing left to release.
                        Ok(_) => return,
                        Err(error) => {
                            tracing::warn!(lease = %self.lease_name, %error, "releasing the lease failed; it expires by itself");
                            return;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(lease = %self.lease_name, %error, "releasing the lease failed; it expires by itself");
                    return;
                }
            }
        }
    }
}

enum Attempt {
    Acquired(Box<Lease>),
    HeldBy(String),
    /// Another candidate wrote the lease between our read and our write.
    Raced,
}

enum Renewal {
    Renewed(Lease),
    /// The lease changed but is still ours: here is the current copy.
    Stale(Lease),
    Lost,
}

/// Holding the lease. Renewal runs in a background task that stops when this is released
/// or dropped (after a drop the lease simply expires).
pub struct Leadership {
    elector: LeaderElector,
    lost: CancellationToken,
    stop: DropGuard,
    renewing: JoinHandle<Option<Lease>>,
}

impl Leadership {
    fn start(elector: LeaderElector, lease: Lease, renewed_at: Instant) -> Self {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let renewing = tokio::spawn({
            let (elector, lost, stop) = (elector.clone(), lost.clone(), stop.clone());
            async move {
                let held = elector.keep(lease, renewed_at, stop).await;
                if held.is_none() {
                    lost.cancel();
                }
                held
            }
        });
        Self {
            elector,
            lost,
            stop: stop.drop_guard(),
            renewing,
        }
    }

    /// Completes when the lease is lost; the caller should stop reconciling at once.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// Stops renewing and gives the lease up, so that a standby takes over at once.
    pub async fn release(self) {
        self.stop.disarm().cancel();
        match self.renewing.await {
            Ok(Some(lease)) => self.elector.release(lease).await,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "lease renewal task failed; the lease expires by itself");
            }
        }
    }
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// Whether `identity` may take `lease`: it has no holder, is already ours, or has stayed
/// unchanged for the holder's whole lease duration (`unchanged_for`, on our clock).
fn can_acquire(lease: &Lease, identity: &str, unchanged_for: Duration) -> bool {
    match holder(lease) {
        None | Some("") => true,
        Some(holder) if holder == identity => true,
        Some(_) => {
            // A missing or negative duration means the holder promised nothing.
            let seconds = lease
                .spec
                .as_ref()
                .and_then(|spec| spec.lease_duration_seconds)
                .and_then(|seconds| u64::try_from(seconds).ok())
                .unwrap_or(0);
            unchanged_for >= Duration::from_secs(seconds)
        }
    }
}

/// Errors worth retrying: the API server is unreachable, overloaded or failing.
fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, duration_seconds: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                lease_duration_seconds: duration_seconds,
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_free_lease_can_be_acquired() {
        let empty = Lease::default();
        assert!(can_acquire(&empty, "a", Duration::ZERO));
        assert!(can_acquire(&lease(None, Some(15)), "a", Duration::ZERO));
        assert!(can_acquire(&lease(Some(""), Some(15)), "a", Duration::ZERO));
    }

    #[test]
    fn our_own_lease_can_be_taken_back() {
        assert!(can_acquire(
            &lease(Some("a"), Some(15)),
            "a",
            Duration::ZERO
        ));
    }

    #[test]
    fn a_foreign_lease_only_after_a_whole_duration_unchanged() {
        let held = lease(Some("b"), Some(15));
        assert!(!can_acquire(&held, "a", Duration::ZERO));
        assert!(!can_acquire(&held, "a", Duration::from_secs(14)));
        assert!(can_acquire(&held, "a", Duration::from_secs(15)));
    }

    #[test]
    fn a_foreign_lease_without_a_valid_duration_is_expired() {
        assert!(can_acquire(&lease(Some("b"), None), "a", Duration::ZERO));
        assert!(can_acquire(
            &lease(Some("b"), Some(-5)),
            "a",
            Duration::ZERO
        ));
    }

    #[test]
    fn transient_errors_are_retried_others_are_not() {
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..kube::core::Status::default()
            }))
        };
        assert!(is_transient(&status(503)));
        assert!(is_transient(&status(429)));
        assert!(!is_transient(&status(403)));
    }
}
