//! `galsync-directory-reader`: see the crate documentation and `--help`.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

fn main() {
    galsync_platform::service::main::<galsync_directory_reader::Config, _, _>(
        "directory-reader",
        galsync_directory_reader::DEFAULT_LISTEN,
        galsync_directory_reader::serve,
    );
}
