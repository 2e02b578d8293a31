//! What every area of the pages shares: rendering (`page`), the session guard and
//! CSRF (`session`), form errors and filters (`forms`), the German error pages (`errors`).

pub mod errors;
pub mod forms;
pub mod page;
pub mod session;
