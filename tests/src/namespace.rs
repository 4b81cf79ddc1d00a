//! One fresh, labelled namespace per test.

use crate::{KubectlOutput, kubectl, kubectl_with_stdin};

/// Label put on every namespace the harness creates, so leftovers are easy to find.
pub const TEST_LABEL: &str = "cognito.kubeauth.dev/e2e";

/// A namespace that exists for one test and is deleted (without waiting) when dropped.
pub struct TestNamespace {
    name: String,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<random>`.
    pub fn create(prefix: &str) -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("e2e-{prefix}-{}", &suffix[..8]);
        kubectl(&["create", "namespace", &name])
            .run()
            .expect_success("create namespace");
        kubectl(&["label", "namespace", &name, &format!("{TEST_LABEL}=true")])
            .run()
            .expect_success("label namespace");
        Self { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `kubectl apply` of `manifest` into this namespace; panics with kubectl's output if
    /// it fails.
    pub fn apply(&self, manifest: &str) {
        self.try_apply(manifest).expect_success("apply");
    }

    /// `kubectl --as user apply` of `manifest` into this namespace: what a tenant does.
    pub fn apply_as(&self, user: &str, manifest: &str) {
        let args = ["--as", user, "apply", "-n", &self.name, "-f", "-"];
        kubectl_with_stdin(&args, manifest)
            .run()
            .expect_success("apply as another user");
    }

    /// `kubectl apply` of `manifest` into this namespace, for tests of refusals.
    pub fn try_apply(&self, manifest: &str) -> KubectlOutput {
        kubectl_with_stdin(&["apply", "-n", &self.name, "-f", "-"], manifest).run()
    }

    /// `kubectl delete` of `kind`/`name`, waiting up to a minute for its finalizers.
    pub fn delete(&self, kind: &str, name: &str) {
        kubectl(&["delete", "-n", &self.name, kind, name, "--timeout=60s"])
            .run()
            .expect_success("delete");
    }

    /// `kubectl annotate --overwrite` of `kind`/`name` with `key=value`.
    pub fn annotate(&self, kind: &str, name: &str, key: &str, value: &str) {
        kubectl(&["annotate", "--overwrite", "-n", &self.name, kind, name])
            .arg(format!("{key}={value}"))
            .run()
            .expect_success("annotate");
    }

    /// Asks the operator to check `kind`/`name` against AWS now: the annotation
    /// `cognito.kubeauth.dev/reconcile-requested-at` set to `value`, which the operator
    /// reports in `status.lastHandledReconcileAt` once handled.
    pub fn request_reconcile(&self, kind: &str, name: &str, value: &str) {
        self.annotate(
            kind,
            name,
            cognito_crds::RECONCILE_REQUEST_ANNOTATION,
            value,
        );
    }

    /// The namespace's Events: reason, note and message, one line each.
    pub fn events(&self) -> String {
        kubectl(&[
            "get",
            "events",
            "-n",
            &self.name,
            "-o",
            "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
        ])
        .run()
        .expect_success("get events")
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Best effort: the namespace controller removes the contents in the background.
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"]).run();
    }
}
