//! Integration tests of the stand-ins as a library: the Redis and
//! PostgreSQL look-alikes against real clients, the pipeline's `http` and
//! `worker_pool` against real servers, and the teardown a downstream crate
//! asserts. (The stand-ins under the built binary are tested by the root
//! package's `tests/cli`.)

#[path = "../../../../tests/shared/mod.rs"]
mod shared;

mod pipeline_components;
mod postgres_hardening;
mod postgres_standin;
mod redis_limits;
mod redis_measure;
mod redis_standin;
mod teardown_order;
