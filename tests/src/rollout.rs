//! Fault and scale runs of the AppUser controller: many AppUsers applied at once to one
//! operator-made pool ([`Rollout`]), the emulator's fault injection and per-key call
//! counters ([`EmulatorFaults`], [`CallCounts`]), censuses as the emulator sees them
//! ([`watch_censuses`]), and the figures a run reports ([`report`]).
//!
//! Every rollout's operator signs its AWS calls with an access key of its own, so the
//! faults it meets and the calls counted are its own, whatever other tests do meanwhile.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    io::Write as _,
    ops::Range,
    str::FromStr,
    time::{Duration, Instant},
};

use cognito_crds::AppUser;
use futures::{StreamExt, stream};
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::{
    EmulatorPool, OperatorNamespace, environment,
    environment::{REGION, cache_dir},
    kubectl_with_stdin,
    objects::{is_ready, password_secret_manifest},
    unique,
};

/// The UserPool every rollout's AppUsers belong to.
pub const POOL: &str = "pool";
/// Its spec: the two groups AppUsers join, and a client that allows password sign-in.
const POOL_SPEC: &str = "  deletionPolicy: Delete\n  groups: [{name: staff}, {name: admins}]\n  clients: [{name: app, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}]\n";
/// The groups of [`POOL_SPEC`].
pub const GROUPS: [&str; 2] = ["staff", "admins"];
/// At most this many users are signed in by [`Rollout::assert_converged`] (a sample,
/// evenly spread, above it).
const SIGN_IN_SAMPLE: usize = 1000;

/// Cognito operations that change a user: what a rollout's write count counts.
pub const USER_WRITES: [&str; 9] = [
    "AdminCreateUser",
    "AdminSetUserPassword",
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "AdminEnableUser",
    "AdminDisableUser",
    "AdminAddUserToGroup",
    "AdminRemoveUserFromGroup",
    "AdminDeleteUser",
];

/// `$name` parsed, else `default`: test sizes and durations (CI defaults in the tests,
/// long runs set them, see tests/scale/run.sh).
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

/// Prints `REPORT <figure> k=v ...` and appends it to `.cache/scale/report.txt`.
pub fn report(figure: &str, fields: &[(&str, String)]) {
    let mut line = format!("REPORT {figure}");
    for (key, value) in fields {
        let _ = write!(line, " {key}={value}");
    }
    // On a line of its own, whatever libtest printed before it.
    println!("\n{line}");
    let dir = cache_dir().join("scale");
    let appended = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("report.txt"))
            .and_then(|mut file| writeln!(file, "{line}"))
    });
    if let Err(error) = appended {
        eprintln!("could not append to {}: {error}", dir.display());
    }
}

/// A small deterministic generator (splitmix64) for the moments of chaos; its seed is
/// reported so a run can be repeated (`CHAOS_SEED`).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// `$CHAOS_SEED`, else a random seed.
    pub fn seed_from_env() -> u64 {
        env_or("CHAOS_SEED", uuid::Uuid::new_v4().as_u64_pair().0)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `range` (which must not be empty).
    pub fn within(&mut self, range: Range<u64>) -> u64 {
        range.start + self.next_u64() % (range.end - range.start)
    }
}

/// One AppUser of a rollout, with its Secret (named like it) and groups.
#[derive(Debug, Clone)]
pub struct PlannedUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub groups: Vec<&'static str>,
}

/// `n` users: every third in staff and admins, every third in staff, the rest in none.
pub fn plan(n: usize) -> Vec<PlannedUser> {
    (0..n)
        .map(|i| PlannedUser {
            name: format!("u-{i:06}"),
            email: format!("u-{i:06}@rollout.example"),
            password: format!("Rollout-{i:06}-Pw!"),
            groups: match i % 3 {
                0 => vec!["staff", "admins"],
                1 => vec!["staff"],
                _ => vec![],
            },
        })
        .collect()
}

impl PlannedUser {
    /// The AppUser's manifest; `Retain`, so that deleting the namespace at the end costs
    /// no Cognito call (the pool goes with its stack).
    fn manifest(&self) -> String {
        let groups = self.groups.join(", ");
        format!(
            "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: AppUser\nmetadata: {{name: {}}}\nspec:\n  userPoolRef: {{name: {POOL}}}\n  email: {}\n  passwordSecretRef: {{name: {}}}\n  deletionPolicy: Retain\n  groups: [{groups}]\n",
            self.name, self.email, self.name
        )
    }
}

/// N AppUsers of one pool and the operator that rolls them out, in a namespace of their
/// own. The operator signs with the access key [`Rollout::key`], which [`Self::faults`]
/// injects faults for and counts the calls of.
pub struct Rollout {
    pub t: OperatorNamespace,
    pub pool: EmulatorPool,
    pub users: Vec<PlannedUser>,
    pub faults: EmulatorFaults,
    operator_env: Vec<(String, String)>,
}

impl Rollout {
    /// A namespace `e2e-<prefix>-…`, its operator (with `extra_env` and an access key of
    /// its own) and the Ready UserPool [`POOL`]; `n` users planned, none applied yet.
    pub async fn start(prefix: &str, n: usize, extra_env: &[(&str, &str)]) -> Self {
        let key = unique(prefix);
        let mut operator_env: Vec<(String, String)> = vec![
            ("AWS_ACCESS_KEY_ID".into(), key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        operator_env.extend(extra_env.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        let env: Vec<(&str, &str)> = operator_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (t, pool) = OperatorNamespace::start_with_pool(prefix, &env, POOL, POOL_SPEC).await;
        Self {
            t,
            pool,
            users: plan(n),
            faults: EmulatorFaults::for_key(&key),
            operator_env,
        }
    }

    /// The access key the operator signs with.
    pub fn key(&self) -> &str {
        &self.faults.key
    }

    /// Kills the operator (SIGKILL, as a crash) and starts a new one with the same
    /// settings.
    pub fn restart_operator(&mut self) {
        let env: Vec<(&str, &str)> = self
            .operator_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.t.restart_operator(&env);
    }

    /// Applies every planned user: [`Self::apply_range`] of all.
    pub fn apply(&self) {
        self.apply_range(0..self.users.len());
    }

    /// Applies the Secrets, then the AppUsers, of the planned users in `range`: each as
    /// multi-document YAML on the stdin of `kubectl apply --server-side`, split among a
    /// few kubectl processes at once (one kubectl makes one request per object).
    pub fn apply_range(&self, range: Range<usize>) {
        let users = &self.users[range];
        let secrets: Vec<String> = users
            .iter()
            .map(|u| password_secret_manifest(&u.name, &u.password))
            .collect();
        let app_users: Vec<String> = users.iter().map(PlannedUser::manifest).collect();
        self.apply_documents(&secrets);
        self.apply_documents(&app_users);
    }

    fn apply_documents(&self, documents: &[String]) {
        if documents.is_empty() {
            return;
        }
        let processes = documents.len().div_ceil(50).min(4);
        let per_process = documents.len().div_ceil(processes);
        let namespace = self.t.name();
        std::thread::scope(|scope| {
            let applies: Vec<_> = documents
                .chunks(per_process)
                .map(|chunk| {
                    let yaml = chunk.join("---\n");
                    scope.spawn(move || {
                        let args = ["apply", "--server-side", "-n", namespace, "-f", "-"];
                        kubectl_with_stdin(&args, &yaml)
                            .run()
                            .expect_success("apply a rollout");
                    })
                })
                .collect();
            for apply in applies {
                apply.join().expect("a kubectl apply thread panicked");
            }
        });
    }

    /// The AppUsers as the API server has them now; `None` while it does not answer.
    pub async fn app_users(&self) -> Option<Vec<AppUser>> {
        let listed = self.t.users.list(&ListParams::default()).await.ok()?;
        Some(listed.items)
    }

    /// How many AppUsers are Ready and Synced; `None` while the API server does not answer.
    pub async fn ready_count(&self) -> Option<usize> {
        let users = self.app_users().await?;
        Some(users.iter().filter(|u| is_ready(*u)).count())
    }

    /// How long a poll of all AppUsers should wait before the next: listing 10,000 of
    /// them is itself work for the API server.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(500).max(Duration::from_millis(self.users.len() as u64 / 2))
    }

    /// A bound on a rollout of these users without faults: a user takes about 3 writes,
    /// the operator's default rates allow 25 updates a second, and a busy machine (10,000
    /// users rolled out at 8 a second while others built) slows the emulator down.
    pub fn rollout_timeout(&self) -> Duration {
        Duration::from_secs(120) + Duration::from_millis(self.users.len() as u64 * 200)
    }

    /// Waits until at least `count` AppUsers are Ready, for at most `timeout`.
    pub async fn wait_ready_count(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(ready) = self.ready_count().await {
                if ready >= count {
                    return;
                }
                last = Some(ready);
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {count} of {} AppUsers Ready (last seen: {last:?})",
                self.users.len()
            );
            tokio::time::sleep(self.poll_interval()).await;
        }
    }

    /// Waits until every planned AppUser is Ready, for at most `timeout`.
    pub async fn wait_all_ready(&self, timeout: Duration) {
        self.wait_ready_count(self.users.len(), timeout).await;
    }

    /// Group memberships the planned users declare.
    pub fn memberships(&self) -> u64 {
        self.users.iter().map(|u| u.groups.len() as u64).sum()
    }

    /// User writes of a rollout without faults or restarts: AdminCreateUser and
    /// AdminSetUserPassword per user, AdminAddUserToGroup per membership.
    pub fn clean_writes(&self) -> u64 {
        2 * self.users.len() as u64 + self.memberships()
    }

    /// The end state, checked against Cognito: every AppUser Ready; exactly one Cognito
    /// user per AppUser (its `sub` the one the AppUser reports), no other user, each
    /// CONFIRMED and enabled, in exactly its declared groups; each (or an evenly spread
    /// sample of [`SIGN_IN_SAMPLE`]) signs in with its Secret's password.
    pub async fn assert_converged(&self) {
        self.assert_converged_among(&BTreeSet::new()).await;
    }

    /// [`Self::assert_converged`] in a pool that also holds the users `unmanaged` (user
    /// names), which are left out of every check but the count.
    pub async fn assert_converged_among(&self, unmanaged: &BTreeSet<String>) {
        let app_users = self.app_users().await.expect("list AppUsers");
        assert_eq!(
            app_users.len(),
            self.users.len(),
            "one AppUser per planned user"
        );
        let not_ready: Vec<_> = app_users
            .iter()
            .filter(|u| !is_ready(*u))
            .filter_map(|u| u.metadata.name.clone())
            .collect();
        assert!(not_ready.is_empty(), "AppUsers not Ready: {not_ready:?}");
        let sub_of: HashMap<&str, &str> = app_users
            .iter()
            .filter_map(|u| {
                let status = u.status.as_ref()?;
                Some((u.spec.email.as_str(), status.sub.as_deref()?))
            })
            .collect();

        let cognito_users = self.pool.all_users().await;
        let mut by_email: BTreeMap<String, Vec<&aws_sdk_cognitoidentityprovider::types::UserType>> =
            BTreeMap::new();
        let mut email_of_username = HashMap::new();
        for user in &cognito_users {
            let username = user.username().unwrap_or_default();
            if unmanaged.contains(username) {
                continue;
            }
            let email = user
                .attributes()
                .iter()
                .find(|a| a.name() == "email")
                .and_then(|a| a.value())
                .unwrap_or("<no email>")
                .to_owned();
            email_of_username.insert(username.to_owned(), email.clone());
            by_email.entry(email).or_default().push(user);
        }
        assert_eq!(
            cognito_users.len(),
            self.users.len() + unmanaged.len(),
            "the pool holds one user per AppUser (and the {} unmanaged ones)",
            unmanaged.len()
        );
        let duplicated: Vec<_> = by_email
            .iter()
            .filter(|(_, u)| u.len() > 1)
            .map(|(e, _)| e)
            .collect();
        assert!(
            duplicated.is_empty(),
            "duplicated Cognito users: {duplicated:?}"
        );
        let planned: BTreeSet<&str> = self.users.iter().map(|u| u.email.as_str()).collect();
        let strays: Vec<_> = by_email
            .keys()
            .filter(|e| !planned.contains(e.as_str()))
            .collect();
        assert!(
            strays.is_empty(),
            "Cognito users without an AppUser: {strays:?}"
        );
        for planned_user in &self.users {
            let found = by_email
                .get(&planned_user.email)
                .and_then(|users| users.first())
                .unwrap_or_else(|| panic!("no Cognito user for {}", planned_user.email));
            assert_eq!(
                found.user_status().map(|s| s.as_str()),
                Some("CONFIRMED"),
                "{} is CONFIRMED",
                planned_user.email
            );
            assert!(found.enabled(), "{} is enabled", planned_user.email);
            assert_eq!(
                found
                    .attributes()
                    .iter()
                    .find(|a| a.name() == "sub")
                    .and_then(|a| a.value()),
                sub_of.get(planned_user.email.as_str()).copied(),
                "the AppUser {} reports its Cognito user's sub",
                planned_user.name
            );
        }

        for group in GROUPS {
            let mut members: Vec<String> = self
                .pool
                .group_members(group)
                .await
                .into_iter()
                .filter(|m| !unmanaged.contains(m))
                .map(|m| email_of_username.get(&m).cloned().unwrap_or(m))
                .collect();
            members.sort();
            let declared: Vec<String> = self
                .users
                .iter()
                .filter(|u| u.groups.contains(&group))
                .map(|u| u.email.clone())
                .collect();
            assert!(
                members == declared,
                "the members of {group} are the users declaring it"
            );
        }

        let step = self.users.len().div_ceil(SIGN_IN_SAMPLE).max(1);
        let failed: Vec<String> = stream::iter(self.users.iter().step_by(step))
            .map(|u| async move {
                (!self.pool.signs_in(&u.email, &u.password).await).then(|| u.email.clone())
            })
            .buffer_unordered(8)
            .filter_map(|failed| async move { failed })
            .collect()
            .await;
        assert!(
            failed.is_empty(),
            "users who cannot sign in with their Secret's password: {failed:?}"
        );
    }

    /// Deletes the namespace while the operator still runs, so that the AppUsers'
    /// finalizers go (they retain their users: no Cognito call) and the pool goes with
    /// its stack; waits for that at most `timeout`, then leaves it to the namespace
    /// controller (the operator is gone then: the namespace stays, as other tests' do).
    pub async fn finish(self, timeout: Duration) {
        let _ = self.faults.clear().await;
        let namespace = self.t.name().to_owned();
        let _ = crate::kubectl(&["delete", "namespace", &namespace, "--wait=false"]).run();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let gone = crate::kubectl(&[
                "get",
                "namespace",
                &namespace,
                "--ignore-not-found",
                "-o",
                "name",
            ])
            .run();
            if gone.success && gone.stdout.trim().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        eprintln!(
            "namespace {namespace} still terminating after {timeout:?}; left to the namespace controller"
        );
    }
}

/// A quota category of Cognito user calls, as the operator's rate limits name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaCategory {
    UserCreation,
    UserUpdate,
    UserRead,
    UserList,
}

impl QuotaCategory {
    pub const ALL: [Self; 4] = [
        Self::UserCreation,
        Self::UserUpdate,
        Self::UserRead,
        Self::UserList,
    ];

    /// The operations AWS counts in this category.
    pub fn operations(self) -> &'static [&'static str] {
        match self {
            Self::UserCreation => &USER_WRITES[..1],
            Self::UserUpdate => &USER_WRITES[1..],
            Self::UserRead => &["AdminGetUser", "AdminListGroupsForUser"],
            Self::UserList => &["ListUsers", "ListUsersInGroup"],
        }
    }

    /// The operator's setting of this category's rate.
    pub fn rate_variable(self) -> &'static str {
        match self {
            Self::UserCreation => "COGNITO_USER_CREATION_RPS",
            Self::UserUpdate => "COGNITO_USER_UPDATE_RPS",
            Self::UserRead => "COGNITO_USER_READ_RPS",
            Self::UserList => "COGNITO_USER_LIST_RPS",
        }
    }
}

/// How the calls of one operation ended, as the emulator counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Answered by moto (whatever it answered).
    pub ok: u64,
    pub throttled: u64,
    pub server_error: u64,
    pub outage: u64,
    pub denied: u64,
}

impl Outcomes {
    fn of(value: &Value) -> Self {
        let count = |name: &str| value.get(name).and_then(Value::as_u64).unwrap_or(0);
        Self {
            ok: count("ok"),
            throttled: count("throttled"),
            server_error: count("serverError"),
            outage: count("outage"),
            denied: count("denied"),
        }
    }

    /// Every attempt, whatever answered it.
    pub fn attempts(&self) -> u64 {
        self.ok + self.throttled + self.server_error + self.outage + self.denied
    }
}

/// The calls of one access key since its counters were reset, by operation.
#[derive(Debug, Clone, Default)]
pub struct CallCounts {
    pub calls: BTreeMap<String, Outcomes>,
    /// Of the `ok` calls, those moto answered with an error.
    pub errors: BTreeMap<String, u64>,
}

impl CallCounts {
    fn of(answer: &Value) -> Self {
        let map = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Self {
            calls: map("calls")
                .iter()
                .map(|(op, v)| (op.clone(), Outcomes::of(v)))
                .collect(),
            errors: map("errors")
                .iter()
                .map(|(op, v)| (op.clone(), v.as_u64().unwrap_or(0)))
                .collect(),
        }
    }

    pub fn outcomes(&self, operation: &str) -> Outcomes {
        self.calls.get(operation).copied().unwrap_or_default()
    }

    /// Attempts of `operation`, every outcome.
    pub fn attempts(&self, operation: &str) -> u64 {
        self.outcomes(operation).attempts()
    }

    /// Attempts of all of `operations`.
    pub fn attempts_of(&self, operations: &[&str]) -> u64 {
        operations.iter().map(|op| self.attempts(op)).sum()
    }

    /// Calls of all of `operations` that moto answered.
    pub fn ok_of(&self, operations: &[&str]) -> u64 {
        operations.iter().map(|op| self.outcomes(op).ok).sum()
    }

    /// User write attempts, every outcome.
    pub fn writes(&self) -> u64 {
        self.attempts_of(&USER_WRITES)
    }

    /// User writes moto answered (took effect, or refused by Cognito's own rules).
    pub fn ok_writes(&self) -> u64 {
        self.ok_of(&USER_WRITES)
    }

    /// User writes moto refused (e.g. `UsernameExistsException` for a repeated create).
    pub fn refused_writes(&self) -> u64 {
        USER_WRITES
            .iter()
            .filter_map(|op| self.errors.get(*op))
            .sum()
    }

    /// The calls since `earlier` (a count taken before from the same counters).
    pub fn since(&self, earlier: &Self) -> Self {
        let minus = |a: Outcomes, b: Outcomes| Outcomes {
            ok: a.ok.saturating_sub(b.ok),
            throttled: a.throttled.saturating_sub(b.throttled),
            server_error: a.server_error.saturating_sub(b.server_error),
            outage: a.outage.saturating_sub(b.outage),
            denied: a.denied.saturating_sub(b.denied),
        };
        Self {
            calls: self
                .calls
                .iter()
                .map(|(op, now)| (op.clone(), minus(*now, earlier.outcomes(op))))
                .filter(|(_, delta)| delta.attempts() > 0)
                .collect(),
            errors: self
                .errors
                .iter()
                .map(|(op, now)| {
                    (
                        op.clone(),
                        now.saturating_sub(*earlier.errors.get(op).unwrap_or(&0)),
                    )
                })
                .filter(|(_, delta)| *delta > 0)
                .collect(),
        }
    }

    /// `op=attempts` for every operation called, for messages.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .calls
            .iter()
            .map(|(op, o)| format!("{op}={o:?}"))
            .collect();
        parts.join(", ")
    }
}

/// The emulator's fault injection and call counters for one access key
/// (tests/moto/faults.py), and its bulk seeding of users (tests/moto/cognito_large_pools.py).
pub struct EmulatorFaults {
    key: String,
    base: String,
    http: reqwest::Client,
}

impl EmulatorFaults {
    pub fn for_key(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            base: environment().aws_endpoint.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()
                .expect("HTTP client"),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Value {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{what}: {status} {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Sets the key's faults (`{"throttle": 0.5, "seed": 7}`, ...), replacing any before.
    pub async fn inject(&self, faults: Value) {
        let url = format!("{}/_faults/{}", self.base, self.key);
        self.send(self.http.put(url).json(&faults), "set faults")
            .await;
    }

    /// No more faults; an outage ends at once.
    pub async fn clear(&self) {
        let url = format!("{}/_faults/{}", self.base, self.key);
        self.send(self.http.delete(url), "clear faults").await;
    }

    /// The key's calls since the last reset.
    pub async fn calls(&self) -> CallCounts {
        let url = format!("{}/_faults/{}/calls", self.base, self.key);
        CallCounts::of(&self.send(self.http.get(url), "read call counters").await)
    }

    /// Counters back to nothing.
    pub async fn reset_calls(&self) {
        let url = format!("{}/_faults/{}/calls", self.base, self.key);
        self.send(self.http.delete(url), "reset call counters")
            .await;
    }

    /// Adds `count` confirmed users `<prefix>000000`… to `pool_id` at once, past the
    /// Cognito API (and so past this key's counters).
    pub async fn seed_users(&self, pool_id: &str, count: u64, prefix: &str) -> Value {
        let body = json!({
            "userPoolId": pool_id, "count": count, "prefix": prefix, "start": 0,
            "password": "Bulk-Passw0rd!", "region": REGION,
        });
        let url = format!("{}/_bulk/users", self.base);
        self.send(self.http.post(url).json(&body), "seed users")
            .await
    }
}

/// One census as the emulator saw it: a burst of list calls between two quiet spells.
#[derive(Debug, Clone, Copy)]
pub struct CensusBurst {
    pub list_users: u64,
    pub list_users_in_group: u64,
    /// How long the burst took, from its first call seen to its last.
    pub took: Duration,
}

/// Watches the key's `ListUsers`/`ListUsersInGroup` counters for at most `window`, or
/// until `want` whole censuses went by: a census is a burst of those calls with a quiet
/// spell of at least `quiet` before and after it (the operator waits a whole resync
/// interval between censuses, so `quiet` must be shorter than that; a burst already
/// under way when the watch starts is not counted). `at_end` runs when each burst is
/// seen to end. Returns the censuses seen.
pub async fn watch_censuses(
    faults: &EmulatorFaults,
    want: usize,
    quiet: Duration,
    window: Duration,
    mut at_end: impl FnMut(&CensusBurst),
) -> Vec<CensusBurst> {
    let lists = |c: &CallCounts| (c.attempts("ListUsers"), c.attempts("ListUsersInGroup"));
    let started = Instant::now();
    let mut previous = lists(&faults.calls().await);
    let mut last_change = Instant::now();
    // The counts before the burst in progress, when its start was seen after a quiet spell.
    let mut burst: Option<((u64, u64), Instant)> = None;
    let mut armed = false;
    let mut bursts = Vec::new();
    while bursts.len() < want && started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = lists(&faults.calls().await);
        if now != previous {
            if burst.is_none() && armed {
                burst = Some((previous, Instant::now()));
            }
            armed = false;
            last_change = Instant::now();
            previous = now;
        } else if last_change.elapsed() >= quiet {
            if let Some((before, began)) = burst.take() {
                let census = CensusBurst {
                    list_users: now.0 - before.0,
                    list_users_in_group: now.1 - before.1,
                    took: last_change.saturating_duration_since(began),
                };
                at_end(&census);
                bursts.push(census);
            }
            armed = true;
        }
    }
    bursts
}

/// ListUsers pages of a pool of `users` (60 a page; an empty pool still takes one call).
pub fn pages(users: u64) -> u64 {
    users.div_ceil(60).max(1)
}

/// The lines of an operator log at level WARN or ERROR (text format: the level is the
/// second field, after the timestamp).
pub fn warnings_in(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR")))
        .collect()
}

/// Whether the operator binary is a release build (tests/scale/run.sh).
pub fn release_operator() -> bool {
    crate::OperatorProcess::binary()
        .components()
        .any(|c| c.as_os_str() == "release")
}
