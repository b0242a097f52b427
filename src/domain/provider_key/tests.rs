use super::*;

fn secret(s: &str) -> SecretInput {
    parse_secret(Zeroizing::new(s.to_owned())).ok().unwrap()
}

#[test]
fn at_most_a_third_of_a_secret_shows_and_nothing_of_a_short_one() {
    for short in ["abc", "12345678", "123456789", "12345678901"] {
        assert_eq!(secret(short).redacted(), "********", "{short}");
    }
    assert_eq!(secret("123456789012").redacted(), "12…12");
    assert_eq!(secret("12345678901234567").redacted(), "12…67");
    assert_eq!(secret("123456789012345678").redacted(), "123…678");
    assert_eq!(secret("sk-proj-abcdefghijklmnop").redacted(), "sk-p…mnop");
    for len in 12..80 {
        let value: String = ('a'..='z').cycle().take(len).collect();
        let shown = secret(&value)
            .redacted()
            .chars()
            .filter(|c| *c != '…')
            .count();
        assert!(shown * 3 <= len, "{len}: {shown} shown");
    }
    assert_eq!(
        secret("env.OPENAI_API_KEY").redacted(),
        "env.OPENAI_API_KEY"
    );
}

#[test]
fn env_references_must_name_a_variable_in_the_one_spelling() {
    assert!(matches!(secret("env._X1"), SecretInput::Env(v) if v == "_X1"));
    for bad in ["env.", "env.1X", "env.A-B", "env.A B"] {
        assert!(parse_secret(Zeroizing::new(bad.into())).is_err(), "{bad}");
    }
    for miscased in ["ENV.FOO", "Env.FOO", "eNv.X"] {
        let err = parse_secret(Zeroizing::new(miscased.into())).err().unwrap();
        assert!(err.contains("env.NAME"), "{err}");
    }
}

#[test]
fn a_sealed_value_reveals_the_original_and_an_env_value_reads_the_environment() {
    let master = MasterKey::generate().unwrap();
    let new = NewProviderKey {
        provider_id: ProviderSlug::parse_shape("openai").unwrap(),
        name: "k".into(),
        secret: secret("sk-live-0123456789"),
        description: None,
        metadata: None,
        routing: Default::default(),
    };
    let key = new.into_key(&master, 0, "admin").unwrap();
    assert_eq!(key.reveal(&master).unwrap().as_str(), "sk-live-0123456789");
    let stored = serde_json::to_string(&key).unwrap();
    assert!(!stored.contains("sk-live-0123456789"));
    assert!(key.reveal(&MasterKey::generate().unwrap()).is_err());

    let var = "MODELGATE_TEST_REVEAL_VAR";
    // SAFETY: this test alone touches this variable name.
    unsafe { std::env::set_var(var, "from-the-env") };
    let mut env_key = key.clone();
    env_key.value = StoredValue::Env(var.into());
    assert_eq!(env_key.reveal(&master).unwrap().as_str(), "from-the-env");
    env_key.value = StoredValue::Env("MODELGATE_TEST_SURELY_UNSET".into());
    assert!(matches!(
        env_key.reveal(&master),
        Err(RevealError::EnvUnset(_))
    ));
}
