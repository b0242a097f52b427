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

fn router_body(rules: serde_json::Value) -> CreateAccessKeyConfiguration {
    serde_json::from_value(serde_json::json!({"name": "r", "router": {"rules": rules}})).unwrap()
}

const UP_1: &str = "00000000000000000000000001";
const UP_2: &str = "00000000000000000000000002";
const OPENAI_3: &str = "00000000000000000000000003";

#[test]
fn a_router_is_kept_as_written_with_its_providers_and_new_keys() {
    let body = router_body(serde_json::json!([
        {"provider": "up", "steps": [{"type": "user", "keys": [{"id": UP_1}]}]},
        {"model": "up:GPT", "provider": "up", "steps": [{"type": "user",
            "keySelectionStrategy": "weighted",
            "keys": [{"id": UP_2}, {"name": "new", "value": "sk-new-0123456789abc", "weight": 9}]}]},
    ]));
    let new = NewAccessKeyConfiguration::parse(body, &Known).ok().unwrap();
    let router = new.router.unwrap();
    assert_eq!(router.rules[1].slug, "up");
    let keys = &router.rules[1].steps[0].keys;
    // A weighted key without a weight weighs the least.
    assert_eq!((keys[0].weight, keys[1].weight), (Some(1), Some(9)));
    assert_eq!(new.new_keys.len(), 1);
    assert_eq!(new.new_keys[0].0, keys[1].id);
    assert_eq!(new.new_keys[0].1.provider_id.as_str(), "up");
}

#[test]
fn every_bad_step_key_is_named() {
    let body = router_body(serde_json::json!([
        {"model": "up:m", "provider": "openai", "steps": [{"type": "user", "keys": [{"id": UP_1}]}]},
        {"provider": "up", "steps": [{"type": "user", "keys": [
            {}, {"id": UP_1, "name": "both"}, {"name": "no value"}, {"id": UP_1}, {"id": UP_1},
            {"id": OPENAI_3}, {"id": "nope"},
        ]}]},
        {"provider": "ghost", "steps": [{"keys": [{"id": UP_1}]}]},
        {"steps": [{"type": "other", "keys": [{"id": UP_1}]}]},
    ]));
    let v = NewAccessKeyConfiguration::parse(body, &Known)
        .err()
        .unwrap()
        .to_map();
    let mut paths: Vec<&str> = v.keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "router.rules[0].provider",
            "router.rules[1].steps[0].keys[0]",
            "router.rules[1].steps[0].keys[1].id",
            "router.rules[1].steps[0].keys[2].value",
            "router.rules[1].steps[0].keys[4].id",
            "router.rules[1].steps[0].keys[5].id",
            "router.rules[1].steps[0].keys[6].id",
            "router.rules[2].provider",
            "router.rules[2].steps[0].type",
            "router.rules[3].provider",
            "router.rules[3].steps[0].type",
        ],
        "{v:?}"
    );
}

#[test]
fn a_cascade_prunes_emptied_steps_and_rules() {
    let body = router_body(serde_json::json!([
        {"provider": "up", "steps": [{"type": "user", "keys": [{"id": UP_1}]},
                                     {"type": "user", "keys": [{"id": UP_2}, {"id": UP_1}]}]},
        {"provider": "openai", "steps": [{"type": "user", "keys": [{"id": OPENAI_3}]}]},
    ]));
    let router = NewAccessKeyConfiguration::parse(body, &Known)
        .ok()
        .unwrap()
        .router
        .unwrap();
    let one = Ulid(1);
    let pruned = router.without(&[one].into()).unwrap();
    assert_eq!(pruned.rules[0].steps.len(), 1);
    assert_eq!(pruned.rules[0].steps[0].keys.len(), 1);
    let rest = pruned.without(&[Ulid(2)].into()).unwrap();
    assert_eq!(rest.rules.len(), 1);
    assert_eq!(rest.rules[0].slug, "openai");
    assert!(rest.without(&[one].into()).is_none());
}
