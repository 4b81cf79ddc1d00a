//! Faults and scale (issue 15, items 1-5), end to end: the real operator binary, the
//! real API server and Cognito in the emulator, whose fault injection and call counters
//! are scoped to each operator's own access key.
//!
//! - chaos: N AppUsers applied at once while the operator is SIGKILLed K times;
//! - AWS faults: throttling, server errors and an outage during a rollout;
//! - the API server and etcd restarted during a rollout;
//! - soak: N users in steady state, censuses and memory;
//! - a big pool of unmanaged users with a few AppUsers.
//!
//! Sizes are CI's by default; tests/scale/run.sh runs the long versions through the
//! same environment variables. Each run prints `REPORT <figure> k=v ...` lines and
//! appends them to `.cache/scale/report.txt`.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use cognito_operator_tests::{
    control_plane_exclusive, control_plane_shared, restart_api_server_and_etcd,
    rollout::{
        GROUPS, QuotaCategory, Rng, Rollout, env_or, pages, release_operator, report, warnings_in,
        watch_censuses,
    },
};
use serde_json::{Value, json};

/// `a / b` with two decimals, for reports.
fn ratio(a: u64, b: u64) -> String {
    format!("{:.2}", a as f64 / b.max(1) as f64)
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

/// Operator settings for a rollout without faults: `ROLLOUT_RPS`, when set, raises the
/// creation and update rates (long runs; the operator's defaults are AWS's quotas).
fn rollout_rates() -> Vec<(&'static str, String)> {
    match std::env::var("ROLLOUT_RPS") {
        Ok(rps) => vec![
            ("COGNITO_USER_CREATION_RPS", rps.clone()),
            ("COGNITO_USER_UPDATE_RPS", rps),
        ],
        Err(_) => Vec::new(),
    }
}

fn as_env<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// How long deleting a rollout's namespace may take (each AppUser's finalizer goes).
fn finish_timeout(users: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(users as u64 * 20)
}

#[tokio::test]
async fn chaos_rollout_survives_operator_kills() {
    let _shared = control_plane_shared().await;
    let n: usize = env_or("CHAOS_USERS", 200);
    let kills: usize = env_or("CHAOS_KILLS", 10);
    let seed = Rng::seed_from_env();
    let mut rng = Rng::new(seed);
    let settings = rollout_rates();
    let mut r = Rollout::start("chaos", n, &as_env(&settings)).await;

    // Random moments, spread over the rollout: each kill waits until a random share of
    // the users (below 95%) is Ready, then a random pause.
    let mut thresholds: Vec<usize> = (0..kills)
        .map(|_| rng.within(0..(n as u64 * 95 / 100).max(1)) as usize)
        .collect();
    thresholds.sort_unstable();
    // Applied at once while the operator is down, as a big manifest meets an operator
    // that is restarting: the whole rollout lies ahead when the kills begin (applied
    // while it runs, the operator kept up with kubectl and 1,000 users were Ready
    // before the first kill).
    r.t.operator.kill();
    r.apply();
    let started = Instant::now();
    r.restart_operator();
    let mut during_rollout = 0;
    for threshold in thresholds {
        r.wait_ready_count(threshold, r.rollout_timeout()).await;
        tokio::time::sleep(Duration::from_millis(rng.within(100..1500))).await;
        if r.ready_count().await.is_some_and(|ready| ready < n) {
            during_rollout += 1;
        }
        r.restart_operator();
    }
    r.wait_all_ready(r.rollout_timeout()).await;
    let took = started.elapsed();

    let calls = r.faults.calls().await;
    let (writes, clean) = (calls.writes(), r.clean_writes());
    report(
        "chaos",
        &[
            ("users", n.to_string()),
            ("kills", kills.to_string()),
            ("kills_before_all_ready", during_rollout.to_string()),
            ("seed", seed.to_string()),
            ("writes", writes.to_string()),
            ("writes_ok", calls.ok_writes().to_string()),
            ("writes_refused", calls.refused_writes().to_string()),
            ("clean", clean.to_string()),
            ("ratio", ratio(writes, clean)),
            (
                "describe_user_pool",
                calls.attempts("DescribeUserPool").to_string(),
            ),
            ("operator_runs", (kills + 1).to_string()),
            ("seconds", secs(took)),
        ],
    );
    r.assert_converged().await;
    assert!(
        during_rollout * 2 >= kills,
        "only {during_rollout} of {kills} kills came before every AppUser was Ready"
    );
    // Issue 15: at most 5% more writes than a clean run, whatever the kills interrupted.
    let max_ratio: f64 = env_or("CHAOS_MAX_RATIO", 1.05);
    assert!(
        writes as f64 <= clean as f64 * max_ratio,
        "{writes} user writes for a clean {clean}, above {max_ratio} x (seed {seed}): {}",
        calls.summary()
    );
    r.finish(finish_timeout(n)).await;
}

/// A fault during a rollout, and what the waiting AppUsers must say meanwhile.
struct FaultRun {
    figure: &'static str,
    faults: Value,
    /// The Synced reason of an AppUser waiting out the fault.
    reason: &'static str,
    /// The fault lasts at least this long...
    at_least: Duration,
    /// ...and at most this long (it ends earlier once `reason` was seen, or all are Ready).
    at_most: Duration,
}

/// `type=reason` of each False condition of each AppUser, with the AppUsers that showed it.
type Reasons = BTreeMap<String, BTreeSet<String>>;

/// An N-user rollout (FAULT_USERS, 100) under `run.faults`, with every Cognito rate at
/// FAULT_RPS (20/s): the AppUsers report the fault while it lasts and converge once it
/// ends; the attempts stay within the rates, and the writes that took effect are the
/// clean count.
async fn rollout_under(run: FaultRun) {
    let _shared = control_plane_shared().await;
    let n: usize = env_or("FAULT_USERS", 100);
    let rate: u64 = env_or("FAULT_RPS", 20);
    let rate_text = rate.to_string();
    let settings: Vec<(&str, &str)> = QuotaCategory::ALL
        .iter()
        .map(|c| (c.rate_variable(), rate_text.as_str()))
        .collect();
    let r = Rollout::start(&run.figure.replace('_', "-"), n, &settings).await;

    let started = Instant::now();
    r.faults.reset_calls().await;
    r.faults.inject(run.faults.clone()).await;
    r.apply();
    let expected = format!("Synced={}", run.reason);
    let mut reasons = Reasons::new();
    loop {
        let mut all_ready = false;
        if let Some(users) = r.app_users().await {
            all_ready =
                users.len() == n && users.iter().all(cognito_operator_tests::objects::is_ready);
            for user in &users {
                let conditions = user.status.iter().flat_map(|s| &s.conditions);
                for c in conditions.filter(|c| c.status == "False") {
                    let name = user.metadata.name.clone().unwrap_or_default();
                    reasons
                        .entry(format!("{}={}", c.type_, c.reason))
                        .or_default()
                        .insert(name);
                }
            }
        }
        let lasted = started.elapsed();
        if lasted >= run.at_most
            || (lasted >= run.at_least && (reasons.contains_key(&expected) || all_ready))
        {
            break;
        }
        tokio::time::sleep(r.poll_interval()).await;
    }
    r.faults.clear().await;
    let fault_lasted = started.elapsed();
    r.wait_all_ready(r.rollout_timeout()).await;
    let converged = started.elapsed();
    let calls = r.faults.calls().await;
    let elapsed = started.elapsed().as_secs_f64();

    let clean = r.clean_writes();
    let showing = |key: &str| reasons.get(key).map_or(0, BTreeSet::len);
    let mut fields = vec![
        ("users", n.to_string()),
        ("rps", rate.to_string()),
        ("fault_seconds", secs(fault_lasted)),
        ("converged_seconds", secs(converged)),
        ("reason", run.reason.to_owned()),
        ("users_showing_reason", showing(&expected).to_string()),
        ("writes", calls.writes().to_string()),
        ("writes_ok", calls.ok_writes().to_string()),
        ("clean", clean.to_string()),
    ];
    let mut over_rate = Vec::new();
    for category in QuotaCategory::ALL {
        let attempts = calls.attempts_of(category.operations());
        let bound = rate as f64 * elapsed + rate as f64;
        fields.push((
            match category {
                QuotaCategory::UserCreation => "creation_attempts",
                QuotaCategory::UserUpdate => "update_attempts",
                QuotaCategory::UserRead => "read_attempts",
                QuotaCategory::UserList => "list_attempts",
            },
            format!("{attempts}/{bound:.0}"),
        ));
        if attempts as f64 > bound {
            over_rate.push(format!("{category:?}: {attempts} attempts > {bound:.0}"));
        }
    }
    fields.push((
        "describe_user_pool",
        calls.attempts("DescribeUserPool").to_string(),
    ));
    fields.push((
        "faulted_attempts",
        calls
            .calls
            .values()
            .map(|o| o.throttled + o.server_error + o.outage)
            .sum::<u64>()
            .to_string(),
    ));
    report(run.figure, &fields);

    let unexpected: Vec<_> = reasons.keys().filter(|k| **k != expected).collect();
    assert!(
        reasons.contains_key(&expected),
        "no AppUser reported {expected} during the fault; seen: {reasons:?}"
    );
    assert!(
        unexpected.is_empty(),
        "AppUsers reported unexpected reasons during the fault: {:?}",
        unexpected
            .iter()
            .map(|k| (k, &reasons[*k]))
            .collect::<Vec<_>>()
    );
    assert!(
        over_rate.is_empty(),
        "attempts above the configured rates: {over_rate:?}"
    );
    assert_eq!(
        calls.ok_writes(),
        clean,
        "the writes that reached Cognito are the clean count: {}",
        calls.summary()
    );
    r.assert_converged().await;
    r.finish(finish_timeout(n)).await;
}

#[tokio::test]
async fn rollout_converges_after_throttling() {
    rollout_under(FaultRun {
        figure: "throttle",
        faults: json!({"throttle": env_or("FAULT_SHARE", 0.5), "seed": 15}),
        reason: "Throttled",
        at_least: Duration::from_secs(10),
        at_most: Duration::from_secs(120),
    })
    .await;
}

#[tokio::test]
async fn rollout_converges_after_server_errors() {
    rollout_under(FaultRun {
        figure: "server_errors",
        faults: json!({"serverError": env_or("FAULT_SHARE", 0.5), "seed": 15}),
        reason: "CognitoUnavailable",
        at_least: Duration::from_secs(10),
        at_most: Duration::from_secs(120),
    })
    .await;
}

#[tokio::test]
async fn rollout_converges_after_an_outage() {
    // The operator gives up on a call after 45 s (3 attempts of 15 s): an outage must
    // last longer for an AppUser to report it.
    let outage: u64 = env_or("OUTAGE_SECONDS", 60);
    rollout_under(FaultRun {
        figure: "outage",
        faults: json!({"outageSeconds": outage}),
        reason: "CognitoUnavailable",
        at_least: Duration::from_secs(outage),
        at_most: Duration::from_secs(outage),
    })
    .await;
}

#[tokio::test]
async fn rollout_survives_an_api_server_and_etcd_restart() {
    let exclusive = control_plane_exclusive().await;
    let n: usize = env_or("RESTART_USERS", 150);
    // Applied after the restart: only a watch that recovered brings them to the operator.
    let late = 5.min(n);
    // Updates at 15/s (unless ROLLOUT_RPS says otherwise): the rollout lasts long enough
    // (about 20 s at CI's size) for the restart to come in its middle.
    let mut settings = vec![("COGNITO_USER_UPDATE_RPS", "15".to_owned())];
    settings.extend(rollout_rates());
    let r = Rollout::start("apiserver", n, &as_env(&settings)).await;
    let started = Instant::now();
    r.apply_range(0..n - late);
    r.wait_ready_count((n - late) / 3, r.rollout_timeout())
        .await;
    let ready_before = r.ready_count().await.unwrap_or_default();
    let down = restart_api_server_and_etcd(&exclusive);
    r.apply_range(n - late..n);
    r.wait_all_ready(r.rollout_timeout()).await;
    let took = started.elapsed();

    let calls = r.faults.calls().await;
    let (writes, clean) = (calls.writes(), r.clean_writes());
    report(
        "apiserver_restart",
        &[
            ("users", n.to_string()),
            ("ready_at_restart", ready_before.to_string()),
            ("restart_seconds", secs(down)),
            ("writes", writes.to_string()),
            ("writes_ok", calls.ok_writes().to_string()),
            ("clean", clean.to_string()),
            ("ratio", ratio(writes, clean)),
            ("seconds", secs(took)),
        ],
    );
    assert!(
        ready_before < n - late,
        "the restart came before the rollout ended"
    );
    r.assert_converged().await;
    assert!(
        writes as f64 <= clean as f64 * 1.05,
        "{writes} user writes for a clean {clean}: {}",
        calls.summary()
    );
    r.finish(finish_timeout(n)).await;
}

/// A quiet spell that separates two censuses `resync` apart.
fn quiet_between_censuses(resync: u64) -> Duration {
    Duration::from_secs_f64((resync as f64 / 2.0).clamp(1.5, 5.0))
}

#[tokio::test]
async fn soak_costs_one_census_per_resync_and_keeps_memory_flat() {
    let _shared = control_plane_shared().await;
    let n: usize = env_or("SOAK_USERS", 300);
    let soak: u64 = env_or("SOAK_SECONDS", 40);
    let resync: u64 = env_or("SOAK_RESYNC_SECONDS", 10);
    let resync_text = resync.to_string();
    let mut settings = rollout_rates();
    settings.push(("RESYNC_INTERVAL_SECONDS", resync_text));
    settings.push(("RUST_LOG", "info".to_owned()));
    let r = Rollout::start("soak", n, &as_env(&settings)).await;
    r.apply();
    r.wait_all_ready(r.rollout_timeout()).await;

    // Steady state: the first census from here is the warm-up, memory is measured at the
    // end of each.
    let before = r.faults.calls().await;
    let rollout_log = r.t.operator.log_text();
    let mut memory = Vec::new();
    let bursts = watch_censuses(
        &r.faults,
        usize::MAX,
        quiet_between_censuses(resync),
        Duration::from_secs(soak),
        |_| memory.extend(r.t.operator.memory_kib()),
    )
    .await;
    let calls = r.faults.calls().await.since(&before);

    let members = |group: &str| r.users.iter().filter(|u| u.groups.contains(&group)).count();
    let group_pages: u64 = GROUPS.iter().map(|g| pages(members(g) as u64)).sum();
    let baseline = memory.first().map_or(0, |m| m.0);
    let highest = memory.iter().skip(1).map(|m| m.0).max().unwrap_or(baseline);
    let writes = calls.writes();
    let reads = calls.attempts_of(QuotaCategory::UserRead.operations());
    // Warnings of the rollout (a clean one has none but the operator's notice that it
    // watches one namespace) and of the steady state.
    let rollout_warnings: Vec<&str> = warnings_in(&rollout_log)
        .into_iter()
        .filter(|line| !line.contains("watching these namespaces only"))
        .collect();
    let log = r.t.operator.log_text();
    let steady_log = log.get(rollout_log.len()..).unwrap_or_default();
    let warnings = warnings_in(steady_log)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    report(
        "soak",
        &[
            ("users", n.to_string()),
            ("seconds", soak.to_string()),
            ("resync", resync.to_string()),
            ("censuses", bursts.len().to_string()),
            (
                "list_users_per_census",
                bursts
                    .iter()
                    .map(|b| b.list_users.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("expected_list_users", pages(n as u64).to_string()),
            ("writes", writes.to_string()),
            ("reads", reads.to_string()),
            ("rss_kib_warm", baseline.to_string()),
            ("rss_kib_max_after", highest.to_string()),
            ("rss_growth", ratio(highest, baseline)),
            ("hwm_kib", memory.last().map_or(0, |m| m.1).to_string()),
            ("warn_lines", warnings.len().to_string()),
            ("rollout_warn_lines", rollout_warnings.len().to_string()),
        ],
    );
    assert!(
        bursts.len() >= 2,
        "at least two censuses in {soak} s with a {resync} s resync: {bursts:?}"
    );
    for burst in &bursts {
        assert_eq!(
            burst.list_users,
            pages(n as u64),
            "ListUsers of a census: {bursts:?}"
        );
        assert_eq!(
            burst.list_users_in_group, group_pages,
            "ListUsersInGroup of a census: {bursts:?}"
        );
    }
    assert_eq!(
        writes,
        0,
        "an idle soak writes nothing: {}",
        calls.summary()
    );
    assert_eq!(
        reads,
        0,
        "an idle soak reads no single user: {}",
        calls.summary()
    );
    assert!(
        highest as f64 <= baseline as f64 * 1.10,
        "RSS grew from {baseline} KiB to {highest} KiB: {memory:?}"
    );
    assert!(
        rollout_warnings.is_empty(),
        "warnings in the operator log during the rollout:\n{}",
        rollout_warnings.join("\n")
    );
    assert!(
        warnings.is_empty(),
        "warnings in the operator log:\n{}",
        warnings.join("\n")
    );
    r.finish(finish_timeout(n)).await;
}

#[tokio::test]
async fn big_pool_census_repairs_drift_and_touches_no_unmanaged_user() {
    let _shared = control_plane_shared().await;
    let unmanaged_count: u64 = env_or("CENSUS_POOL_USERS", 10_000);
    let resync: u64 = env_or("CENSUS_RESYNC_SECONDS", 5);
    let list_rps: u64 = env_or("CENSUS_LIST_RPS", 60);
    let managed = 10;
    let settings = [
        ("RESYNC_INTERVAL_SECONDS", resync.to_string()),
        ("COGNITO_USER_LIST_RPS", list_rps.to_string()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let r = Rollout::start("census", managed, &as_env(&settings)).await;
    let seeded = r
        .faults
        .seed_users(&r.pool.pool_id, unmanaged_count, "bulk-")
        .await;
    r.apply();
    r.wait_all_ready(r.rollout_timeout()).await;
    let total = unmanaged_count + managed as u64;

    // Each census reads the whole pool once.
    let quiet = quiet_between_censuses(resync);
    let census_time = Duration::from_secs_f64(pages(total) as f64 / list_rps as f64);
    let window = (Duration::from_secs(resync) + census_time * 3) * 3;
    let bursts = watch_censuses(&r.faults, 2, quiet, window, |_| {}).await;
    assert_eq!(bursts.len(), 2, "two censuses in {window:?}: {bursts:?}");
    for burst in &bursts {
        assert_eq!(
            burst.list_users,
            pages(total),
            "ListUsers of a census: {bursts:?}"
        );
    }

    // Drift on one AppUser's user is repaired by the census, with one write.
    let unmanaged_before = unmanaged_users(&r).await;
    assert_eq!(
        unmanaged_before.len() as u64,
        unmanaged_count,
        "seeded: {seeded}"
    );
    let before = r.faults.calls().await;
    let victim = &r.users[0].email;
    r.pool.disable(victim).await;
    let repaired = Instant::now();
    cognito_operator_tests::wait::poll("the census enables the user again", window, || async {
        (r.pool.is_enabled(victim).await == Some(true)).then_some(())
    })
    .await;
    let repaired = repaired.elapsed();
    // One more whole census: a write it made to anyone would be counted.
    let after_repair = watch_censuses(&r.faults, 1, quiet, window, |_| {}).await;
    assert_eq!(after_repair.len(), 1, "a census after the repair");
    let calls = r.faults.calls().await.since(&before);
    let unmanaged_after = unmanaged_users(&r).await;
    let (rss, hwm) = r.t.operator.memory_kib().expect("operator running");

    report(
        "census",
        &[
            ("pool_users", total.to_string()),
            ("appusers", managed.to_string()),
            ("resync", resync.to_string()),
            (
                "list_users_per_census",
                bursts
                    .iter()
                    .map(|b| b.list_users.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("expected_list_users", pages(total).to_string()),
            ("census_seconds", secs(bursts[0].took)),
            ("repair_seconds", secs(repaired)),
            ("writes_after_drift", calls.writes().to_string()),
            ("rss_kib", rss.to_string()),
            ("hwm_kib", hwm.to_string()),
            ("release", release_operator().to_string()),
        ],
    );
    assert_eq!(
        (calls.writes(), calls.attempts("AdminEnableUser")),
        (1, 1),
        "the repair is the only write: {}",
        calls.summary()
    );
    let touched: Vec<_> = unmanaged_before
        .iter()
        .filter(|(name, state)| unmanaged_after.get(*name) != Some(*state))
        .map(|(name, _)| name)
        .take(10)
        .collect();
    assert!(touched.is_empty(), "unmanaged users changed: {touched:?}");
    assert_eq!(unmanaged_after.len(), unmanaged_before.len());
    r.assert_converged_among(&unmanaged_before.keys().cloned().collect())
        .await;
    // A release operator stays under 60 MB; a debug build is larger (and unoptimized).
    let bound_mib = if release_operator() { 60 } else { 300 };
    assert!(
        hwm < bound_mib * 1024,
        "peak RSS {hwm} KiB with a pool of {total} users (bound {bound_mib} MiB)"
    );
    r.finish(finish_timeout(managed)).await;
}

/// The users of the rollout's pool that no AppUser declares, by user name: whether each
/// is enabled, its status and when it last changed.
async fn unmanaged_users(r: &Rollout) -> BTreeMap<String, String> {
    let managed: BTreeSet<&str> = r.users.iter().map(|u| u.email.as_str()).collect();
    r.pool
        .all_users()
        .await
        .into_iter()
        .filter(|u| {
            !u.attributes()
                .iter()
                .any(|a| a.name() == "email" && a.value().is_some_and(|e| managed.contains(e)))
        })
        .map(|u| {
            let state = format!(
                "{} {:?} {:?}",
                u.enabled(),
                u.user_status(),
                u.user_last_modified_date()
            );
            (u.username().unwrap_or_default().to_owned(), state)
        })
        .collect()
}
