//! Field defaults serde needs as functions.

pub(crate) fn default_true() -> bool {
    true
}
