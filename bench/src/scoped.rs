//! modelgate's own credentials side by side, on one server whose provider holds a stored key:
//! the admin token (the baseline) and an access key scoped by a configuration whose router has
//! 50 rules (one for the provider, 49 for models the calls never name), so the bars show what a
//! scoped, routed key costs a call. A server that refuses `router` (a build from before router
//! rules) is reported with its message, and an access key scoped without a router is measured
//! in its place, so the run still says what the scope alone costs.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::gateway::{PLAIN, measure, row_of, run_of};
use crate::launch::{Server, wait_ready};
use crate::peers::{self, Peer};
use crate::report::{Check, Report, SideBySideRow, Skipped};
use crate::{Opts, TOKEN};

const PROVIDER: &str = "mock";
/// Model rules besides the provider's rule: 50 rules in all.
const MODEL_RULES: usize = 49;

/// A management call as the admin; the answer's body when its status is `want`, else the
/// status and body as the reason (the server's message, which names no secret of ours).
async fn admin(server: &Server, path: &str, body: &Value, want: u16) -> Result<Value, String> {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {path}: {e}"))?;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if status.as_u16() != want {
        return Err(format!("POST {path}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}"))
}

fn field(v: &Value, name: &str) -> Result<String, String> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the answer has no `{name}`: {v}"))
}

/// The provider at the mock, declaring the models the rules name, and its stored key's id.
async fn provider_with_key(server: &Server, upstream: &str) -> Result<String, String> {
    let mut models = vec![json!({"modelId": "m"}), json!({"modelId": "paced"})];
    models.extend((1..=MODEL_RULES).map(|i| json!({"modelId": format!("r{i}")})));
    let provider = json!({"providerId": PROVIDER, "name": "bench mock",
                          "baseUrl": format!("http://{upstream}"), "models": models});
    admin(server, "/providers", &provider, 201).await?;
    let key = json!({"providerId": PROVIDER, "name": "bench", "value": "sk-bench-upstream"});
    field(&admin(server, "/provider-keys", &key, 201).await?, "id")
}

/// The router of the configuration: every rule one step to the stored key.
fn router(key_id: &str) -> Value {
    let steps = json!([{"type": "user", "keys": [{"id": key_id}],
                        "keySelectionStrategy": "ordered"}]);
    let mut rules = vec![json!({"provider": PROVIDER, "steps": steps})];
    rules.extend(
        (1..=MODEL_RULES).map(|i| json!({"model": format!("{PROVIDER}:r{i}"), "steps": steps})),
    );
    json!({"rules": rules})
}

/// A new access key's token, scoped by a new configuration of `configuration`'s fields.
async fn access_key(server: &Server, mut configuration: Value) -> Result<String, String> {
    configuration["access"] = json!({"providers": {"allow": [PROVIDER]}});
    let made = admin(server, "/access-key-configurations", &configuration, 201).await?;
    let key = json!({"description": "bench", "accessKeyConfigurationId": field(&made, "id")?});
    field(&admin(server, "/access-keys", &key, 201).await?, "token")
}

/// Measures both credentials on one fresh server, pushing their runs into `report` and a
/// refused credential into `report.skipped`; answers the rows measured.
pub async fn run(
    opts: &Opts,
    report: &mut Report,
    dir: &Path,
    upstream: &str,
) -> Vec<SideBySideRow> {
    let mut rows = Vec::new();
    let server = Server::start(&dir.join("modelgate-scoped"), "warn").await;
    wait_ready(&format!("{}/healthz", server.base)).await;
    let key_id = match provider_with_key(&server, upstream).await {
        Ok(id) => id,
        Err(why) => {
            eprintln!("   {}: {why}", Peer::ModelgateKeyed);
            report.skipped.push(Skipped {
                target: Peer::ModelgateKeyed,
                why,
            });
            server.stop();
            return rows;
        }
    };
    let mut callers = vec![(Peer::ModelgateKeyed, Ok(TOKEN.to_owned()))];
    let routed = json!({"name": "bench, 50 rules", "router": router(&key_id)});
    match access_key(&server, routed).await {
        Ok(token) => callers.push((Peer::ModelgateRouted, Ok(token))),
        Err(why) => {
            eprintln!("   {}: {why}", Peer::ModelgateRouted);
            report.skipped.push(Skipped {
                target: Peer::ModelgateRouted,
                why,
            });
            let plain = access_key(&server, json!({"name": "bench, no router"})).await;
            callers.push((Peer::ModelgateScoped, plain));
        }
    }
    for (peer, token) in callers {
        eprintln!("   starting {peer}");
        let target = match token {
            Ok(token) => peers::caller(peer, &server, &token, Duration::from_secs(20)).await,
            Err(why) => Err(why),
        };
        match target {
            Ok(target) => rows.push(measure(opts, &target, report).await),
            Err(why) => {
                eprintln!("   {peer}: {why}");
                report.skipped.push(Skipped { target: peer, why });
            }
        }
    }
    server.stop();
    rows
}

/// The bars of the access key against the admin token, within this run: the access key that
/// ran (routed, or scoped alone when the router was refused) is named in each bar.
pub fn bars(report: &mut Report) {
    let run = |peer, c| row_of(report, peer).and_then(|row| run_of(report, row, PLAIN, c));
    let Some(key) = [Peer::ModelgateRouted, Peer::ModelgateScoped]
        .into_iter()
        .find(|&p| row_of(report, p).is_some())
    else {
        return;
    };
    let mut checks = Vec::new();
    if let (Some(a), Some(k)) = (run(key, 32), run(Peer::ModelgateKeyed, 32)) {
        let (a, k) = (a.rps, k.rps);
        checks.push(Check::judged(
            format!("throughput at c=32: {key} within 5% of the admin token"),
            format!("{:.3} ({a:.0} vs {k:.0} req/s)", a / k),
            a >= 0.95 * k,
        ));
    }
    if let (Some(a), Some(k), Some(d)) = (
        run(key, 1),
        run(Peer::ModelgateKeyed, 1),
        run(Peer::Direct, 1),
    ) {
        let (a, k) = (a.p50_ms - d.p50_ms, k.p50_ms - d.p50_ms);
        checks.push(Check::judged(
            format!("added p50 at c=1 over direct: {key} within 5% of the admin token"),
            format!("+{:.0} µs vs +{:.0} µs", a * 1000.0, k * 1000.0),
            a <= 1.05 * k,
        ));
    }
    report.checks.extend(checks);
}
