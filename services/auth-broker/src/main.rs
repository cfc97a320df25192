//! `galsync-auth-broker`: see the crate documentation and `--help`.

fn main() {
    galsync_platform::service::main::<galsync_auth_broker::Config, _, _>(
        "auth-broker",
        galsync_auth_broker::DEFAULT_LISTEN,
        galsync_auth_broker::serve,
    );
}
