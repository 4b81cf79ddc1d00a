//! Acting as another user (e.g. a ServiceAccount) against the local control plane, the
//! way `kubectl --as` does: the admin client asks the API server to impersonate.

use std::path::PathBuf;

use crate::{TestNamespace, environment};

/// The Kubernetes user name of a ServiceAccount.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Writes a copy of the admin kubeconfig whose users impersonate `user` (`as:`), for
/// processes started with `KUBECONFIG` pointing at it. The API server then authorizes
/// every request as `user` (for a ServiceAccount, with its groups).
pub fn impersonating_kubeconfig(user: &str) -> PathBuf {
    let env = environment();
    let mut kubeconfig =
        kube::config::Kubeconfig::read_from(&env.kubeconfig).expect("read admin kubeconfig");
    for named in &mut kubeconfig.auth_infos {
        if let Some(auth_info) = named.auth_info.as_mut() {
            auth_info.impersonate = Some(user.to_owned());
        }
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let path = std::env::temp_dir().join(format!("kubeconfig-as-{}.json", &suffix[..8]));
    // JSON is YAML: every kubeconfig reader accepts it.
    let text = serde_json::to_string(&kubeconfig).expect("serialize kubeconfig");
    std::fs::write(&path, text).expect("write impersonating kubeconfig");
    path
}

/// A kube client that acts as `user`.
pub async fn kube_client_as(user: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(impersonating_kubeconfig(user))
        .expect("read impersonating kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("load impersonating kubeconfig");
    kube::Client::try_from(config).expect("build kube client")
}

/// A tenant of `namespace`, as a shared cluster has them: the built-in `admin` ClusterRole
/// bound in that namespace only, plus every right on the operator's kinds there, their
/// status included (the strongest tenant: a Role granting `*` on resources gives as
/// much). Returns the user name and a client acting as it.
pub async fn namespace_tenant(namespace: &TestNamespace) -> (String, kube::Client) {
    let user = format!("tenant-{}", namespace.name());
    namespace.apply(&format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: tenant-admin}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: tenant-cognito}}
rules:
- apiGroups: [cognito.kubeauth.dev]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: tenant-cognito}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant-cognito}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]
"#
    ));
    let client = kube_client_as(&user).await;
    (user, client)
}
