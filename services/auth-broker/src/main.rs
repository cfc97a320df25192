//! `galsync-auth-broker`: see the crate documentation and `--help`.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

fn main() {
    galsync_platform::service::main::<galsync_auth_broker::Config, _, _>(
        "auth-broker",
        galsync_auth_broker::DEFAULT_LISTEN,
        galsync_auth_broker::serve,
    );
}
