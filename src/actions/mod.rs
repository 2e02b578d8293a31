//! Use cases: what a page, the API and the CLI do, each through the same function. This
//! floor sits on `domain/`, `db/`, `models/`, `seed/` (reference facts), `documents/`,
//! `seal/` and `mail/`, and never imports `http/`, `api/` or `web/`.

pub mod bulk;
pub mod catalog;
pub mod documents;
pub mod ea;
pub mod exports;
pub mod outbox;
pub mod reminders;
pub mod rollout;
