//! Separate hosts on one machine: a network namespace per service, each with
//! its own address on a bridge, so a service reaches another only through the
//! address its flags name — nothing can quietly assume localhost.
//!
//! Needs root and `ip` (iproute2). [`Hosts::new`] says why it cannot when
//! either is missing, and the test prints that and skips.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

/// The bridge, and a namespace and address per host. Dropping it removes
/// them all.
#[derive(Debug)]
pub struct Hosts {
    bridge: String,
    /// Host name → (namespace, address).
    hosts: Vec<(String, String, Ipv4Addr)>,
    /// The root namespace's address on the bridge (the emulator and the CLI
    /// live there, as Microsoft Graph and an administrator's machine do).
    pub gateway: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("`ip` cannot run: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Hosts {
    /// A host per name in `names`, on a /24 of its own chosen from the
    /// process id (so two test binaries never share one).
    pub fn new(names: &[&str]) -> Result<Hosts, String> {
        let tag = std::process::id() % 100_000;
        let subnet = 16 + (std::process::id() % 200) as u8;
        let bridge = format!("gsbr{tag}");
        let gateway = Ipv4Addr::new(10, 231, subnet, 1);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        let mut hosts = Hosts {
            bridge: bridge.clone(),
            hosts: Vec::new(),
            gateway,
        };
        ip(&["addr", "add", &format!("{gateway}/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for (index, name) in names.iter().enumerate() {
            let namespace = format!("gs{tag}-{index}");
            let veth = format!("gsv{tag}x{index}");
            let address = Ipv4Addr::new(10, 231, subnet, 10 + index as u8);
            ip(&["netns", "add", &namespace])?;
            hosts
                .hosts
                .push(((*name).to_owned(), namespace.clone(), address));
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &namespace,
            ])?;
            ip(&["link", "set", &veth, "master", &bridge, "up"])?;
            ip(&[
                "-n",
                &namespace,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &namespace, "link", "set", "eth0", "up"])?;
            ip(&["-n", &namespace, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn host(&self, name: &str) -> &(String, String, Ipv4Addr) {
        self.hosts
            .iter()
            .find(|(host, _, _)| host == name)
            .unwrap_or_else(|| panic!("no host named {name}"))
    }

    /// The address of host `name`.
    pub fn address(&self, name: &str) -> IpAddr {
        IpAddr::V4(self.host(name).2)
    }

    /// The command prefix that runs a program on host `name`.
    pub fn prefix(&self, name: &str) -> Vec<String> {
        ["ip", "netns", "exec", self.host(name).1.as_str()]
            .map(str::to_owned)
            .to_vec()
    }

    /// Every address, for the certificates (`galsync pki init --dns-name`).
    pub fn addresses(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|(_, _, address)| address.to_string())
            .collect()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for (_, namespace, _) in &self.hosts {
            let _ = ip(&["netns", "del", namespace]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// Why separate hosts cannot be made here (not root, no `ip`), or `None`.
pub fn unavailable() -> Option<String> {
    let probe = format!("gsprobe{}", std::process::id());
    match ip(&["netns", "add", &probe]) {
        Ok(()) => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Err(reason) => Some(format!("network namespaces cannot be made here ({reason})")),
    }
}
