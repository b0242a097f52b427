use super::*;

struct Known;

impl KnownProviders for Known {
    fn provider(&self, entry: &str) -> bool {
        entry == "up" || entry == "openai"
    }
    fn provider_id(&self, slug: &str) -> bool {
        self.provider(slug)
    }
    fn slug_of(&self, entry: &str) -> Option<String> {
        self.provider(entry).then(|| entry.to_owned())
    }
    fn key_owner(&self, key: Ulid) -> Option<String> {
        // Keys 1 and 2 are `up`'s, 3 is `openai`'s.
        match key.0 {
            1 | 2 => Some("up".into()),
            3 => Some("openai".into()),
            _ => None,
        }
    }
}

fn access(providers: Option<Vec<&str>>, models: Option<Vec<&str>>) -> Object<AccessInput> {
    let list = |l: Option<Vec<&str>>| {
        l.map(|l| {
            Object(DimensionInput {
                allow: Some(l.into_iter().map(str::to_owned).collect()),
            })
        })
    };
    Object(AccessInput {
        providers: list(providers),
        models: list(models),
    })
}

#[test]
fn every_bad_entry_is_named_and_unknown_providers_are_refused() {
    let body = CreateAccessKeyConfiguration {
        access: Some(access(
            Some(vec!["up", "nobody", "Bad Name"]),
            Some(vec!["up:*", "ghost:*", "no spaces", "llama3.1:8b", ""]),
        )),
        ..Default::default()
    };
    let v = NewAccessKeyConfiguration::parse(body, &Known)
        .err()
        .unwrap()
        .to_map();
    assert_eq!(v["name"], "is required");
    assert!(
        v["access.providers.allow[2]"].contains("providerId"),
        "{v:?}"
    );
    // Shapes first: names are looked up once every entry is well formed.
    assert!(!v.contains_key("access.providers.allow[1]"), "{v:?}");
    assert!(v["access.models.allow[2]"].contains("white space"), "{v:?}");
    assert!(
        v["access.models.allow[4]"].contains("between 1 and"),
        "{v:?}"
    );
    let body = CreateAccessKeyConfiguration {
        name: Some("n".into()),
        access: Some(access(
            Some(vec!["up", "nobody"]),
            Some(vec!["up:*", "ghost:*", "llama3.1:8b"]),
        )),
        ..Default::default()
    };
    let v = NewAccessKeyConfiguration::parse(body, &Known)
        .err()
        .unwrap()
        .to_map();
    assert!(v["access.providers.allow[1]"].contains("no known provider"));
    assert!(v["access.models.allow[1]"].contains("`ghost:*` names no known provider"));
    assert_eq!(v.len(), 2, "{v:?}");
}

#[test]
fn a_patch_keeps_what_it_omits_and_clears_access_with_null() {
    let new = NewAccessKeyConfiguration::parse(
        CreateAccessKeyConfiguration {
            name: Some("n".into()),
            access: Some(access(None, Some(vec![]))),
            ..Default::default()
        },
        &Known,
    )
    .ok()
    .unwrap();
    let current = new.into_configuration(1, "admin");
    assert_eq!(
        current.access,
        Some(AccessScope {
            providers: None,
            models: Some(vec![])
        })
    );
    let keep = AccessKeyConfigurationChanges::parse(
        UpdateAccessKeyConfiguration {
            description: Some(Some("d".into())),
            ..Default::default()
        },
        &Known,
    )
    .ok()
    .unwrap();
    let next = keep.apply(&current, 2, "admin").unwrap();
    assert_eq!(
        (next.access.clone(), next.version),
        (current.access.clone(), 2)
    );
    let clear = AccessKeyConfigurationChanges::parse(
        UpdateAccessKeyConfiguration {
            access: Some(None),
            ..Default::default()
        },
        &Known,
    )
    .ok()
    .unwrap();
    assert_eq!(clear.apply(&next, 3, "admin").unwrap().access, None);
    let nameless = UpdateAccessKeyConfiguration {
        name: Some(None),
        ..Default::default()
    };
    let v = AccessKeyConfigurationChanges::parse(nameless, &Known)
        .err()
        .unwrap()
        .to_map();
    assert_eq!(v["name"], "cannot be cleared");
}
