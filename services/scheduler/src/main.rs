//! `galsync-scheduler`: see the crate documentation and `--help`.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

fn main() {
    galsync_platform::service::main::<galsync_scheduler::Config, _, _>(
        "scheduler",
        galsync_scheduler::DEFAULT_LISTEN,
        galsync_scheduler::serve,
    );
}
