//! `galsync-contact-writer`: see the crate documentation and `--help`.

fn main() {
    galsync_platform::service::main::<galsync_contact_writer::Config, _, _>(
        "contact-writer",
        galsync_contact_writer::DEFAULT_LISTEN,
        galsync_contact_writer::serve,
    );
}
