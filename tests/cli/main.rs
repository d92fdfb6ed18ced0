//! Integration tests of the built `sundown` binary: its commands, signals,
//! the control socket, real `process` components and real services, the
//! teaching examples and the shipped configs. (The library's engine is
//! tested in `crates/sundown/tests`, the stand-ins as a library in
//! `crates/sundown-standins/tests`.)

mod common;
#[path = "../shared/mod.rs"]
mod shared;

mod ci_mode;
mod commands;
mod completions;
mod control;
mod control_change;
mod dry_run;
mod env;
mod example_configs;
mod examples;
mod include;
mod k8s;
mod live;
mod log_files;
mod logs;
mod metrics;
mod oneshot;
mod pid1;
mod pipeline;
mod probes;
mod process;
mod profiles;
mod real_services;
mod replicas;
mod restart;
mod robustness;
mod run_files;
mod signals;
mod standins;
mod stop;
mod timeline;
mod top;
mod tree;
mod usage;
