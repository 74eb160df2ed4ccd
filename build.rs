//! Lays out the code that start-up and a request run first in the release
//! server, in the order `link/symbol-order.txt` gives (written by
//! `bench/symbol_order.py`): the kernel maps the 64 KiB around each page of
//! code a process first touches, so start-up code spread over the text
//! kept most of it resident at rest (bench/README.md, "Idle memory").
//!
//! Only for release builds of x86_64 Linux with the toolchain's own linker
//! (LLD, which reads the file); a build told to use another linker, and
//! every other build, links as before.

use std::{env, path::Path};

fn main() {
    let order = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("link/symbol-order.txt");
    println!("cargo::rerun-if-changed={}", order.display());
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let release = env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let target = env::var("TARGET").unwrap_or_default();
    let own_linker = env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && !env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|flags| flags.contains("link"));
    if release && target == "x86_64-unknown-linux-gnu" && own_linker && order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=taskql=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bin=taskql=-Wl,--no-warn-symbol-ordering");
    }
}
