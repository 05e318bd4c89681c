//! The one integration-test crate (ripgrep's layout): every test runs the built binary.
//! Modules: `support` (harness, fake peers, moto, netns), `scenarios` (data-driven end-to-end
//! scenarios and the secret sweep), `schema` (the JSON report's schema), `e2e` (tests that
//! need more than one run: wrapper, health, netns, chroot, moto), `fbdiff` (the real Fluent Bit
//! against credcheck's verdicts, issue 20).

mod cache;
mod conformance;
mod e2e;
mod fbdiff;
mod layers;
mod logs;
mod meta;
mod pid;
mod processes;
mod promise;
mod props;
mod scenarios;
mod schema;
mod support;
mod sweep;

mod docker;
