//! Ctrl-C: before any write it ends the run at once (exit 130); once writes have begun it asks
//! the command to stop after the write in flight, so the run can say what it did and did not.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::exit;

/// Writes have begun: Ctrl-C now asks to stop between writes instead of exiting.
static WRITING: AtomicBool = AtomicBool::new(false);
/// Ctrl-C was pressed while writing.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler once for the process; later calls do nothing.
pub(crate) fn install() {
    // Fails only when a handler is already set, which then does the job.
    let _ = ctrlc::set_handler(|| {
        // A prompt hides the cursor while it reads keys: show it again in every case.
        let _ = console::Term::stderr().show_cursor();
        if WRITING.load(Ordering::SeqCst) && !INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\ninterrupted: stopping after the write in progress (Ctrl-C again stops at once)"
            );
            return;
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            eprintln!(
                "\ninterrupted again, in the middle of a write: run the same command again, its plan shows what is left"
            );
        } else {
            eprintln!("\ninterrupted");
        }
        std::process::exit(i32::from(exit::CANCELLED));
    });
}

/// From now on Ctrl-C asks to stop between writes (see [`interrupted`]).
pub(crate) fn writes_begin() {
    WRITING.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed since the writes began.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
