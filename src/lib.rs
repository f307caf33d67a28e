//! opsconsole: one terminal screen for a fleet registered in etcd — membership, checks, metrics, logs.

pub mod action;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod core;
pub mod keymap;
#[cfg(test)]
mod layers;
pub mod logging;
pub mod memory;
pub mod model;
pub mod paths;
pub mod redact;
pub mod sources;
pub mod state;

pub mod theme;
pub mod ui;
