//! `galsync-console`: see the crate documentation and `--help`.

#[global_allocator]
static ALLOCATOR: galsync_platform::Allocator = galsync_platform::Allocator;

fn main() {
    let config: galsync_console::Config = match galsync_platform::config::parse() {
        Ok(config) => config,
        Err(error) => galsync_platform::flags::exit_on_clap_error(error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async move {
        config.validate()?;
        let _telemetry = galsync_platform::telemetry::init("console", &config.telemetry)?;
        let listener = galsync_platform::grpc::bind(config.listen).await?;
        let shutdown = galsync_platform::grpc::shutdown_signal();
        galsync_console::serve(config, listener, shutdown).await
    });
    galsync_platform::exit_on_error(result);
}
