//! `iotdest` binary: parse arguments, run, map the outcome to an exit code.
//! 0 all ok; 1 some files failed or were skipped; 2 fatal. A closed stdout (broken pipe) is 0.

use std::process::ExitCode;

/// mimalloc: extraction makes millions of short-lived small allocations (row strings, DNS
/// names, builder buffers); glibc's allocator and its page trimming cost about a quarter of the
/// run (see README, Performance).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match iotdest::cli::run() {
        Ok(iotdest::cli::Outcome::Ok) => ExitCode::SUCCESS,
        Ok(iotdest::cli::Outcome::SomeFilesFailed) => ExitCode::from(1),
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("iotdest: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
