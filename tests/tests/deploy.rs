//! The deployment files in `deploy/` keep their promises: the Kubernetes base,
//! the compose file, the systemd units and the image run the four services
//! and the admin console as the real binaries, with flags and environment
//! variables they accept, hold their keys the way docs/deployment.md says,
//! and are hardened; the scheduler binds the console's identity. When the tools are on PATH the
//! kustomize base is rendered (`kubectl kustomize`) and checked against the
//! Kubernetes schemas (`python3 -m kubernetes_validate`), and the units pass
//! `systemd-analyze verify`; without them that part prints `skipping …`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

/// Every binary the deployment forms run: the four services and the admin
/// console. Each is in every form, so a missing file fails a test.
const SERVICES: [&str; 5] = [
    "auth-broker",
    "directory-reader",
    "contact-writer",
    "scheduler",
    "console",
];

/// The Kubernetes version whose schemas the rendered base is checked against
/// (the kubectl this repository is developed with).
const KUBERNETES_VERSION: &str = "1.32.0";

/// Flags naming a peer service's URL, and the service they name.
const PEER_FLAGS: [(&str, &str); 3] = [
    ("broker-url", "auth-broker"),
    ("reader-url", "directory-reader"),
    ("scheduler-url", "scheduler"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every non-empty document of a YAML stream.
fn documents(text: &str, origin: &str) -> Vec<Value> {
    let mut parsed = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = <Value as serde::Deserialize>::deserialize(document)
            .unwrap_or_else(|error| panic!("{origin}: document {index} is not YAML: {error}"));
        if !value.is_null() {
            parsed.push(value);
        }
    }
    parsed
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|extension| extension.to_str()),
                Some("yaml" | "yml")
            )
        })
        .collect();
    files.sort();
    files
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| items.iter().map(|item| text(item).to_owned()).collect())
        .unwrap_or_default()
}

fn kind_name(document: &Value) -> (String, String) {
    (
        text(&document["kind"]).to_owned(),
        text(&document["metadata"]["name"]).to_owned(),
    )
}

/// Parses `args` (without the program name) as `service`'s command line,
/// exactly as the binary would; the error is clap's message.
fn parse_service_args(service: &str, args: &[String]) -> Result<ParsedConfig, String> {
    let argv: Vec<OsString> = std::iter::once(OsString::from(format!("galsync-{service}")))
        .chain(args.iter().map(OsString::from))
        .collect();
    macro_rules! parse {
        ($config:ty, $master_key_file:expr) => {{
            let config: $config =
                galsync_platform::config::parse_from(argv).map_err(|error| error.to_string())?;
            ParsedConfig {
                tls_cert: config.server.tls_cert.clone(),
                tls_key: config.server.tls_key.clone(),
                tls_ca: config.server.tls_ca.clone(),
                data_dir: Some(config.data_dir.clone()),
                master_key_file: $master_key_file(&config),
            }
        }};
    }
    fn none<T>(_: &T) -> Option<PathBuf> {
        None
    }
    let parsed = match service {
        "auth-broker" => parse!(
            galsync_auth_broker::Config,
            |config: &galsync_auth_broker::Config| config.master_key_file.clone()
        ),
        "directory-reader" => parse!(galsync_directory_reader::Config, none),
        "contact-writer" => parse!(galsync_contact_writer::Config, none),
        "scheduler" => parse!(galsync_scheduler::Config, none),
        "console" => {
            let config: galsync_console::Config =
                galsync_platform::config::parse_from(argv).map_err(|error| error.to_string())?;
            // The console reads its mTLS identity from --pki-dir, by these names.
            let files = galsync_platform::pki::ServiceTlsFiles::in_dir(
                &config.pki_dir,
                galsync_console::IDENTITY,
            );
            ParsedConfig {
                tls_cert: Some(files.cert),
                tls_key: Some(files.key),
                tls_ca: Some(files.ca),
                data_dir: None,
                master_key_file: None,
            }
        }
        other => panic!("unknown service {other}"),
    };
    Ok(parsed)
}

/// What the checks below need of a parsed configuration. For the console,
/// the TLS files are the ones it reads from --pki-dir.
#[derive(Debug)]
struct ParsedConfig {
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    /// `None` for the console, which stores nothing.
    data_dir: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
}

/// The clap command of `service`'s configuration.
fn config_command(service: &str) -> clap::Command {
    use clap::CommandFactory;
    match service {
        "auth-broker" => galsync_auth_broker::Config::command(),
        "directory-reader" => galsync_directory_reader::Config::command(),
        "contact-writer" => galsync_contact_writer::Config::command(),
        "scheduler" => galsync_scheduler::Config::command(),
        "console" => galsync_console::Config::command(),
        other => panic!("unknown service {other}"),
    }
}

/// Whether `service` has a store (`--store-url`): the console has none.
fn has_store(service: &str) -> bool {
    config_command(service)
        .get_arguments()
        .any(|argument| argument.get_long() == Some("store-url"))
}

/// The console calls the scheduler and the broker as its own mTLS identity
/// (`galsync pki init` names it `console`) on behalf of the person signed in:
/// both must believe that identity, and the scheduler must bind it to a role
/// (an unbound identity is refused every call). `--role-binding` replaces
/// the default list, so a deployment that sets it must name the console again.
fn assert_console_bound(place: &str, scheduler_args: &[String], broker_args: &[String]) {
    let argv = |binary: &str, args: &[String]| -> Vec<OsString> {
        std::iter::once(OsString::from(binary))
            .chain(args.iter().map(OsString::from))
            .collect()
    };
    let scheduler: galsync_scheduler::Config =
        galsync_platform::config::parse_from(argv("galsync-scheduler", scheduler_args))
            .unwrap_or_else(|error| panic!("{place}: the scheduler's flags: {error}"));
    let broker: galsync_auth_broker::Config =
        galsync_platform::config::parse_from(argv("galsync-auth-broker", broker_args))
            .unwrap_or_else(|error| panic!("{place}: the auth-broker's flags: {error}"));
    let console = galsync_console::IDENTITY;
    assert_eq!(
        scheduler.console_identity, console,
        "{place}: the scheduler's --console-identity"
    );
    assert_eq!(
        broker.console_identity, console,
        "{place}: the auth-broker's --console-identity"
    );
    let bound = scheduler.role_binding.iter().any(|binding| {
        binding
            .split_once('=')
            .is_some_and(|(identity, _)| identity.trim() == console)
    });
    assert!(
        bound,
        "{place}: the scheduler's --role-binding {:?} does not bind {console}, so it refuses every console call",
        scheduler.role_binding
    );
}

/// The environment variables `service` reads (one per flag, plus GALSYNC_CONFIG).
fn service_env_names(service: &str) -> BTreeSet<String> {
    let command = config_command(service);
    let mut names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.insert("GALSYNC_CONFIG".to_owned());
    names
}

/// The peer-URL flags (`PEER_FLAGS`) `service` accepts: each must be set
/// wherever it is deployed, or it calls 127.0.0.1 (or, for the scheduler's
/// --broker-url, checks nothing).
fn peer_flags_accepted(service: &str) -> Vec<&'static str> {
    let command = config_command(service);
    PEER_FLAGS
        .iter()
        .map(|(flag, _)| *flag)
        .filter(|flag| {
            command
                .get_arguments()
                .any(|argument| argument.get_long() == Some(*flag))
        })
        .collect()
}

fn assert_peer_flags_set(place: &str, service: &str, args: &[String]) {
    for flag in peer_flags_accepted(service) {
        assert!(
            args.iter()
                .any(|arg| arg.starts_with(&format!("--{flag}="))),
            "{place}: galsync-{service} accepts --{flag} and it is not set"
        );
    }
}

fn store_url_env(service: &str) -> String {
    format!(
        "GALSYNC_{}_STORE_URL",
        service.to_uppercase().replace('-', "_")
    )
}

fn database(service: &str) -> String {
    format!("galsync_{}", service.replace('-', "_"))
}

// ---------------------------------------------------------------- Kubernetes

struct KubernetesBase {
    /// (kind, name) → document, from the files kustomization.yaml lists.
    objects: BTreeMap<(String, String), Value>,
    /// Secret name → its keys, from secrets.example.yaml.
    example_secrets: BTreeMap<String, BTreeSet<String>>,
}

fn kubernetes_base() -> KubernetesBase {
    let dir = deploy("kubernetes");
    let kustomization = documents(&read(&dir.join("kustomization.yaml")), "kustomization.yaml");
    assert_eq!(kustomization.len(), 1);
    let listed: BTreeSet<String> = strings(&kustomization[0]["resources"])
        .into_iter()
        .collect();
    let mut objects = BTreeMap::new();
    let mut example_secrets = BTreeMap::new();
    let mut on_disk = BTreeSet::new();
    for path in yaml_files(&dir) {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = documents(&read(&path), &file_name);
        assert!(!parsed.is_empty(), "{file_name} holds no document");
        if file_name == "kustomization.yaml" {
            continue;
        }
        for document in parsed {
            let (kind, name) = kind_name(&document);
            assert!(
                !kind.is_empty() && !name.is_empty() && document["apiVersion"].is_string(),
                "{file_name}: every object has apiVersion, kind and metadata.name"
            );
            if file_name == "secrets.example.yaml" {
                assert_eq!(kind, "Secret", "{file_name} holds only Secrets");
                let keys = document["stringData"]
                    .as_mapping()
                    .map(|data| data.keys().map(|key| text(key).to_owned()).collect())
                    .unwrap_or_default();
                example_secrets.insert(name, keys);
            } else {
                let previous = objects.insert((kind.clone(), name.clone()), document);
                assert!(previous.is_none(), "{kind}/{name} is defined twice");
            }
        }
        if file_name != "secrets.example.yaml" {
            on_disk.insert(file_name);
        }
    }
    assert_eq!(
        listed, on_disk,
        "kustomization.yaml lists every manifest in deploy/kubernetes (secrets.example.yaml stays out so applying the base never overwrites real keys)"
    );
    KubernetesBase {
        objects,
        example_secrets,
    }
}

fn container_of<'a>(deployment: &'a Value, service: &str) -> &'a Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap_or_else(|| panic!("Deployment {service} has no containers"));
    assert_eq!(containers.len(), 1, "Deployment {service}: one container");
    &containers[0]
}

fn labels_of(template_or_selector: &Value) -> BTreeMap<String, String> {
    template_or_selector
        .as_mapping()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (text(key).to_owned(), text(value).to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a `matchLabels` selector selects pods with `labels`.
fn selects(match_labels: &Value, labels: &BTreeMap<String, String>) -> bool {
    labels_of(match_labels)
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

#[test]
fn kubernetes_base_runs_each_service_hardened_with_real_flags() {
    let base = kubernetes_base();
    let namespace = &base.objects[&("Namespace".to_owned(), "galsync".to_owned())];
    assert_eq!(
        text(&namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]),
        "restricted"
    );

    let deployments: BTreeSet<String> = base
        .objects
        .keys()
        .filter(|(kind, _)| kind == "Deployment")
        .map(|(_, name)| name.clone())
        .collect();
    let expected: BTreeSet<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    assert_eq!(deployments, expected, "one Deployment per service");

    for service in SERVICES {
        let deployment = &base.objects[&("Deployment".to_owned(), service.to_owned())];
        let pod = &deployment["spec"]["template"]["spec"];
        let container = container_of(deployment, service);
        let place = format!("Deployment {service}");

        // The real binary, and flags the service's Config accepts.
        assert_eq!(
            strings(&container["command"]),
            vec![format!("/usr/local/bin/galsync-{service}")],
            "{place}: command"
        );
        let args = strings(&container["args"]);
        let parsed = parse_service_args(service, &args)
            .unwrap_or_else(|error| panic!("{place}: args {args:?} are refused: {error}"));
        assert_peer_flags_set(&place, service, &args);
        assert!(
            parsed.tls_cert.is_some() && parsed.tls_key.is_some() && parsed.tls_ca.is_some(),
            "{place}: serves mTLS"
        );
        let env_names = service_env_names(service);
        let mut env_seen = BTreeSet::new();
        for env in container["env"].as_sequence().cloned().unwrap_or_default() {
            let name = text(&env["name"]).to_owned();
            assert!(
                env_names.contains(&name),
                "{place}: env {name} is not read by galsync-{service}"
            );
            let secret = &env["valueFrom"]["secretKeyRef"];
            if secret.is_mapping() {
                let keys = base
                    .example_secrets
                    .get(text(&secret["name"]))
                    .unwrap_or_else(|| {
                        panic!(
                            "{place}: Secret {} is not in secrets.example.yaml",
                            text(&secret["name"])
                        )
                    });
                assert!(keys.contains(text(&secret["key"])), "{place}: {name}");
            }
            env_seen.insert(name);
        }
        if has_store(service) {
            assert!(
                env_seen.contains(&store_url_env(service)),
                "{place}: the store DSN comes from a Secret"
            );
        }

        // Every file a flag names lies in a mounted Secret that has that key.
        let volumes: BTreeMap<String, &Value> = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|volume| (text(&volume["name"]).to_owned(), volume))
            .collect();
        let mut secret_mounts = Vec::new();
        for mount in container["volumeMounts"].as_sequence().unwrap() {
            let volume = volumes[text(&mount["name"])];
            if volume["secret"].is_mapping() {
                assert_eq!(
                    mount["readOnly"].as_bool(),
                    Some(true),
                    "{place}: secrets mount read-only"
                );
                secret_mounts.push((
                    text(&mount["mountPath"]).to_owned(),
                    text(&volume["secret"]["secretName"]).to_owned(),
                ));
            }
        }
        let mut files: Vec<PathBuf> = vec![
            parsed.tls_cert.unwrap(),
            parsed.tls_key.unwrap(),
            parsed.tls_ca.unwrap(),
        ];
        if service == "auth-broker" {
            files.push(
                parsed
                    .master_key_file
                    .unwrap_or_else(|| panic!("{place}: --master-key-file names the key")),
            );
        }
        for file in files {
            let (secret, key) = secret_mounts
                .iter()
                .find_map(|(mount, secret)| {
                    file.strip_prefix(mount)
                        .ok()
                        .map(|key| (secret.clone(), key.to_string_lossy().into_owned()))
                })
                .unwrap_or_else(|| panic!("{place}: {} is in no mounted Secret", file.display()));
            let keys = base.example_secrets.get(&secret).unwrap_or_else(|| {
                panic!("{place}: Secret {secret} is not in secrets.example.yaml")
            });
            assert!(
                keys.contains(&key),
                "{place}: Secret {secret} has no key {key} for {}",
                file.display()
            );
        }

        // PodSecurity `restricted`.
        let security = &container["securityContext"];
        assert_eq!(
            security["runAsNonRoot"].as_bool(),
            Some(true),
            "{place}: runAsNonRoot"
        );
        assert_eq!(
            security["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{place}: readOnlyRootFilesystem"
        );
        assert_eq!(
            security["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{place}: allowPrivilegeEscalation"
        );
        assert!(
            strings(&security["capabilities"]["drop"]).contains(&"ALL".to_owned()),
            "{place}: drops ALL capabilities"
        );
        assert_eq!(
            text(&security["seccompProfile"]["type"]),
            "RuntimeDefault",
            "{place}: seccomp"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));

        // Health is served only over mTLS; a `grpc:` probe (plaintext) would
        // never pass.
        for probe in ["readinessProbe", "livenessProbe"] {
            let probe_spec = &container[probe];
            assert!(probe_spec.is_mapping(), "{place}: {probe}");
            assert!(
                probe_spec["grpc"].is_null(),
                "{place}: {probe} uses grpc, but health is served only with mTLS"
            );
        }
    }

    let args_of = |service: &str| {
        let deployment = &base.objects[&("Deployment".to_owned(), service.to_owned())];
        strings(&container_of(deployment, service)["args"])
    };
    assert_console_bound(
        "deploy/kubernetes",
        &args_of("scheduler"),
        &args_of("auth-broker"),
    );

    // The writer scales on CPU; an HPA needs a CPU request to do that.
    let hpa = &base.objects[&(
        "HorizontalPodAutoscaler".to_owned(),
        "contact-writer".to_owned(),
    )];
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(
        (
            text(&target["apiVersion"]),
            text(&target["kind"]),
            text(&target["name"])
        ),
        ("apps/v1", "Deployment", "contact-writer")
    );
    let writer = container_of(
        &base.objects[&("Deployment".to_owned(), "contact-writer".to_owned())],
        "contact-writer",
    );
    assert!(writer["resources"]["requests"]["cpu"].is_string());
    let autoscalers = base
        .objects
        .keys()
        .filter(|(kind, _)| kind == "HorizontalPodAutoscaler")
        .count();
    assert_eq!(autoscalers, 1, "only the writer is autoscaled");

    // Services select the pods they name and target a port the pod serves.
    for ((kind, name), service) in &base.objects {
        if kind != "Service" {
            continue;
        }
        let deployment = &base.objects[&("Deployment".to_owned(), name.clone())];
        let pod_labels = labels_of(&deployment["spec"]["template"]["metadata"]["labels"]);
        assert!(
            selects(&service["spec"]["selector"], &pod_labels),
            "Service {name}"
        );
        let container = container_of(deployment, name);
        let port_names: Vec<String> = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|port| text(&port["name"]).to_owned())
            .collect();
        for port in service["spec"]["ports"].as_sequence().unwrap() {
            assert!(
                port_names.contains(&text(&port["targetPort"]).to_owned()),
                "Service {name}: targetPort"
            );
        }
    }
}

#[test]
fn kubernetes_network_policies_admit_only_the_callers_the_code_has() {
    let base = kubernetes_base();
    let pod_labels: BTreeMap<String, BTreeMap<String, String>> = SERVICES
        .iter()
        .map(|service| {
            let deployment = &base.objects[&("Deployment".to_owned(), service.to_string())];
            (
                service.to_string(),
                labels_of(&deployment["spec"]["template"]["metadata"]["labels"]),
            )
        })
        .collect();
    let policies: Vec<&Value> = base
        .objects
        .iter()
        .filter(|((kind, _), _)| kind == "NetworkPolicy")
        .map(|(_, policy)| policy)
        .collect();
    assert!(
        policies.iter().any(|policy| {
            labels_of(&policy["spec"]["podSelector"]["matchLabels"]).is_empty()
                && policy["spec"]["podSelector"]["matchExpressions"].is_null()
                && strings(&policy["spec"]["policyTypes"]).contains(&"Ingress".to_owned())
                && policy["spec"]["ingress"].is_null()
        }),
        "a default-deny ingress policy for every pod"
    );

    // For each service: which services may connect (None = anyone) on which ports.
    let mut admitted: BTreeMap<&str, (BTreeSet<String>, bool, BTreeSet<i64>)> = BTreeMap::new();
    for service in SERVICES {
        let labels = &pod_labels[service];
        let entry = admitted.entry(service).or_default();
        for policy in &policies {
            if !selects(&policy["spec"]["podSelector"]["matchLabels"], labels) {
                continue;
            }
            for rule in policy["spec"]["ingress"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
            {
                for port in rule["ports"].as_sequence().cloned().unwrap_or_default() {
                    entry
                        .2
                        .insert(port["port"].as_i64().expect("numeric ports"));
                }
                match rule["from"].as_sequence() {
                    None => entry.1 = true,
                    Some(peers) => {
                        for peer in peers {
                            assert!(
                                peer["namespaceSelector"].is_null() && peer["ipBlock"].is_null(),
                                "{service}: only pods of this namespace are admitted"
                            );
                            let callers: Vec<String> = pod_labels
                                .iter()
                                .filter(|(_, caller_labels)| {
                                    selects(&peer["podSelector"]["matchLabels"], caller_labels)
                                })
                                .map(|(caller, _)| caller.clone())
                                .collect();
                            assert_eq!(callers.len(), 1, "{service}: each peer is one service");
                            entry.0.extend(callers);
                        }
                    }
                }
            }
        }
    }
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<BTreeSet<_>>()
    };
    // Whoever a manifest points at a peer (--broker-url, --reader-url,
    // --scheduler-url) is admitted by that peer's policy on the URL's port,
    // and nobody else is: the policies follow the calls the services make.
    let mut configured: BTreeMap<&str, (BTreeSet<String>, BTreeSet<i64>)> = BTreeMap::new();
    for caller in SERVICES {
        let deployment = &base.objects[&("Deployment".to_owned(), caller.to_owned())];
        for arg in strings(&container_of(deployment, caller)["args"]) {
            for (flag, peer) in PEER_FLAGS {
                let Some(url) = arg.strip_prefix(&format!("--{flag}=")) else {
                    continue;
                };
                let authority = url
                    .strip_prefix("https://")
                    .unwrap_or_else(|| panic!("{caller}: {arg} is not https://"));
                let (host, port) = authority.trim_end_matches('/').split_once(':').unwrap();
                assert_eq!(host, peer, "{caller}: {arg} names the {peer} Service");
                let service = &base.objects[&("Service".to_owned(), peer.to_owned())];
                let port: i64 = port.parse().unwrap();
                assert!(
                    service["spec"]["ports"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .any(|service_port| service_port["port"].as_i64() == Some(port)),
                    "{caller}: {arg}: Service {peer} has no port {port}"
                );
                let entry = configured.entry(peer).or_default();
                entry.0.insert(caller.to_owned());
                entry.1.insert(port);
            }
        }
    }
    for service in SERVICES {
        let (callers, open, ports) = &admitted[service];
        let (wanted_callers, wanted_ports) = configured.remove(service).unwrap_or_default();
        if !open {
            assert_eq!(
                callers, &wanted_callers,
                "{service}: admitted callers are the services configured to call it"
            );
        }
        assert!(
            wanted_ports.is_subset(ports),
            "{service}: its policy admits port(s) {wanted_ports:?}, got {ports:?}"
        );
    }

    // Tokens for the reader and the writers; GetTenant for the scheduler;
    // the console's tenant pages.
    assert_eq!(
        admitted["auth-broker"].0,
        set(&["directory-reader", "contact-writer", "scheduler", "console"])
    );
    assert!(
        !admitted["auth-broker"].1,
        "the broker is not open to everyone"
    );
    assert_eq!(admitted["auth-broker"].2, [50051].into());
    // Snapshots: the scheduler and the writers.
    assert_eq!(
        admitted["directory-reader"].0,
        set(&["scheduler", "contact-writer"])
    );
    assert!(!admitted["directory-reader"].1);
    // Nothing dials a writer.
    assert!(admitted["contact-writer"].0.is_empty() && !admitted["contact-writer"].1);
    // Open ports: the scheduler's public API (and work queue), and the
    // console's HTTPS for browsers.
    assert!(admitted["scheduler"].1, "the scheduler's API is reachable");
    assert_eq!(admitted["scheduler"].2, [50050].into());
    assert!(admitted["console"].1, "browsers reach the console");
    assert_eq!(admitted["console"].2, [8443].into());
}

#[test]
fn kubernetes_base_renders_with_kustomize_and_validates_against_the_schemas() {
    let dir = deploy("kubernetes");
    let rendered = match Command::new("kubectl").arg("kustomize").arg(&dir).output() {
        Err(error) => {
            println!("skipping kubectl kustomize: kubectl cannot be run ({error})");
            return;
        }
        Ok(output) => {
            assert!(
                output.status.success(),
                "kubectl kustomize {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let objects = documents(&rendered, "kubectl kustomize output");
    for object in &objects {
        let (kind, name) = kind_name(object);
        if kind != "Namespace" {
            assert_eq!(
                text(&object["metadata"]["namespace"]),
                "galsync",
                "{kind}/{name} is rendered into the galsync namespace"
            );
        }
    }
    let rendered_deployments = objects
        .iter()
        .filter(|object| text(&object["kind"]) == "Deployment")
        .count();
    assert_eq!(rendered_deployments, SERVICES.len());

    let importable = Command::new("python3")
        .args(["-c", "import kubernetes_validate"])
        .output();
    match importable {
        Err(error) => {
            println!("skipping kubernetes-validate: python3 cannot be run ({error})");
            return;
        }
        Ok(output) if !output.status.success() => {
            println!(
                "skipping kubernetes-validate: the python module is not installed (python3 -m pip install kubernetes-validate)"
            );
            return;
        }
        Ok(_) => {}
    }
    let scratch = tempfile::tempdir().unwrap();
    let rendered_path = scratch.path().join("rendered.yaml");
    std::fs::write(&rendered_path, &rendered).unwrap();
    let output = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(["--kubernetes-version", KUBERNETES_VERSION])
        .arg(&rendered_path)
        .arg(dir.join("secrets.example.yaml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubernetes-validate refused the rendered base:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ----------------------------------------------------------------- container

#[test]
fn the_image_builds_and_installs_every_binary_the_deployments_run() {
    let dockerfile = read(&deploy("container/Dockerfile"));
    for service in SERVICES {
        assert!(
            dockerfile.contains(&format!("-p galsync-{service} ")),
            "deploy/container/Dockerfile does not build galsync-{service} (cargo build -p galsync-{service})"
        );
        assert!(
            dockerfile.contains(&format!("target/release/galsync-{service} ")),
            "deploy/container/Dockerfile does not copy target/release/galsync-{service} to /usr/local/bin"
        );
    }
}

// ------------------------------------------------------------------- compose

#[test]
fn compose_runs_each_service_hardened_with_its_own_database_and_keys() {
    let path = deploy("compose/compose.yaml");
    let compose = documents(&read(&path), "compose.yaml");
    assert_eq!(compose.len(), 1);
    let services = &compose[0]["services"];
    assert!(services["postgres"].is_mapping(), "compose runs PostgreSQL");
    let init_sql = read(&deploy("compose/initdb/01-galsync.sql"));

    for service in SERVICES {
        let place = format!("compose service {service}");
        let spec = &services[service];
        assert!(spec.is_mapping(), "{place} is missing");
        let command = strings(&spec["command"]);
        assert_eq!(
            command.first().map(String::as_str),
            Some(format!("/usr/local/bin/galsync-{service}").as_str()),
            "{place}: the real binary"
        );
        let parsed = parse_service_args(service, &command[1..])
            .unwrap_or_else(|error| panic!("{place}: command {command:?} is refused: {error}"));
        assert_peer_flags_set(&place, service, &command[1..]);

        let env_names = service_env_names(service);
        let environment = spec["environment"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        for (name, _) in &environment {
            assert!(
                env_names.contains(text(name)),
                "{place}: env {} is not read by galsync-{service}",
                text(name)
            );
        }
        if has_store(service) {
            let store = text(&environment[&Value::from(store_url_env(service))]);
            assert!(
                store.starts_with(&format!("postgres://{}:", database(service)))
                    && store.ends_with(&format!("@postgres:5432/{}", database(service))),
                "{place}: its own role and database, got {store}"
            );
            assert!(
                init_sql.contains(&format!(
                    "CREATE DATABASE {} OWNER {};",
                    database(service),
                    database(service)
                )),
                "initdb creates {}",
                database(service)
            );
        }

        assert_eq!(
            spec["read_only"].as_bool(),
            Some(true),
            "{place}: read_only"
        );
        assert!(
            strings(&spec["cap_drop"]).contains(&"ALL".to_owned()),
            "{place}: cap_drop ALL"
        );
        assert!(
            strings(&spec["security_opt"]).contains(&"no-new-privileges:true".to_owned()),
            "{place}: no-new-privileges"
        );
        assert!(
            text(&spec["user"]).contains("GALSYNC_UID"),
            "{place}: not root"
        );

        // Mounts: read-only, only its own key, never the CA's key.
        let mut targets = BTreeSet::new();
        for volume in strings(&spec["volumes"]) {
            let parts: Vec<&str> = volume.split(':').collect();
            assert_eq!(parts.len(), 3, "{place}: {volume} is SOURCE:TARGET:ro");
            assert_eq!(parts[2], "ro", "{place}: {volume} is read-only");
            let source = parts[0];
            if source.ends_with(".key") {
                let own = source == format!("./pki/{service}.key")
                    || (service == "auth-broker" && source == "./master.key");
                assert!(own, "{place} mounts another identity's key {source}");
            }
            targets.insert(PathBuf::from(parts[1]));
        }
        let mut files = vec![
            parsed.tls_cert.unwrap(),
            parsed.tls_key.unwrap(),
            parsed.tls_ca.unwrap(),
        ];
        if service == "auth-broker" {
            files.push(parsed.master_key_file.expect("--master-key-file"));
        }
        for file in files {
            assert!(
                targets.contains(&file),
                "{place}: {} is not mounted",
                file.display()
            );
        }
    }
    let command_args_of = |service: &str| strings(&services[service]["command"])[1..].to_vec();
    assert_console_bound(
        "deploy/compose",
        &command_args_of("scheduler"),
        &command_args_of("auth-broker"),
    );
}

// ------------------------------------------------------------------- systemd

/// `[Section]` → key → values, in order.
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        unit.entry(section.clone())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    unit
}

#[test]
fn systemd_units_are_hardened_and_read_keys_from_credentials() {
    let mut args_per_service: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for service in SERVICES {
        let unit_name = format!("galsync-{service}.service");
        let unit = parse_unit(&read(&deploy(&format!("systemd/{unit_name}"))));
        let section = &unit["Service"];
        let one = |key: &str| -> &str {
            let values = section
                .get(key)
                .unwrap_or_else(|| panic!("{unit_name}: {key}= is missing"));
            values.last().unwrap()
        };
        for (key, value) in [
            ("DynamicUser", "yes"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("CapabilityBoundingSet", ""),
            ("SystemCallFilter", "@system-service"),
            ("UMask", "0077"),
            ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ] {
            assert_eq!(one(key), value, "{unit_name}: {key}");
        }
        // A data directory for the services; the console stores nothing.
        let state_directory = section
            .get("StateDirectory")
            .and_then(|values| values.last().cloned());
        if has_store(service) {
            assert_eq!(
                state_directory.as_deref(),
                Some(format!("galsync-{service}").as_str()),
                "{unit_name}: StateDirectory"
            );
        }

        // ExecStart: the real binary with flags the service accepts; keys from
        // $CREDENTIALS_DIRECTORY (%d) as LoadCredential= put them there.
        let exec: Vec<String> = one("ExecStart")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(exec[0], format!("/usr/local/bin/galsync-{service}"));
        let credentials_dir = format!("/run/credentials/{unit_name}");
        let config_file = format!("/etc/galsync/{service}.toml");
        let args: Vec<String> = exec[1..]
            .iter()
            .map(|arg| {
                if *arg == config_file {
                    // The example TOML deploy/config ships for this unit.
                    deploy(&format!("config/{service}.toml"))
                        .display()
                        .to_string()
                } else {
                    arg.replace("%d", &credentials_dir)
                }
            })
            .collect();
        assert!(
            exec.contains(&config_file),
            "{unit_name} reads {config_file}"
        );
        let toml = read(&deploy(&format!("config/{service}.toml")));
        for flag in peer_flags_accepted(service) {
            assert!(
                toml.lines()
                    .any(|line| line.starts_with(&format!("{flag} = \"https://"))),
                "deploy/config/{service}.toml: galsync-{service} accepts {flag} and it is not set"
            );
        }
        let parsed = parse_service_args(service, &args)
            .unwrap_or_else(|error| panic!("{unit_name}: ExecStart {exec:?} is refused: {error}"));
        let credentials: BTreeSet<String> = section["LoadCredential"]
            .iter()
            .map(|value| value.split_once(':').expect("ID:PATH").0.to_owned())
            .collect();
        let mut from_credentials = vec![parsed.tls_key.expect("--tls-key")];
        if service == "auth-broker" {
            from_credentials.push(parsed.master_key_file.expect("--master-key-file"));
        }
        // Certificates may be read in place (/etc/galsync/pki) or, as the
        // console's PKI directory is, handed over as credentials too.
        for certificate in [parsed.tls_cert, parsed.tls_ca].into_iter().flatten() {
            if certificate.starts_with(&credentials_dir) {
                from_credentials.push(certificate);
            }
        }
        for file in from_credentials {
            let id = file
                .strip_prefix(&credentials_dir)
                .unwrap_or_else(|_| {
                    panic!("{unit_name}: {} is not a credential (%d/…)", file.display())
                })
                .to_string_lossy()
                .into_owned();
            assert!(
                credentials.contains(&id),
                "{unit_name}: no LoadCredential={id}:…"
            );
        }
        assert_eq!(
            parsed.data_dir,
            state_directory.map(|directory| PathBuf::from("/var/lib").join(directory)),
            "{unit_name}: the TOML's data-dir is the unit's StateDirectory"
        );
        args_per_service.insert(service, args);
    }
    assert_console_bound(
        "deploy/systemd and deploy/config",
        &args_per_service["scheduler"],
        &args_per_service["auth-broker"],
    );
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let probe = Command::new("systemd-analyze").arg("--version").output();
    if let Err(error) = probe {
        println!("skipping systemd-analyze verify: systemd-analyze cannot be run ({error})");
        return;
    }
    // verify checks that ExecStart's binary exists and is executable, and
    // /usr/local/bin/galsync-* is not installed here. Copies of the units
    // point ExecStart at this test's own executable (a real file) instead, so
    // every other message, such as an unknown key or a value systemd cannot
    // parse (both only warnings, exit code 0), fails the test.
    let real_executable = std::env::current_exe().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for service in SERVICES {
        let unit_name = format!("galsync-{service}.service");
        let original = read(&deploy(&format!("systemd/{unit_name}")));
        let binary = format!("ExecStart=/usr/local/bin/galsync-{service} ");
        assert!(original.contains(&binary), "{unit_name}: {binary}");
        let copy = original.replace(
            &binary,
            &format!("ExecStart={} ", real_executable.display()),
        );
        let path = scratch.path().join(&unit_name);
        std::fs::write(&path, copy).unwrap();
        copies.push(path);
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&copies)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "systemd-analyze verify complained (exit {:?}):\n{said}",
        output.status.code()
    );
}
