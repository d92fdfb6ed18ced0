//! Criterion benchmark: parse + validate + plan at 10 / 100 / 1 000 components.
fn main() {}
