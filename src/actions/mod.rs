//! Use cases: what a page, the API and the CLI do, each through the same function. This
//! floor sits on `domain/`, `db/`, `store/`, `seed/` (reference facts), `documents/`,
//! `seal/` and `mail/`, and never imports `http/`, `api/` or `web/`.

pub mod accounts;
pub mod agreement;
pub mod bulk;
pub mod catalog;
pub mod decline;
pub mod documents;
pub mod ea;
pub mod exports;
pub mod golive;
pub mod invitation;
pub mod lifecycle;
pub mod notify;
pub mod outbox;
pub mod qes;
pub mod reminders;
pub mod reuse;
pub mod rollout;
pub mod sign;
pub mod todo;
