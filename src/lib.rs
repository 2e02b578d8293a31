//! Nachnutzungsregister: the contract and subsequent-use registry of d-NRW AöR in its role
//! as Kommunalvertreter.NRW. See README.md, "Architecture".

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "256"]

pub mod actions;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod seal;
pub mod seed;
pub mod store;
pub mod web;
