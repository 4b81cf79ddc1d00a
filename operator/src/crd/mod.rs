//! Custom resource types and their generated CustomResourceDefinitions.

pub mod appuser;
pub mod userpool;

pub use appuser::{AppUser, AppUserSpec, AppUserStatus};
pub use userpool::{UserPool, UserPoolSpec, UserPoolStatus};
