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
    free_ports(1)
}

/// The first of `count` consecutive loopback ports no one listens on (as
/// [`free_port`]), none of them given to anyone else in this process: for
/// `galsync up --port-base`, whose services take a run of ports.
pub fn free_ports(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(LOCAL_PORTS.end - LOCAL_PORTS.start);
    let count = u32::from(count.max(1));
    // A start of its own per process, so two test binaries seldom meet.
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let bindable = |port: u16| {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
    };
    for _ in 0..span {
        let offset = NEXT.fetch_add(count, Ordering::Relaxed) % span;
        if offset + count > span {
            continue;
        }
        let first = LOCAL_PORTS.start + offset as u16;
        if (0..count as u16).all(|step| bindable(first + step)) {
            return first;
        }
    }
    panic!("no {count} free consecutive ports in {LOCAL_PORTS:?}");
}
