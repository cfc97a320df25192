//! Ports for services started on this machine (`galsync up`, tests).

/// Where [`free_port`] looks: below Linux's ephemeral range (32768–60999 by
/// default), which outgoing connections draw from. A port the OS handed out
/// for `bind(0)` is an ephemeral one, and any of the many connections a
/// running cluster opens (PostgreSQL pools reconnecting, HTTP to Graph) may
/// take it before the service that was told to listen on it binds it.
const LOCAL_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A loopback port no one listens on, distinct from every other this process
/// was given, outside the ephemeral range (so no outgoing connection takes it
/// before the service binds it).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(LOCAL_PORTS.end - LOCAL_PORTS.start);
    // A start of its own per process, so two test binaries seldom meet.
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = LOCAL_PORTS.start + offset as u16;
        let bindable = |address: &str| std::net::TcpListener::bind((address, port)).is_ok();
        if bindable("127.0.0.1") && bindable("0.0.0.0") {
            return port;
        }
    }
    panic!("no free port in {LOCAL_PORTS:?}");
}
