//! The UserPool controller's decisions, as pure functions of what was observed: what to
//! do for each state of the stack, and whether a spec may change create-only settings.

use super::template::CreateOnlySettings;

/// Where a stack's last operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// An operation is running; poll again.
    InProgress,
    /// The last create or update succeeded.
    Complete,
    /// An update failed and was rolled back: the stack works with its previous template.
    UpdateRolledBack,
    /// A create failed and was rolled back: the stack holds nothing and must be deleted
    /// before it can be created again.
    CreateRolledBack,
    /// The stack is gone.
    Deleted,
    /// A failure CloudFormation could not roll back; a person must look.
    Failed,
}

impl Phase {
    pub fn of(status: &str) -> Self {
        match status {
            "ROLLBACK_COMPLETE" => Self::CreateRolledBack,
            "UPDATE_ROLLBACK_COMPLETE" => Self::UpdateRolledBack,
            "DELETE_COMPLETE" => Self::Deleted,
            s if s.ends_with("_IN_PROGRESS") => Self::InProgress,
            s if s.ends_with("_FAILED") => Self::Failed,
            _ => Self::Complete,
        }
    }
}

/// The next step of a reconcile, for a stack that exists and is ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An operation is running: record the status and poll again.
    Poll,
    /// The stack failed in a way CloudFormation cannot undo: say so, a person must look.
    ReportBroken,
    /// Our template failed to create the stack: say so, and wait for a new spec.
    ReportCreateFailed,
    /// A create failed for an earlier spec: delete the empty stack to create it again.
    DeleteFailedCreate,
    /// Send the spec's template.
    Update,
    /// Ask CloudFormation which template runs, then decide with [`after_template_check`].
    CheckRunningTemplate,
    /// The stack runs the spec's template: report Ready.
    InSync,
    /// The stack is being deleted out from under us: look again.
    AwaitDeletion,
}

/// What to do with a stack in `phase`. `submitted`: the spec's template is the last one
/// sent; `check_requested`: a reconcile request asks to compare the stack with AWS.
pub fn next_step(phase: Phase, submitted: bool, check_requested: bool) -> Step {
    match phase {
        Phase::InProgress => Step::Poll,
        Phase::Failed => Step::ReportBroken,
        Phase::CreateRolledBack if submitted => Step::ReportCreateFailed,
        Phase::CreateRolledBack => Step::DeleteFailedCreate,
        Phase::Complete | Phase::UpdateRolledBack if !submitted => Step::Update,
        // A spec put back as it was before a failed update is the template the stack
        // runs again; only the running template tells.
        Phase::UpdateRolledBack => Step::CheckRunningTemplate,
        Phase::Complete if check_requested => Step::CheckRunningTemplate,
        Phase::Complete => Step::InSync,
        Phase::Deleted => Step::AwaitDeletion,
    }
}

/// What follows [`Step::CheckRunningTemplate`]: in sync when the stack runs the spec's
/// template; otherwise a complete stack was changed outside the operator (send ours
/// again), and a rolled-back one still lacks the failed update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCheck {
    InSync,
    Update,
    ReportUpdateFailed,
}

pub fn after_template_check(phase: Phase, runs_our_template: bool) -> AfterCheck {
    match (runs_our_template, phase) {
        (true, _) => AfterCheck::InSync,
        (false, Phase::UpdateRolledBack) => AfterCheck::ReportUpdateFailed,
        (false, _) => AfterCheck::Update,
    }
}

/// Whether the spec may go to CloudFormation as far as create-only settings go.
#[derive(Debug, PartialEq, Eq)]
pub enum CreateOnly {
    /// No create-only change, or its replacement is already under way.
    Keep,
    /// Replace the pool (a new revision, so a new logical id).
    Replace,
    /// Refused: these settings cannot change on an existing pool.
    Refuse(Vec<String>),
}

/// Compares the create-only settings last submitted with the spec's. `already_submitted`:
/// the template of the current revision is the one last sent, so a replacement for these
/// settings already went out.
pub fn create_only(
    applied: Option<&CreateOnlySettings>,
    desired: &CreateOnlySettings,
    allow_replacement: bool,
    already_submitted: bool,
) -> CreateOnly {
    let changes = applied.map(|a| a.changes_to(desired)).unwrap_or_default();
    if changes.is_empty() {
        CreateOnly::Keep
    } else if !allow_replacement {
        CreateOnly::Refuse(changes)
    } else if already_submitted {
        CreateOnly::Keep
    } else {
        CreateOnly::Replace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases() {
        use Phase::*;
        let table = [
            ("CREATE_IN_PROGRESS", InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", InProgress),
            ("CREATE_COMPLETE", Complete),
            ("UPDATE_COMPLETE", Complete),
            ("ROLLBACK_COMPLETE", CreateRolledBack),
            ("UPDATE_ROLLBACK_COMPLETE", UpdateRolledBack),
            ("DELETE_COMPLETE", Deleted),
            ("UPDATE_ROLLBACK_FAILED", Failed),
            ("DELETE_FAILED", Failed),
        ];
        for (status, phase) in table {
            assert_eq!(Phase::of(status), phase, "{status}");
        }
    }

    #[test]
    fn each_stack_state_has_one_next_step() {
        use Phase::*;
        let table = [
            // (phase, submitted, check requested) -> step
            ((InProgress, false, false), Step::Poll),
            ((InProgress, true, true), Step::Poll),
            ((Failed, true, false), Step::ReportBroken),
            ((CreateRolledBack, true, false), Step::ReportCreateFailed),
            ((CreateRolledBack, false, false), Step::DeleteFailedCreate),
            ((Complete, false, false), Step::Update),
            ((Complete, true, false), Step::InSync),
            ((Complete, true, true), Step::CheckRunningTemplate),
            ((UpdateRolledBack, false, false), Step::Update),
            ((UpdateRolledBack, true, false), Step::CheckRunningTemplate),
            ((Deleted, true, false), Step::AwaitDeletion),
        ];
        for ((phase, submitted, requested), step) in table {
            assert_eq!(
                next_step(phase, submitted, requested),
                step,
                "{phase:?} submitted={submitted} requested={requested}"
            );
        }
    }

    #[test]
    fn a_failed_template_is_not_sent_again() {
        // After a failed update the stack is rolled back and our template was sent: the
        // next reconcile checks what runs instead of sending the same template again.
        assert_eq!(
            next_step(Phase::UpdateRolledBack, true, false),
            Step::CheckRunningTemplate
        );
        assert_eq!(
            after_template_check(Phase::UpdateRolledBack, false),
            AfterCheck::ReportUpdateFailed
        );
        assert_eq!(
            after_template_check(Phase::UpdateRolledBack, true),
            AfterCheck::InSync
        );
        assert_eq!(
            after_template_check(Phase::Complete, false),
            AfterCheck::Update,
            "a template changed outside the operator is repaired"
        );
    }

    fn settings(case_sensitive: bool) -> CreateOnlySettings {
        let spec: cognito_crds::UserPoolSpec =
            serde_json::from_value(serde_json::json!({"usernameCaseSensitive": case_sensitive}))
                .expect("a spec");
        CreateOnlySettings::of(&spec, "shop")
    }

    #[test]
    fn create_only_changes_need_allow_replacement() {
        let (before, after) = (settings(false), settings(true));
        assert_eq!(create_only(None, &after, false, false), CreateOnly::Keep);
        assert_eq!(
            create_only(Some(&before), &before, false, false),
            CreateOnly::Keep
        );
        assert!(matches!(
            create_only(Some(&before), &after, false, false),
            CreateOnly::Refuse(changes) if !changes.is_empty()
        ));
        assert_eq!(
            create_only(Some(&before), &after, true, false),
            CreateOnly::Replace
        );
        assert_eq!(
            create_only(Some(&before), &after, true, true),
            CreateOnly::Keep
        );
    }
}
