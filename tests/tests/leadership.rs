//! Leader election on a real API server: of two candidates exactly one holds the Lease, a
//! release hands it to the other at once, and a holder whose Lease is taken learns it.

use std::time::Duration;

use cognito_operator::runtime::leadership::{LeaderElector, Leadership};
use cognito_operator_tests::{TestNamespace, kube_client, wait};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api,
    api::{Patch, PatchParams},
};

const LEASE: &str = "cognito-operator";
/// Short, so that the test sees several renewals; the standby polls every third of it.
const DURATION: Duration = Duration::from_secs(3);

type Candidate = tokio::task::JoinHandle<(&'static str, Result<Leadership, kube::Error>)>;

fn candidate(client: kube::Client, namespace: &str, identity: &'static str) -> Candidate {
    let elector = LeaderElector::new(client, namespace, LEASE, identity.to_owned(), DURATION);
    tokio::spawn(async move { (identity, elector.acquire().await) })
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

#[tokio::test]
async fn one_leader_at_a_time_and_release_hands_over() {
    let namespace = TestNamespace::create("leader");
    let client = kube_client().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace.name());

    let mut a = candidate(client.clone(), namespace.name(), "replica-a");
    let mut b = candidate(client.clone(), namespace.name(), "replica-b");
    let ((leader, leadership), standby) = tokio::select! {
        joined = &mut a => (joined.expect("candidate a panicked"), b),
        joined = &mut b => (joined.expect("candidate b panicked"), a),
    };
    let leadership = leadership.expect("the first candidate acquires the free lease");

    // The leader keeps renewing: its renewals span two lease durations (an unrenewed
    // lease would have expired twice over), and all along the standby keeps waiting.
    let renewed_at = |lease: &Lease| {
        let renew_time = lease.spec.as_ref().and_then(|s| s.renew_time.as_ref());
        renew_time.expect("renewTime").0.as_millisecond()
    };
    let first = renewed_at(&leases.get(LEASE).await.expect("read lease"));
    let span = i64::try_from((DURATION * 2).as_millis()).expect("milliseconds");
    wait::poll(
        "renewals over two lease durations",
        DURATION * 4,
        || async {
            let lease = leases.get(LEASE).await.ok()?;
            (renewed_at(&lease) - first >= span).then_some(())
        },
    )
    .await;
    assert!(
        !standby.is_finished(),
        "the standby acquired a lease that is held and renewed"
    );
    let lease = leases.get(LEASE).await.expect("read lease");
    assert_eq!(holder(&lease), Some(leader));
    tokio::select! {
        biased;
        () = leadership.lost() => panic!("the leader lost a lease nobody took"),
        () = tokio::time::sleep(Duration::ZERO) => {}
    }

    // A release hands over within one polling round, not a whole lease duration.
    leadership.release().await;
    let (successor, leadership) = tokio::time::timeout(DURATION, standby)
        .await
        .expect("the standby takes over at once after a release")
        .expect("candidate panicked");
    let leadership = leadership.expect("the standby acquires the released lease");
    assert_ne!(successor, leader);
    let lease = leases.get(LEASE).await.expect("read lease");
    assert_eq!(holder(&lease), Some(successor));
    assert_eq!(
        lease.spec.as_ref().and_then(|spec| spec.lease_transitions),
        Some(1)
    );

    // Someone else taking the lease is noticed at the next renewal.
    let taken = serde_json::json!({ "spec": { "holderIdentity": "intruder" } });
    leases
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&taken))
        .await
        .expect("take the lease");
    tokio::time::timeout(DURATION, leadership.lost())
        .await
        .expect("the leader notices that its lease was taken");
}

#[tokio::test]
async fn a_dead_leaders_lease_is_taken_after_it_expires() {
    let namespace = TestNamespace::create("leader-expiry");
    let client = kube_client().await;

    let (_, leadership) = candidate(client.clone(), namespace.name(), "replica-a")
        .await
        .expect("candidate panicked");
    // Dropping stops the renewals without a release, as a crash would.
    drop(leadership.expect("the only candidate acquires the lease"));

    let started = tokio::time::Instant::now();
    let (_, successor) = tokio::time::timeout(
        DURATION * 3,
        candidate(client, namespace.name(), "replica-b"),
    )
    .await
    .expect("the standby takes over once the lease expired")
    .expect("candidate panicked");
    successor.expect("the standby acquires the expired lease");
    // The standby cannot know when the last renewal was; it waits a whole duration.
    assert!(
        started.elapsed() >= DURATION,
        "took over before the lease expired"
    );
}
