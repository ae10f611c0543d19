//! OpenEnv both ways on loopback: turnwise's client against turnwise's server (episodes
//! identical to in-process ones), faults (unreachable at start, a server that dies or stops
//! answering mid-episode), and many sessions in flight.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde_json::{json, Map};
use turnwise_envs::{registry, Env};
use turnwise_openenv::client::{ClientConfig, OpenEnvClient};
use turnwise_openenv::server::{spawn, ServeConfig};

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn config(url: &str, timeout_s: f64) -> ClientConfig {
    ClientConfig {
        url: url.to_owned(),
        action_field: "text".into(),
        observation_field: "text".into(),
        timeout: Duration::from_secs_f64(timeout_s),
        connect_timeout: Duration::from_secs(5),
        format: None,
        instructions: String::new(),
        reset_data: Map::new(),
    }
}

fn serve(env: &str, opts: &[(&str, &str)]) -> turnwise_openenv::server::Running {
    let cfg = ServeConfig {
        env: env.into(),
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        max_sessions: 64,
    };
    spawn(cfg, local(), 2).unwrap()
}

#[test]
fn remote_episodes_equal_in_process_ones() {
    for (name, opts) in [
        ("tools/kbqa", vec![("hops", "3")]),
        ("ragen/sokoban", vec![]),
        ("lmrl/maze-fo", vec![]),
    ] {
        let server = serve(name, &opts);
        let pairs: Vec<(String, String)> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut local_env = registry::make(name, &pairs).unwrap();
        let mut remote = OpenEnvClient::connect(config(&server.url(), 10.0)).unwrap();
        for seed in 0..3 {
            let a = local_env.reset(seed);
            let b = remote.reset(seed);
            assert_eq!(a.text, b.text, "{name}");
            assert_eq!(a.info, b.info, "{name}");
            assert_eq!(local_env.instructions(), remote.instructions());
            assert_eq!(local_env.action_format(), remote.action_format());
            assert_eq!(local_env.gold_action(), remote.gold_action());
            assert_eq!(
                local_env.reference_tool_calls(),
                remote.reference_tool_calls()
            );
            assert_eq!(local_env.credit_fields(), remote.credit_fields(), "{name}");
            assert!(remote.is_remote());
            while let Some(x) = local_env.expert_action() {
                assert_eq!(Some(x.clone()), remote.expert_action());
                assert_eq!(local_env.action_space(), remote.action_space());
                let (s, r) = (local_env.step(&x), remote.step(&x));
                assert_eq!(s, r, "{name} seed {seed}");
                if s.done() {
                    break;
                }
            }
        }
    }
}

#[test]
fn unreachable_server_is_an_error_naming_the_url() {
    let port = TcpListener::bind(local())
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let e = OpenEnvClient::connect(config(&url, 1.0))
        .err()
        .expect("nothing listens there")
        .to_string();
    assert!(e.contains(&url), "{e}");
    turnwise_openenv::register();
    let e = registry::make("openenv", &[("url".into(), url.clone())])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&url) && e.contains("cannot reach"), "{e}");
}

#[test]
fn a_server_that_dies_mid_episode_truncates_it_with_the_error() {
    let server = serve("lmrl/maze-fo", &[]);
    let url = server.url();
    let mut remote = OpenEnvClient::connect(config(&url, 5.0)).unwrap();
    remote.reset(1);
    assert!(remote.step("move up").info.error.is_none());
    drop(server);
    let s = remote.step("move up");
    assert!(s.truncated && !s.terminated);
    let e = s.info.error.expect("the error is recorded");
    assert!(e.contains(&url), "{e}");
    // The next reset tries a new session and fails the same way, without hanging.
    let o = remote.reset(2);
    assert!(o.info.error.is_some());
    assert!(remote.step("move up").terminated);
}

#[test]
fn a_server_restarted_between_steps_fails_episodes_not_the_run() {
    let server = serve("ragen/sokoban", &[]);
    let (addr, url) = (server.addr, server.url());
    turnwise_openenv::register();
    let opts = [("url".to_string(), url.clone())];
    let mut env = registry::make("openenv", &opts).unwrap();
    assert!(env.reset(1).info.error.is_none());
    drop(server);
    // Down while the trainer builds the next step's environments: no error at build time,
    // the episode fails with the URL named.
    let mut env = registry::make("openenv", &opts).expect("reached before: not a start-up error");
    let o = env.reset(1);
    let e = o.info.error.expect("the episode records the error");
    assert!(e.contains(&url), "{e}");
    // Back on the same address: the next reset opens a session again.
    let cfg = ServeConfig {
        env: "ragen/sokoban".into(),
        options: vec![],
        max_sessions: 64,
    };
    let _server = spawn(cfg, addr, 2).unwrap();
    let o = env.reset(1);
    assert!(o.info.error.is_none(), "{:?}", o.info.error);
    let mut fresh = registry::make("openenv", &opts).unwrap();
    assert_eq!(fresh.reset(1).text, o.text);
}

#[test]
fn a_server_that_stops_answering_times_out() {
    // Accepts the WebSocket, answers the reset, then never answers a step.
    let listener = TcpListener::bind(local()).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let _reset = ws.read().unwrap();
        let obs = json!({"type": "observation", "data": {"observation": {"text": "hi"}, "reward": null, "done": false}});
        ws.send(tungstenite::Message::text(obs.to_string()))
            .unwrap();
        let _step = ws.read();
        std::thread::sleep(Duration::from_secs(3));
    });
    let mut remote = OpenEnvClient::connect(config(&url, 0.5)).unwrap();
    assert_eq!(remote.reset(0).text, "hi");
    let t0 = Instant::now();
    let s = remote.step("hello");
    assert!(t0.elapsed() < Duration::from_secs(3), "the timeout holds");
    assert!(s.truncated);
    assert!(s.info.error.unwrap().contains("no reply"));
    t.join().unwrap();
}

#[test]
fn many_sessions_in_flight_are_independent() {
    let server = serve("tools/kbqa", &[("hops", "2")]);
    let url = server.url();
    let handles: Vec<_> = (0..16u64)
        .map(|seed| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut remote = OpenEnvClient::connect(config(&url, 10.0)).unwrap();
                let mut local_env =
                    registry::make("tools/kbqa", &[("hops".into(), "2".into())]).unwrap();
                assert_eq!(remote.reset(seed).text, local_env.reset(seed).text);
                let mut ret = 0.0;
                while let Some(a) = remote.expert_action() {
                    let s = remote.step(&a);
                    assert_eq!(s, local_env.step(&a));
                    ret += s.reward;
                    if s.done() {
                        break;
                    }
                }
                ret
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1.0);
    }
}

#[test]
fn server_rejects_sessions_past_capacity_and_bad_messages() {
    let cfg = ServeConfig {
        env: "lmrl/maze-fo".into(),
        options: vec![],
        max_sessions: 1,
    };
    let server = spawn(cfg, local(), 1).unwrap();
    let mut first = OpenEnvClient::connect(config(&server.url(), 5.0)).unwrap();
    assert!(first.reset(0).info.error.is_none());
    let mut second = OpenEnvClient::connect(config(&server.url(), 5.0)).unwrap();
    let e = second.reset(0).info.error.unwrap();
    assert!(e.contains("CAPACITY_REACHED"), "{e}");
    // An unknown option value is refused before serving.
    let bad = ServeConfig {
        env: "lmrl/maze-fo".into(),
        options: vec![("start".into(), "99,99".into())],
        max_sessions: 1,
    };
    assert!(spawn(bad, local(), 1).is_err());
}
