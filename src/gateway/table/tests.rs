use super::*;
use crate::domain::surface::Surface;
use crate::domain::wire::Object;
use crate::domain::{CreateProvider, ModelInput, NewProvider, Provider, SurfaceInput};
use crate::gateway::plan::resolve::resolve;

fn provider(slug: &str, models: &[&str], surfaces: &[(&str, Option<&str>)]) -> Provider {
    let new = NewProvider::parse(CreateProvider {
        provider_id: Some(slug.into()),
        name: Some(slug.into()),
        base_url: Some(format!("http://{slug}.lan/v1")),
        models: Some(
            models
                .iter()
                .map(|m| {
                    Object(ModelInput {
                        model_id: Some((*m).into()),
                    })
                })
                .collect(),
        ),
        supported_api_surfaces: Some(
            surfaces
                .iter()
                .map(|(f, s)| {
                    Object(SurfaceInput {
                        format: Some((*f).into()),
                        surface: s.map(str::to_owned),
                        supported_params: None,
                    })
                })
                .collect(),
        ),
        ..Default::default()
    })
    .unwrap();
    Provider::create(
        new,
        &crate::secrets::MasterKey::generate().unwrap(),
        1,
        "test",
    )
    .unwrap()
}

fn table(providers: &[&Provider]) -> RoutingTable {
    let table = RoutingTable {
        current: ArcSwap::from_pointee(Snapshot::default()),
        writer: Mutex::new(()),
    };
    for p in providers {
        table.apply(Change::Provider(p));
    }
    table
}

fn routed(table: &RoutingTable, model: &str, surface: Surface) -> Result<(String, String), String> {
    resolve(&table.snapshot(), model, surface)
        .map(|t| (t.route.slug.clone(), t.model))
        .map_err(|e| e.code.name().to_owned())
}

#[test]
fn a_qualified_name_splits_only_at_a_known_provider() {
    let ollama = provider("ollama-box", &["llama3.1:8b", "Qwen2.5:7B"], &[]);
    let t = table(&[&ollama]);
    let chat = Surface::ChatCompletions;
    assert_eq!(
        routed(&t, "ollama-box:llama3.1:8b", chat),
        Ok(("ollama-box".into(), "llama3.1:8b".into()))
    );
    // Case-insensitive after exact, and the declared spelling goes upstream.
    assert_eq!(
        routed(&t, "ollama-box:qwen2.5:7b", chat),
        Ok(("ollama-box".into(), "Qwen2.5:7B".into()))
    );
    // `llama3.1` is no provider: the whole string is a bare name, which ollama-box declares.
    assert_eq!(
        routed(&t, "llama3.1:8b", chat),
        Ok(("ollama-box".into(), "llama3.1:8b".into()))
    );
    assert_eq!(
        routed(&t, "ollama-box:mistral", chat),
        Err("model_not_found".into())
    );
    assert_eq!(
        routed(&t, "nobody:llama3.1:8b", chat),
        Err("model_not_found".into())
    );
    assert_eq!(routed(&t, "ollama-box:", chat), Err("invalid_model".into()));
}

#[test]
fn a_provider_that_declares_no_models_passes_any_through_and_surfaces_are_honoured() {
    let open = provider("vllm", &[], &[("openai", Some("chat-completions"))]);
    let both = provider("llamacpp", &[], &[("openai", None), ("anthropic", None)]);
    let t = table(&[&open, &both]);
    assert_eq!(
        routed(&t, "vllm:org/Any-Model", Surface::ChatCompletions),
        Ok(("vllm".into(), "org/Any-Model".into()))
    );
    assert_eq!(
        routed(&t, "vllm:x", Surface::Embeddings),
        Err("surface_not_supported".into())
    );
    // Chat completions only: a messages call reaches it translated.
    let translated = resolve(&t.snapshot(), "vllm:x", Surface::Messages).unwrap();
    assert_eq!(
        translated.translation,
        Some(crate::gateway::translate::Direction::MessagesToChat)
    );
    // Nor a count of tokens: that is estimated.
    let counted = resolve(&t.snapshot(), "vllm:x", Surface::CountTokens).unwrap();
    assert!(counted.estimate && counted.translation.is_none());
    let native = resolve(&t.snapshot(), "llamacpp:x", Surface::Messages).unwrap();
    assert_eq!(native.translation, None);
    assert_eq!(
        routed(&t, "llamacpp:x", Surface::Messages),
        Ok(("llamacpp".into(), "x".into()))
    );
    assert_eq!(
        routed(&t, "llamacpp:x", Surface::Embeddings),
        Ok(("llamacpp".into(), "x".into()))
    );
}

#[test]
fn a_bare_name_goes_to_the_oldest_provider_declaring_it_that_serves_the_surface() {
    let first = provider("first", &["shared"], &[("anthropic", None)]);
    let second = provider("second", &["shared"], &[]);
    let third = provider("third", &["shared"], &[]);
    let t = table(&[&third, &second, &first]);
    assert_eq!(
        routed(&t, "shared", Surface::ChatCompletions),
        Ok(("second".into(), "shared".into()))
    );
    assert_eq!(
        routed(&t, "shared", Surface::Messages),
        Ok(("first".into(), "shared".into()))
    );
    assert_eq!(
        routed(&t, "SHARED", Surface::ChatCompletions),
        Ok(("second".into(), "shared".into()))
    );
    assert_eq!(
        routed(&t, "unknown", Surface::ChatCompletions),
        Err("model_not_found".into())
    );
    assert_eq!(
        routed(&t, "shared", Surface::Embeddings),
        Ok(("second".into(), "shared".into()))
    );
}

#[test]
fn changes_apply_to_the_next_snapshot_and_removals_clean_every_index() {
    let mut p = provider("box", &["a", "b"], &[]);
    let t = table(&[&p]);
    // A change that keeps the models still reaches the route.
    p.base_url = "http://elsewhere.lan/v1".into();
    let old = t.snapshot();
    let url = old.route("box").unwrap().url(Surface::Embeddings).unwrap();
    assert_eq!(url.as_str(), "http://box.lan/v1/embeddings");
    t.apply(Change::Provider(&p));
    assert_eq!(
        t.snapshot().route("box").unwrap().base_url,
        "http://elsewhere.lan/v1"
    );
    // The joined URL is the new base URL's, never one cached from before the change.
    for surface in Surface::ALL {
        assert_eq!(
            t.snapshot().route("box").unwrap().url(surface).unwrap(),
            &crate::gateway::attempt::request::join("http://elsewhere.lan/v1", surface.path())
                .unwrap()
        );
    }
    assert_eq!(
        routed(&t, "a", Surface::ChatCompletions),
        Ok(("box".into(), "a".into()))
    );
    let before = t.snapshot();
    p.models.retain(|m| m.model_id == "b");
    p.version += 1;
    t.apply(Change::Provider(&p));
    assert_eq!(
        routed(&t, "a", Surface::ChatCompletions),
        Err("model_not_found".into())
    );
    assert_eq!(
        routed(&t, "b", Surface::ChatCompletions),
        Ok(("box".into(), "b".into()))
    );
    // A snapshot taken before is unchanged: readers never see a half-applied change.
    assert_eq!(before.declaring("a").count(), 1);
    t.apply(Change::ProviderGone(p.id));
    assert_eq!(
        routed(&t, "b", Surface::ChatCompletions),
        Err("model_not_found".into())
    );
    assert!(t.snapshot().route("box").is_none());
    assert!(t.snapshot().by_model.is_empty());
}

#[test]
fn a_model_a_whole_fleet_declares_stays_in_creation_order_through_changes() {
    let fleet: Vec<Provider> = (0..300)
        .map(|i| {
            provider(
                &format!("box-{i:03}"),
                &["llama3.1:8b", &format!("own-{i}")],
                &[],
            )
        })
        .collect();
    let t = table(&[]);
    // Registered out of order; creation order (their ids) is what counts.
    for p in fleet.iter().rev() {
        t.apply(Change::Provider(p));
    }
    let order: Vec<String> = t
        .snapshot()
        .declaring("llama3.1:8b")
        .map(|r| r.slug.clone())
        .collect();
    let want: Vec<String> = fleet
        .iter()
        .map(|p| p.provider_id.as_str().to_owned())
        .collect();
    assert_eq!(order, want);
    assert_eq!(
        routed(&t, "llama3.1:8b", Surface::ChatCompletions),
        Ok(("box-000".into(), "llama3.1:8b".into()))
    );
    // A call is offered to the oldest few, not to the whole fleet.
    let offered: Vec<String> = crate::gateway::plan::resolve::candidates(
        &t.snapshot(),
        "llama3.1:8b",
        Surface::Embeddings,
        None,
    )
    .unwrap()
    .into_iter()
    .map(|c| c.route.slug.clone())
    .collect();
    assert_eq!(
        offered,
        want[..crate::gateway::plan::resolve::MAX_PROVIDERS_PER_MODEL]
    );
    t.apply(Change::ProviderGone(fleet[0].id));
    assert_eq!(
        routed(&t, "llama3.1:8b", Surface::ChatCompletions),
        Ok(("box-001".into(), "llama3.1:8b".into()))
    );
    for p in &fleet[1..299] {
        t.apply(Change::ProviderGone(p.id));
    }
    assert_eq!(
        routed(&t, "llama3.1:8b", Surface::ChatCompletions),
        Ok(("box-299".into(), "llama3.1:8b".into()))
    );
    assert!(matches!(
        t.snapshot().by_model.get("llama3.1:8b"),
        Some(Declaring::One(..))
    ));
    assert_eq!(
        routed(&t, "own-299", Surface::ChatCompletions),
        Ok(("box-299".into(), "own-299".into()))
    );
    assert_eq!(
        routed(&t, "own-5", Surface::ChatCompletions),
        Err("model_not_found".into())
    );
}

#[test]
fn each_format_lists_the_models_its_routes_accept() {
    let openai = provider("gpt-box", &["g1", "g2"], &[]);
    let claude = provider("claude-box", &["c1"], &[("anthropic", None)]);
    let both = provider(
        "both",
        &["b1"],
        &[
            ("openai", Some("embeddings")),
            ("anthropic", Some("messages")),
        ],
    );
    let open = provider("open", &[], &[("openai", None), ("anthropic", None)]);
    let t = table(&[&openai, &claude, &both, &open]);
    let snapshot = t.snapshot();
    let listed = |format| {
        let mut all: Vec<String> = snapshot
            .listed(format)
            .map(|(route, model)| format!("{}:{model}", route.slug))
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        listed(Format::OpenAi),
        ["both:b1", "gpt-box:g1", "gpt-box:g2"]
    );
    assert_eq!(listed(Format::Anthropic), ["both:b1", "claude-box:c1"]);
}

#[test]
fn a_change_published_after_a_later_one_is_not_applied() {
    let t = table(&[]);
    let mut p = provider("box", &["a"], &[]);
    t.apply(Change::Provider(&p));
    let old = p.clone();
    p.models[0].model_id = "b".into();
    p.version += 1;
    t.apply(Change::Provider(&p));
    // The older version, arriving second, leaves the newer one in place.
    t.apply(Change::Provider(&old));
    assert_eq!(
        routed(&t, "b", Surface::ChatCompletions),
        Ok(("box".into(), "b".into()))
    );
    assert_eq!(
        routed(&t, "a", Surface::ChatCompletions),
        Err("model_not_found".into())
    );
    // A deleted provider stays deleted whatever of it arrives after.
    t.apply(Change::ProviderGone(p.id));
    p.version += 1;
    t.apply(Change::Provider(&p));
    assert!(t.snapshot().route("box").is_none());
    // The gateway's settings likewise keep the newest version.
    let newer = GatewayConfig {
        version: 2,
        max_output_tokens: Some(64),
        ..Default::default()
    };
    t.apply(Change::GatewayConfig(&newer));
    let older = GatewayConfig {
        version: 1,
        ..Default::default()
    };
    t.apply(Change::GatewayConfig(&older));
    assert_eq!(t.snapshot().gateway_config().max_output_tokens, Some(64));
}

#[test]
fn a_dialect_written_before_a_later_record_is_published_after_it_still_counts() {
    use crate::domain::extension::Extension;
    let p = provider("p", &["m"], &[]);
    let table = table(&[&p]);
    let (mut v2, mut v3) = (p.clone(), p.clone());
    v2.version = p.version + 1;
    v3.version = p.version + 2;
    v3.name = "renamed".into();
    let on = Extension {
        send_back_raw_request: true,
        ..Extension::default()
    };
    // The ngrok API's write (v3) is published before the dialect's (v2) that came first.
    table.apply(Change::Provider(&v3));
    table.apply(Change::Extended(&v2, &on));
    let route = Arc::clone(table.snapshot().route("p").unwrap());
    assert_eq!(route.name, "renamed", "the record is v3's");
    assert!(route.dialect.as_ref().is_some_and(|d| d.raw_request));
    // A later ngrok write keeps the dialect; an older dialect write changes nothing.
    let mut v4 = v3.clone();
    v4.version += 2;
    table.apply(Change::Provider(&v4));
    table.apply(Change::Extended(&p, &Extension::default()));
    let route = Arc::clone(table.snapshot().route("p").unwrap());
    assert!(route.dialect.as_ref().is_some_and(|d| d.raw_request));
    table.apply(Change::ProviderGone(p.id));
    let mut v9 = v4.clone();
    v9.version += 5;
    table.apply(Change::Extended(&v9, &on));
    assert!(
        table.snapshot().route("p").is_none(),
        "a deleted provider stays gone"
    );
}
