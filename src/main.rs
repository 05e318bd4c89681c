//! The `credcheck` binary: everything lives in the library so tests and examples share it.
//! Reads no env vars itself.
#![forbid(unsafe_code)]

fn main() {
    let code = credcheck::main_entry();
    // Exit now: do not wait for a stalled resolver thread or a hung credential_process.
    std::process::exit(code);
}
