//! `galsync-contact-writer`: see the crate documentation and `--help`.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

fn main() {
    galsync_platform::service::main::<galsync_contact_writer::Config, _, _>(
        "contact-writer",
        galsync_contact_writer::DEFAULT_LISTEN,
        galsync_contact_writer::serve,
    );
}
