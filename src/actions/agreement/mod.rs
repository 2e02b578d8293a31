//! The use cases of agreements: create (resolve the parties, check the basis, store and
//! notify), edit a draft, amend, and the lifecycle steps (submit, sign, activate,
//! terminate, cancel) with what follows from them (tasks, mails, dependants).

mod basis;
mod create;
pub mod edit;
mod resolve;
pub mod transition;

pub use create::{AvvSource, NewAgreement, Submit};
pub use edit::{AmendmentInput, AmendmentStep, EditInput};
pub use transition::TransitionInput;
