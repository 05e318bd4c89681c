use super::*;

#[test]
fn secret_never_formats_its_value() {
    let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    assert_eq!(format!("{s}"), REDACTED);
    assert_eq!(format!("{s:?}"), REDACTED);
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"** redacted **\"");
}

#[test]
fn key_id_is_masked_everywhere() {
    let k = KeyId::new("ASIAIOSFODNN7EXAMPLE");
    assert_eq!(format!("{k}"), "ASIA…MPLE");
    assert_eq!(format!("{k:?}"), "ASIA…MPLE");
    assert!(k.is_temporary());
    assert_eq!(mask_key_id("short"), "****");
    assert_eq!(
        mask_key_id("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "****"
    );
    assert_eq!(mask_key_id("asiaiosfodnn7example"), "****");
}

#[test]
fn fragments_of_registered_secrets_are_hidden_in_every_form() {
    let secret = "Zq9Xk2LmP4vR8sT1uW3yB5nC7dF0gH/+AbCdEf";
    let _ = Secret::new(secret);
    for text in [
        format!("x {secret} y"),
        format!("x {} y", &secret[10..18]),
        format!("x {}\n{} y", &secret[..20], &secret[20..]),
        format!("x {} y", percent_encode(secret)),
        format!("x {} y", lower_hex(&percent_encode(secret))),
        format!(
            "x {} y",
            serde_json::to_string(secret).unwrap().replace('/', "\\/")
        ),
    ] {
        let out = scrub(&text);
        assert!(out.starts_with("x ") && out.ends_with(" y"), "{out}");
        for w in secret.as_bytes().windows(FRAGMENT) {
            let w = std::str::from_utf8(w).unwrap();
            assert!(!out.contains(w), "{text:?} → {out:?} shows {w}");
        }
    }
}

#[test]
fn foreign_text_hides_key_material_and_keyword_values() {
    let out = sanitize_foreign(
        "{\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"} + export AWS_SECRET_ACCESS_KEY=abcdefgh12\nminioadminsecretkey0123 password hunter2 Token: xyz",
        400,
    );
    for leaked in [
        "wJalr",
        "abcdefgh12",
        "minioadminsecretkey",
        "hunter2",
        "xyz",
    ] {
        assert!(!out.contains(leaked), "{leaked}: {out}");
    }
    assert!(!out.contains('\n'));
    assert_eq!(
        sanitize_foreign("ok \u{202e}txt\u{2028}next", 50),
        "ok  txt next"
    );
}

#[test]
fn names_and_prose_survive_foreign_sanitising() {
    for text in [
        "role arn:aws:iam::123456789012:role/my-application-production-task-role not found",
        "InvalidIdInRequest: CredentialsV2Request: Credentials not found",
        "The security token included in the request is invalid.",
        "AccessDeniedException: web_identity_token_file is not readable",
    ] {
        assert_eq!(sanitize_foreign(text, 200), text);
    }
    assert_eq!(
        printable(
            "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
            200
        ),
        "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55"
    );
}

#[test]
fn key_runs_are_masked() {
    assert_eq!(
        mask_key_runs("id=AKIASCRUBTEST0000001, x"),
        "id=AKIA…0001, x"
    );
    assert_eq!(
        mask_key_runs("AROAXXXXXXXXXXXXXXXX:s"),
        "AROAXXXXXXXXXXXXXXXX:s"
    );
}

#[test]
fn many_secrets_register_and_scrub() {
    for i in 0..20_000 {
        register_secret(&format!("bulk-secret-{i:08}-Zq9Xk2LmP4"));
    }
    let out = scrub("nothing here but bulk-secret-00001234-Zq9Xk2LmP4");
    assert!(!out.contains("00001234"), "{out}");
}
