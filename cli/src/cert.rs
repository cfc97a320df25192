//! `galsync cert generate|import|export|list|rotate`: the certificates the
//! auth-broker signs client assertions with. Private keys never leave it.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use galsync_proto::v1;
use serde_json::{json, Value};

mod view;

pub use view::{certificate_json, certificate_note, print_certificate, state_name};

use crate::connect::{BrokerClient, GlobalArgs};
use crate::error::{CliError, CliResult, ExitCode, Target};
use crate::ids::{require_guid, CLIENT_ID_HELP, TENANT_ID_HELP};
use crate::output::{human_time, print_json, Table};

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Make an RSA key pair and a self-signed certificate in the broker.
    Generate(GenerateArgs),
    /// Import your own certificate and key (PKCS#12, or PEM certificate + key).
    Import(ImportArgs),
    /// Write the public certificate as a .cer (DER) to upload to the app registration.
    Export(ExportArgs),
    /// List certificates with their state, thumbprints and expiry.
    List(AppArgs),
    /// Make a replacement certificate now; the current one signs until the new one is uploaded.
    Rotate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct AppArgs {
    /// Directory (tenant) ID GUID.
    #[arg(long, env = "GALSYNC_TENANT_ID")]
    pub tenant_id: String,
    /// Application (client) ID; may be left out when the tenant has one app.
    #[arg(long)]
    pub client_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// RSA key size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048)]
    pub key_bits: u32,
    /// Validity in days.
    #[arg(long, default_value_t = 730)]
    pub validity_days: u32,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("material").required(true).args(["pfx", "cert_pem"])))]
pub struct ImportArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// A PKCS#12 file (.pfx/.p12) with certificate and private key.
    #[arg(long, value_name = "FILE")]
    pub pfx: Option<PathBuf>,
    /// Name of the environment variable holding the .pfx password (never a flag value).
    #[arg(long, value_name = "VAR", requires = "pfx")]
    pub password_env: Option<String>,
    /// PEM certificate file.
    #[arg(long, value_name = "FILE", requires = "key_pem")]
    pub cert_pem: Option<PathBuf>,
    /// PEM private key file (PKCS#8 or PKCS#1).
    #[arg(long, value_name = "FILE", requires = "cert_pem")]
    pub key_pem: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The certificate to export (see `galsync cert list`); default: the tenant's
    /// newest certificate awaiting upload, else its active one.
    #[arg(long)]
    pub certificate_id: Option<String>,
    /// Directory (tenant) ID GUID, to pick its certificate.
    #[arg(
        long,
        env = "GALSYNC_TENANT_ID",
        required_unless_present = "certificate_id"
    )]
    pub tenant_id: Option<String>,
    /// Application (client) ID, when the tenant has two apps.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Where to write the DER certificate, e.g. galsync.cer.
    #[arg(long, value_name = "FILE.cer")]
    pub out: PathBuf,
    /// Also write the certificate as PEM here.
    #[arg(long, value_name = "FILE.pem")]
    pub pem: Option<PathBuf>,
}

pub async fn run(globals: &GlobalArgs, command: CertCommand) -> CliResult {
    match command {
        CertCommand::Generate(args) => generate(globals, args, false).await,
        CertCommand::Rotate(args) => generate(globals, args, true).await,
        CertCommand::Import(args) => import(globals, args).await,
        CertCommand::Export(args) => export(globals, args).await,
        CertCommand::List(args) => list(globals, args).await,
    }
}

fn app_ids(app: &AppArgs) -> CliResult<(String, String)> {
    let tenant_id = require_guid("tenant-id", &app.tenant_id, TENANT_ID_HELP)?;
    let client_id = match &app.client_id {
        Some(client_id) => require_guid("client-id", client_id, CLIENT_ID_HELP)?,
        None => String::new(),
    };
    Ok((tenant_id, client_id))
}

async fn generate(globals: &GlobalArgs, args: GenerateArgs, rotate: bool) -> CliResult {
    let (tenant_id, client_id) = app_ids(&args.app)?;
    let (mut broker, target) = globals.broker()?;
    let certificate = if rotate {
        broker
            .rotate_certificate(v1::RotateCertificateRequest {
                tenant_id: tenant_id.clone(),
                client_id,
                key_bits: args.key_bits,
                validity_days: args.validity_days,
            })
            .await
    } else {
        broker
            .generate_certificate(v1::GenerateCertificateRequest {
                tenant_id: tenant_id.clone(),
                client_id,
                key_bits: args.key_bits,
                validity_days: args.validity_days,
            })
            .await
    }
    .map_err(|status| target.error(status))?
    .into_inner();
    if globals.output.is_json() {
        print_json(&certificate_json(&certificate));
        return Ok(());
    }
    println!(
        "{} certificate {} for app {}",
        if rotate {
            "made replacement"
        } else {
            "generated"
        },
        certificate.certificate_id,
        certificate.client_id
    );
    print_certificate(&certificate);
    println!();
    let uploaded = certificate.registration.starts_with("uploaded");
    if rotate && !certificate.registration.is_empty() {
        println!("{}", certificate.registration);
    }
    if !uploaded {
        println!("next: export it and upload the .cer to the app registration:");
        println!(
            "  galsync cert export --certificate-id {} --out galsync-{}.cer",
            certificate.certificate_id, certificate.thumbprint_sha1
        );
    }
    if rotate {
        println!(
            "the current certificate keeps signing until a token request with the new one succeeds"
        );
    }
    Ok(())
}

async fn import(globals: &GlobalArgs, args: ImportArgs) -> CliResult {
    let (tenant_id, client_id) = app_ids(&args.app)?;
    let material = match (&args.pfx, &args.cert_pem, &args.key_pem) {
        (Some(pfx), _, _) => {
            let password = match &args.password_env {
                Some(variable) => std::env::var(variable).map_err(|_| {
                    CliError::usage(format!(
                        "invalid --password-env: the environment variable {variable} is not set; \
                         export it with the .pfx password first"
                    ))
                })?,
                None => String::new(),
            };
            v1::import_certificate_request::Material::Pkcs12(v1::Pkcs12Bundle {
                der: read_file("pfx", pfx)?,
                password,
            })
        }
        (None, Some(cert_pem), Some(key_pem)) => {
            let certificate_pem =
                String::from_utf8(read_file("cert-pem", cert_pem)?).map_err(|_| {
                    CliError::usage(format!(
                        "invalid --cert-pem: {} is not PEM text",
                        cert_pem.display()
                    ))
                })?;
            let private_key_pem =
                String::from_utf8(read_file("key-pem", key_pem)?).map_err(|_| {
                    CliError::usage(format!(
                        "invalid --key-pem: {} is not PEM text",
                        key_pem.display()
                    ))
                })?;
            v1::import_certificate_request::Material::Pem(v1::PemBundle {
                certificate_pem,
                private_key_pem,
            })
        }
        _ => {
            return Err(CliError::usage(
                "give --pfx FILE [--password-env VAR], or --cert-pem FILE --key-pem FILE",
            ))
        }
    };
    let (mut broker, target) = globals.broker()?;
    let certificate = broker
        .import_certificate(v1::ImportCertificateRequest {
            tenant_id,
            client_id,
            material: Some(material),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner();
    if globals.output.is_json() {
        print_json(&certificate_json(&certificate));
        return Ok(());
    }
    println!("imported certificate {}", certificate.certificate_id);
    print_certificate(&certificate);
    Ok(())
}

fn read_file(flag: &str, path: &PathBuf) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|error| {
        CliError::usage(format!(
            "invalid --{flag}: cannot read {}: {error}",
            path.display()
        ))
    })
}

async fn export(globals: &GlobalArgs, args: ExportArgs) -> CliResult {
    let (mut broker, target) = globals.broker()?;
    let certificate_id = match &args.certificate_id {
        Some(certificate_id) => certificate_id.clone(),
        None => {
            let app = AppArgs {
                tenant_id: args.tenant_id.clone().unwrap_or_default(),
                client_id: args.client_id.clone(),
            };
            let (tenant_id, client_id) = app_ids(&app)?;
            pick_certificate(&mut broker, &target, &tenant_id, &client_id).await?
        }
    };
    let exported = export_certificate(&mut broker, &target, certificate_id).await?;
    let certificate = exported.certificate.unwrap_or_default();
    write_output("out", &args.out, &exported.cer_der)?;
    if let Some(pem_path) = &args.pem {
        write_output("pem", pem_path, exported.pem.as_bytes())?;
    }
    if globals.output.is_json() {
        let mut document = certificate_json(&certificate);
        document["path"] = json!(args.out.display().to_string());
        print_json(&document);
        return Ok(());
    }
    println!(
        "wrote {} ({} bytes, DER)",
        args.out.display(),
        exported.cer_der.len()
    );
    println!("SHA-1 thumbprint: {}", certificate.thumbprint_sha1);
    println!();
    println!("upload it in the Microsoft Entra admin center:");
    println!(
        "  App registrations > the app {} > Certificates & secrets > Certificates > Upload certificate",
        certificate.client_id
    );
    println!(
        "the portal then lists thumbprint {}; check with `galsync test-connection --tenant-id {}`",
        certificate.thumbprint_sha1, certificate.tenant_id
    );
    Ok(())
}

fn write_output(flag: &str, path: &PathBuf, bytes: &[u8]) -> CliResult {
    std::fs::write(path, bytes).map_err(|error| {
        CliError::usage(format!(
            "invalid --{flag}: cannot write {}: {error}",
            path.display()
        ))
    })
}

/// The public certificate (DER) and its thumbprints, as the broker holds them.
pub(crate) async fn export_certificate(
    broker: &mut BrokerClient,
    target: &Target,
    certificate_id: String,
) -> CliResult<v1::ExportCertificateResponse> {
    Ok(broker
        .export_certificate(v1::ExportCertificateRequest { certificate_id })
        .await
        .map_err(|status| target.error(status))?
        .into_inner())
}

/// The tenant's newest certificate awaiting upload, else its active one.
async fn pick_certificate(
    broker: &mut BrokerClient,
    target: &Target,
    tenant_id: &str,
    client_id: &str,
) -> CliResult<String> {
    match current_certificate_id(broker, target, tenant_id, client_id).await? {
        Some(certificate_id) => Ok(certificate_id),
        None => Err(CliError::new(
            ExitCode::NotFound,
            format!("tenant {tenant_id} has no usable certificate: make one with `galsync cert generate --tenant-id {tenant_id}`"),
        )),
    }
}

/// [`pick_certificate`]'s choice, or `None` when the tenant has no
/// certificate awaiting upload or active.
pub(crate) async fn current_certificate_id(
    broker: &mut BrokerClient,
    target: &Target,
    tenant_id: &str,
    client_id: &str,
) -> CliResult<Option<String>> {
    let mut certificates = broker
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .certificates;
    certificates.sort_by_key(|certificate| {
        std::cmp::Reverse(
            certificate
                .not_before
                .as_ref()
                .map(|at| at.seconds)
                .unwrap_or(0),
        )
    });
    for wanted in [
        v1::CertificateState::PendingRegistration,
        v1::CertificateState::Active,
    ] {
        if let Some(found) = certificates
            .iter()
            .find(|certificate| certificate.state == wanted as i32)
        {
            return Ok(Some(found.certificate_id.clone()));
        }
    }
    Ok(None)
}

async fn list(globals: &GlobalArgs, args: AppArgs) -> CliResult {
    let (tenant_id, client_id) = app_ids(&args)?;
    let (mut broker, target) = globals.broker()?;
    let certificates = broker
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: tenant_id.clone(),
            client_id,
        })
        .await
        .map_err(|status| target.error(status))?
        .into_inner()
        .certificates;
    if globals.output.is_json() {
        let items: Vec<Value> = certificates.iter().map(certificate_json).collect();
        print_json(&json!({ "certificates": items }));
        return Ok(());
    }
    if certificates.is_empty() {
        println!("no certificates: make one with `galsync cert generate --tenant-id {tenant_id}`");
        return Ok(());
    }
    let mut table = Table::new(&[
        "CERTIFICATE ID",
        "CLIENT ID",
        "STATE",
        "SHA-1 THUMBPRINT",
        "NOT AFTER",
        "NOTE",
    ]);
    for certificate in &certificates {
        table.row(vec![
            certificate.certificate_id.clone(),
            certificate.client_id.clone(),
            state_name(certificate.state).to_owned(),
            certificate.thumbprint_sha1.clone(),
            human_time(certificate.not_after.as_ref()),
            certificate_note(certificate),
        ]);
    }
    table.print();
    Ok(())
}
