//! The integration tests, one binary with a module per area (one link instead of one per
//! file). Each test gets a fresh database (`common::TestApp`): a new SQLite file, or a new
//! PostgreSQL schema with `TEST_DATABASE_URL` set.

mod common;

mod access;
mod accounts;
mod api_errors;
mod architecture;
mod backup;
mod browser;
mod cli;
mod cluster;
mod concurrency;
mod contracts;
mod exports;
mod filing;
mod golive;
mod hardening;
mod mail;
mod membership;
mod national;
mod ops;
mod parties;
mod pdf;
mod qes;
mod rollout;
mod rules;
mod scenarios;
mod seal;
mod storage;
mod web;
mod web_pages;
