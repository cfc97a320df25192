//! `galsync-bench --quick` as CI runs it, so the harness never rots: the
//! real binary starts the emulator and every service as processes, runs
//! each scenario and writes JSON, Markdown and an SVG chart. Figures are
//! reported, never judged: this checks that every figure is there, beside
//! its floor, and that galsync did exactly the scenario's work.

use serde_json::Value;

fn run_quick(out: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_galsync-bench"))
        .args(["--quick", "--out"])
        .arg(out)
        .output()
        .expect("run galsync-bench")
}

fn number(value: &Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("no {field} in {value:#}"))
}

#[test]
fn quick_bench_measures_every_scenario_beside_its_floor() {
    let out = tempfile::tempdir().expect("a results directory");
    let output = run_quick(out.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(
        &std::fs::read(out.path().join("bench-300x10.json")).expect("the JSON results"),
    )
    .expect("valid JSON");
    let people = json["people_synced"].as_u64().expect("people synced");
    assert!(people > 0, "{json:#}");

    let scenarios = json["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = scenarios
        .iter()
        .map(|scenario| scenario["scenario"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["S1 initial sync", "S3 no-op resync", "S4 one changed user"]
    );
    for scenario in scenarios {
        assert!(number(scenario, "floor_secs") > 0.0, "{scenario:#}");
        assert!(number(scenario, "wall_secs") > 0.0, "{scenario:#}");
        // galsync writes exactly what the scenario needs, nothing twice.
        assert_eq!(
            scenario["contact_writes"], scenario["min_writes"],
            "{scenario:#}"
        );
    }
    // How close each mailbox was kept to Graph's 4 requests in flight.
    let in_flight = number(&scenarios[0], "mailbox_in_flight");
    assert!(in_flight > 0.0 && in_flight <= 4.0, "{:#}", scenarios[0]);
    assert!(number(&scenarios[0], "mailbox_latency_in_flight") <= in_flight);
    assert_eq!(scenarios[0]["contact_writes"].as_u64(), Some(people * 10));
    assert_eq!(scenarios[1]["contact_writes"], 0);
    assert_eq!(scenarios[2]["contact_writes"], 10);
    assert!(number(&json, "baseline_initial_sync_secs_extrapolated") > 0.0);

    // S2: the CPU and memory of each process, galsync's apart from the emulator's.
    let s2 = &json["without_limits"];
    assert_eq!(s2["contact_writes"].as_u64(), Some(people * 10), "{s2:#}");
    let processes = s2["processes"].as_object().expect("S2's processes");
    for name in [
        "graph-emulator",
        "auth-broker",
        "directory-reader",
        "scheduler",
        "contact-writer-0",
    ] {
        let process = &processes[name];
        assert!(number(process, "peak_rss_kib") > 0.0, "{name}: {process:#}");
    }
    for busy in ["graph-emulator", "contact-writer-0"] {
        assert!(
            number(&processes[busy], "cpu_ms") > 0.0,
            "{busy} spent no CPU"
        );
    }

    // S5: memory per process at two directory sizes.
    let scale = json["scale"].as_array().expect("S5 rows");
    assert_eq!(scale.len(), 2, "{scale:#?}");
    for row in scale {
        let measured = &row["measured"];
        assert_eq!(
            measured["contact_writes"], measured["min_writes"],
            "{row:#}"
        );
        let reader = &measured["processes"]["directory-reader"];
        assert!(number(reader, "peak_rss_kib") > 0.0, "{row:#}");
    }
    assert!(scale[1]["users"].as_u64() > scale[0]["users"].as_u64());

    // S6 runs where CI has PostgreSQL: one and two writer processes.
    if std::env::var_os("GALSYNC_TEST_POSTGRES_URL").is_some() {
        let rows = json["scale_out"].as_array().expect("S6 rows");
        assert_eq!(rows.len(), 2, "{rows:#?}");
        for row in rows {
            assert_eq!(row["contact_writes"], row["min_writes"], "{row:#}");
        }
        let writers = rows[1]["processes"]
            .as_object()
            .expect("processes")
            .keys()
            .filter(|name| name.starts_with("contact-writer"))
            .count();
        assert_eq!(writers, 2);
    } else {
        assert!(json["scale_out"].is_null());
        assert!(stdout.contains("S6 writer scale-out: skipped"), "{stdout}");
    }

    let markdown = std::fs::read_to_string(out.path().join("bench-300x10.md")).unwrap();
    for row in [
        "| S1 initial sync |",
        "| baseline initial sync",
        "| graph-emulator |",
        "**S5 memory as the directory grows**",
    ] {
        assert!(markdown.contains(row), "no {row} in\n{markdown}");
    }
    let svg = std::fs::read_to_string(out.path().join("bench-300x10.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(svg.contains(">S3 no-op resync<"), "{svg}");
    assert!(stdout.contains("wall ÷ floor"), "{stdout}");
}
