//! A certificate authority made by the test (rcgen, ring), for loopback fakes that must speak
//! TLS: the real Fluent Bit's `cloudwatch_logs` output always does (its ECS/EC2 credential
//! providers force `use_tls` on, fluent-bit v5.1.1 `plugins/out_cloudwatch_logs/cloudwatch_logs.c`
//! 336-356), so the fake CloudWatch Logs serves HTTPS with a certificate for DNS `localhost`
//! and IP 127.0.0.1, and both Fluent Bit (`tls.ca_file`) and credcheck (`AWS_CA_BUNDLE`) trust
//! the CA's PEM file. Owns: the CA, its PEM file in a temporary folder, the rustls server and
//! client configurations. Reads no environment variable.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A CA, a `localhost` / 127.0.0.1 server certificate it signed, and the CA's PEM on disk.
pub struct TestCa {
    dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    server: Arc<rustls::ServerConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestCa {
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "credcheck test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("self-signed CA");
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().expect("server key");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("server cert");
        let dir = tempfile::Builder::new()
            .prefix("credcheck-ca-")
            .tempdir()
            .expect("CA dir");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write ca.pem");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf_cert.der().clone()], key)
            .expect("server config");
        TestCa {
            dir,
            ca_der: ca_cert.der().clone(),
            server: Arc::new(server),
        }
    }

    /// The CA certificate as a PEM file (for `tls.ca_file` and `AWS_CA_BUNDLE`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.server)
    }

    /// A client that trusts only this CA (the Go plugin emulator's HTTPS).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA into root store");
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    pub fn server_name(host: &str) -> ServerName<'static> {
        ServerName::try_from(host.to_string()).expect("server name")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}
