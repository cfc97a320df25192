//! `galsync-scheduler`: see the crate documentation and `--help`.

fn main() {
    galsync_platform::service::main::<galsync_scheduler::Config, _, _>(
        "scheduler",
        galsync_scheduler::DEFAULT_LISTEN,
        galsync_scheduler::serve,
    );
}
