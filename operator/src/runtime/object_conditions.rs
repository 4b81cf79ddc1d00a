//! How many UserPools and AppUsers stand in each condition (`cognito_operator_objects`),
//! counted from a watch of their status, so that dashboards and alerts see "pools not
//! Ready" without listing objects.
//!
//! Only the condition types the operator writes (`Ready`, `Synced`) and the three
//! statuses are counted: whoever may write an object's status could invent others, and
//! labels must stay a fixed set. A missing condition counts as `Unknown`, as the API
//! conventions read it, so each object counts once per condition type.

use std::collections::HashMap;

use futures::StreamExt;
use kube::{
    Api, Resource,
    api::{ApiResource, DynamicObject},
    runtime::{WatchStreamExt, watcher},
};
use tokio_util::sync::CancellationToken;

use crate::{
    reconcile::conditions::{READY, SYNCED},
    runtime::metrics::Metrics,
};

/// The condition types counted, in the order of [`Standing`].
const TYPES: [&str; 2] = [READY, SYNCED];

const STATUSES: [&str; 3] = ["True", "False", "Unknown"];

/// The status of each of [`TYPES`] on one object.
type Standing = [&'static str; 2];

/// What an object's `status.conditions` say of each counted type.
fn standing(status: Option<&serde_json::Value>) -> Standing {
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(serde_json::Value::as_array);
    TYPES.map(|type_| {
        let found = conditions.and_then(|list| {
            list.iter()
                .find(|c| c.get("type").and_then(serde_json::Value::as_str) == Some(type_))
        });
        match found.and_then(|c| c.get("status")?.as_str()) {
            Some("True") => "True",
            Some("False") => "False",
            _ => "Unknown",
        }
    })
}

/// The objects of one kind in one watch and their standing, kept in the gauges.
struct Tally {
    kind: &'static str,
    metrics: Metrics,
    objects: HashMap<String, Standing>,
    /// Objects of a relist under way: they replace `objects` when it completes.
    relisted: Option<HashMap<String, Standing>>,
}

impl Tally {
    fn new(kind: &'static str, metrics: Metrics) -> Self {
        // Every series exists from the start, at 0: "none" reads as 0, not as no data.
        for condition in TYPES {
            for status in STATUSES {
                metrics.count_objects(kind, condition, status, 0);
            }
        }
        Self {
            kind,
            metrics,
            objects: HashMap::new(),
            relisted: None,
        }
    }

    fn add(&self, standing: Standing, sign: i64) {
        for (condition, status) in TYPES.into_iter().zip(standing) {
            self.metrics
                .count_objects(self.kind, condition, status, sign);
        }
    }

    fn apply(&mut self, event: watcher::Event<DynamicObject>) {
        match event {
            watcher::Event::Apply(object) => {
                let (key, now) = entry(&object);
                if let Some(before) = self.objects.insert(key, now) {
                    self.add(before, -1);
                }
                self.add(now, 1);
            }
            watcher::Event::Delete(object) => {
                let (key, _) = entry(&object);
                if let Some(before) = self.objects.remove(&key) {
                    self.add(before, -1);
                }
            }
            watcher::Event::Init => self.relisted = Some(HashMap::new()),
            watcher::Event::InitApply(object) => {
                let (key, now) = entry(&object);
                self.relisted.get_or_insert_default().insert(key, now);
            }
            watcher::Event::InitDone => {
                let relisted = self.relisted.take().unwrap_or_default();
                let before = std::mem::replace(&mut self.objects, relisted);
                before.into_values().for_each(|s| self.add(s, -1));
                self.objects.values().for_each(|s| self.add(*s, 1));
            }
        }
    }
}

impl Drop for Tally {
    /// Nothing counted by a watch that stopped stays in the gauges.
    fn drop(&mut self) {
        self.objects.values().for_each(|s| self.add(*s, -1));
    }
}

/// An object's key (its uid; namespace and name without one) and standing.
fn entry(object: &DynamicObject) -> (String, Standing) {
    let meta = &object.metadata;
    let key = meta.uid.clone().unwrap_or_else(|| {
        format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        )
    });
    (key, standing(object.data.get("status")))
}

/// Counts the objects of kind `K` in `namespace` (all: `None`) until `shutdown`.
async fn count<K: Resource<DynamicType = ()>>(
    client: kube::Client,
    metrics: Metrics,
    kind: &'static str,
    namespace: Option<&str>,
    shutdown: CancellationToken,
) {
    // Untyped: only status.conditions is read, and an object the typed client could not
    // parse must still count.
    let resource = ApiResource::erase::<K>(&());
    let api = match namespace {
        Some(ns) => Api::<DynamicObject>::namespaced_with(client, ns, &resource),
        None => Api::<DynamicObject>::all_with(client, &resource),
    };
    let mut tally = Tally::new(kind, metrics);
    let events = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .take_until(shutdown.cancelled_owned());
    futures::pin_mut!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => tally.apply(event),
            Err(error) => tracing::warn!(kind, %error, "watching objects to count conditions"),
        }
    }
}

/// Counts UserPools and AppUsers by condition in `namespace` (all: `None`) until
/// `shutdown`.
pub async fn run(
    client: kube::Client,
    metrics: Metrics,
    namespace: Option<&str>,
    shutdown: CancellationToken,
) {
    tokio::join!(
        count::<cognito_crds::UserPool>(
            client.clone(),
            metrics.clone(),
            "UserPool",
            namespace,
            shutdown.clone()
        ),
        count::<cognito_crds::AppUser>(client, metrics, "AppUser", namespace, shutdown),
    );
}

#[cfg(test)]
mod tests {
    use prometheus_client::{encoding::text::encode, registry::Registry};
    use serde_json::json;

    use super::*;

    fn pool(uid: &str, conditions: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "UserPool",
            "metadata": {"name": uid, "namespace": "shop", "uid": uid},
            "spec": {},
            "status": {"conditions": conditions},
        }))
        .expect("a UserPool")
    }

    fn ready(status: &str) -> serde_json::Value {
        json!([{"type": "Ready", "status": status}, {"type": "Synced", "status": "True"}])
    }

    /// The gauge of UserPools whose `condition` has `status`.
    fn gauge(registry: &Registry, condition: &str, status: &str) -> i64 {
        let mut text = String::new();
        encode(&mut text, registry).expect("encode");
        let series = format!(
            r#"cognito_operator_objects{{kind="UserPool",condition="{condition}",status="{status}"}} "#
        );
        let line = text.lines().find_map(|l| l.strip_prefix(series.as_str()));
        line.unwrap_or_else(|| panic!("no {series} in {text}"))
            .parse()
            .expect("a number")
    }

    #[test]
    fn conditions_the_operator_does_not_write_count_as_unknown() {
        let status = json!({"conditions": [
            {"type": "Ready", "status": "Maybe"},
            {"type": "Invented", "status": "True"},
        ]});
        assert_eq!(standing(Some(&status)), ["Unknown", "Unknown"]);
        assert_eq!(standing(None), ["Unknown", "Unknown"]);
        let ok = json!({"conditions": ready("False")});
        assert_eq!(standing(Some(&ok)), ["False", "True"]);
    }

    #[test]
    fn changes_move_an_object_between_series() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let mut tally = Tally::new("UserPool", metrics);
        assert_eq!(
            gauge(&registry, "Ready", "False"),
            0,
            "present from the start"
        );

        tally.apply(watcher::Event::Apply(pool("a", ready("False"))));
        tally.apply(watcher::Event::Apply(pool("b", ready("False"))));
        assert_eq!(gauge(&registry, "Ready", "False"), 2);

        tally.apply(watcher::Event::Apply(pool("a", ready("True"))));
        assert_eq!(gauge(&registry, "Ready", "False"), 1);
        assert_eq!(gauge(&registry, "Ready", "True"), 1);
        assert_eq!(gauge(&registry, "Synced", "True"), 2);

        tally.apply(watcher::Event::Delete(pool("b", ready("False"))));
        assert_eq!(gauge(&registry, "Ready", "False"), 0);
        assert_eq!(gauge(&registry, "Synced", "True"), 1);
    }

    #[test]
    fn a_relist_replaces_what_was_counted() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let mut tally = Tally::new("UserPool", metrics);
        tally.apply(watcher::Event::Apply(pool("gone", ready("False"))));
        tally.apply(watcher::Event::Apply(pool("kept", ready("False"))));

        // "gone" was deleted while the watch was down; "kept" became Ready.
        tally.apply(watcher::Event::Init);
        tally.apply(watcher::Event::InitApply(pool("kept", ready("True"))));
        assert_eq!(
            gauge(&registry, "Ready", "False"),
            2,
            "until the relist ends"
        );
        tally.apply(watcher::Event::InitDone);
        assert_eq!(gauge(&registry, "Ready", "False"), 0);
        assert_eq!(gauge(&registry, "Ready", "True"), 1);

        drop(tally);
        assert_eq!(
            gauge(&registry, "Ready", "True"),
            0,
            "a stopped watch counts none"
        );
    }
}
