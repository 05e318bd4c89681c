//! Trust roots: the bundled Mozilla roots (webpki-root-certs) plus `AWS_CA_BUNDLE`, as the
//! other SDKs honour it (the Rust SDK does not). Built only when an https endpoint is used,
//! so a report over plain-http peers never parses a certificate.
//! Reads: AWS_CA_BUNDLE.

use crate::env::Env;
use crate::error::Error;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;

pub const CA_BUNDLE: &str = "AWS_CA_BUNDLE";
/// A CA bundle is text; anything larger than this is not one.
const CA_BUNDLE_CAP: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Roots {
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// Bundled roots, plus every certificate of `AWS_CA_BUNDLE` when it is set.
    pub fn load(env: &Env) -> Result<Roots, Error> {
        let mut certs: Vec<CertificateDer<'static>> =
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec();
        if let Some(path) = env.non_blank(CA_BUNDLE) {
            certs.extend(read_bundle(env, Path::new(path))?);
        }
        Ok(Roots { certs })
    }

    /// A rustls client configuration (ring) for the endpoint client.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(self.certs.iter().cloned());
        rustls_builder().map(|b| b.with_root_certificates(store).with_no_client_auth())
    }

    /// The same roots as PEM, the form aws-smithy-http-client's TrustStore takes.
    pub fn pem(&self) -> Vec<u8> {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        for cert in &self.certs {
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            for line in engine.encode(cert.as_ref()).as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        out
    }
}

/// A rustls configuration that trusts nothing: for clients that only ever speak plain http.
pub fn plain_http_config() -> Result<rustls::ClientConfig, Error> {
    rustls_builder().map(|b| {
        b.with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    })
}

fn rustls_builder(
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, Error> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::config(
                "tls-setup",
                format!("TLS set-up failed: {e}"),
                "report this as a credcheck bug",
            )
        })
}

fn read_bundle(env: &Env, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let shown = path.display();
    let bytes = env.read_file(path, CA_BUNDLE_CAP).map_err(|e| {
        Error::config(
            "ca-bundle-unreadable",
            format!("{CA_BUNDLE}={shown} cannot be read: {e}"),
            format!("point {CA_BUNDLE} at a readable PEM file, or unset it"),
        )
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(Error::config(
            "ca-bundle-invalid",
            format!("{CA_BUNDLE}={shown} holds no PEM certificate"),
            format!("point {CA_BUNDLE} at a PEM bundle (-----BEGIN CERTIFICATE-----), or unset it"),
        ));
    }
    Ok(certs)
}
