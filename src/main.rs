//! `iotdest` binary: parse arguments, run, map the outcome to an exit code.
//! 0 all ok; 1 some files failed or were skipped; 2 fatal. A closed stdout (broken pipe) is 0.

use std::process::ExitCode;

/// mimalloc: extraction makes millions of short-lived small allocations (row strings, DNS
/// names, builder buffers); glibc's allocator and its page trimming cost about a quarter of the
/// run (see README, Performance).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mi_option_e` enum of mimalloc.h (v2 and v3) as bundled by
/// libmimalloc-sys 0.1.49 (pinned).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Turns transparent huge pages off for this process. Where the kernel is set to `always`, the
/// first touch of any 2 MiB-aligned stretch of heap faults in and zeroes a whole huge page,
/// used or not: on the synth set that zeroing was 8 % of extraction's samples, and the kernel's
/// share fell from 16 % to 13.5 % without it (perf record). Heap pages are reused (see above),
/// so the smaller pages do not mean more faults later. mimalloc's own switch for this
/// (`MIMALLOC_ALLOW_THP=0`) is read before `main` runs, so it cannot be set here.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only; failure (an old kernel) leaves THP as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    // Freed memory is kept for reuse rather than returned to the OS after 10 ms: extraction
    // frees and re-allocates its row buffers capture after capture, and re-faulting (zeroing)
    // those pages cost a quarter to a third of the run. Peak memory is unchanged.
    // SAFETY: plain C call setting an integer option, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    no_transparent_huge_pages();
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
