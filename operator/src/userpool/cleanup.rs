//! Deleting a UserPool object: carry out its deletion policy, then let the finalizer go.

use cognito_crds::{UserPool, userpool::PoolDeletionPolicy};
use kube::{Api, runtime::controller::Action};

use super::{
    apply::{POLL, PoolContext, Reconciler},
    decide::Phase,
    placement::{self, Ownership},
};
use crate::{
    error::Result,
    reconcile::{
        conditions::{READY, reasons},
        finalizer::Cleanup,
        report::{Notice, normal, warning},
    },
};

/// Applies the deletion policy; done once the stack is kept or gone.
pub async fn cleanup(pool: &UserPool, pctx: &PoolContext, api: Api<UserPool>) -> Result<Cleanup> {
    let ctx = pctx.ctx.as_ref();
    let mut reconciler = Reconciler::new(pool, pctx, api)?;
    let stack_name = reconciler.stack_name.clone();
    if pool.spec.deletion_policy == PoolDeletionPolicy::Retain {
        let note = format!("deletionPolicy Retain: stack {stack_name} and its user pool are kept");
        return Ok(done(pctx, &reconciler, normal("Retained", "Delete"), &note).await);
    }
    let stack = reconciler.stacks.describe(&stack_name).await?;
    // Only a stack that carries this object's own tags is deleted: an adoption not yet
    // written into the stack's tags, or any other stack, is left alone and said so.
    let stack = match stack {
        None => {
            let note = format!("stack {stack_name} is gone");
            return Ok(done(pctx, &reconciler, normal("Deleted", "Delete"), &note).await);
        }
        Some(stack) => {
            match placement::ownership(pool, &reconciler.uid, &stack_name, &stack.tags, false) {
                Ownership::Ours => stack,
                _ => {
                    let note = format!(
                        "stack {stack_name} is not this UserPool's: left in place, not deleted"
                    );
                    let refused = warning("NotDeleted", "Delete");
                    return Ok(done(pctx, &reconciler, refused, &note).await);
                }
            }
        }
    };
    reconciler.draft.status.stack_status = Some(stack.status.clone());
    // A failed deletion waits for someone to fix the stack; one in progress is polled.
    let (condition, event, message, wait) = match Phase::of(&stack.status) {
        Phase::InProgress => {
            reconciler.draft.write().await?;
            return Ok(Cleanup::NotYet(Action::requeue(POLL)));
        }
        Phase::Failed if stack.status == "DELETE_FAILED" => (
            (READY, false, reasons::STACK_BROKEN),
            warning("DeleteFailed", "Delete"),
            reconciler.failure_message(&stack).await?,
            ctx.settings.resync_interval,
        ),
        _ => {
            tracing::info!(stack = %stack_name, "deleting stack (deletionPolicy Delete)");
            reconciler.stacks.delete(&stack.id).await?;
            let message = format!("deleting stack {stack_name} and its user pool");
            let condition = (READY, false, reasons::DELETING);
            (condition, normal("Deleting", "Delete"), message, POLL)
        }
    };
    let draft = &mut reconciler.draft;
    draft.set_and_publish(condition, event, &message).await;
    draft.write().await?;
    Ok(Cleanup::NotYet(Action::requeue(wait)))
}

/// Says how the deletion ended, and forgets the object's status.
async fn done(
    pctx: &PoolContext,
    reconciler: &Reconciler<'_>,
    notice: Notice<'_>,
    note: &str,
) -> Cleanup {
    reconciler.draft.event(notice, note).await;
    pctx.written.forget(&reconciler.uid);
    Cleanup::Done
}
