//! The integration tests: one crate (one link), one module per feature. Real servers start on free
//! loopback ports inside each test and stop with it; a missing server binary fails the test.

mod common;

mod checks_alertmanager;
mod checks_sensu;
mod cli_pipes;
mod cli_snapshot;
mod config_load;
mod discovery;
mod e2e_panes;
mod e2e_tmux;
mod etcd_cluster;
mod etcd_source;
mod fuzz;
mod inventory;
mod logs_formats;
mod logs_http;
mod logs_navigation;
mod logs_redis;
mod metrics_graphite;
mod metrics_prometheus;
mod outages;
mod panics;
mod render_panes;
mod render_screen;
mod security;
mod stack_e2e;
mod terminal_safety;
mod tls;
mod trust_e2e;
