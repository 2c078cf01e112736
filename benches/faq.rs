//! FAQ matcher benchmarks: index build time, index memory, match latency
//! (p50/p99) and throughput on the CLINC150 FAQ (15,000 questions, from
//! `../shared/data/clinc150/` beside the checkout; skipped with a message
//! when absent) and on deterministic synthetic FAQs of 100 entries with
//! 1,000, 10,000 and 100,000 questions (how matching grows with FAQ size).
//!
//! Criterion measures the mean per match; a short custom summary before it
//! prints the latency distribution (p50/p99 over single matches) and
//! questions per second on one core, which is what the targets are about.
//! Not a test: nothing here asserts timings.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use handoff::faq::{Faq, DEFAULT_MIN_CONFIDENCE};

fn clinc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/clinc150")
}

/// The CLINC150 FAQ and its validation questions, if the data is present.
fn clinc() -> Option<(String, Vec<String>)> {
    let dir = clinc_dir();
    let (Ok(faq), Ok(val)) = (
        std::fs::read_to_string(dir.join("faq.toml")),
        std::fs::read_to_string(dir.join("val.jsonl")),
    ) else {
        eprintln!(
            "faq bench: {} not found, skipping CLINC150 benches",
            dir.display()
        );
        return None;
    };
    let questions = val
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect();
    Some((faq, questions))
}

/// xorshift64: deterministic synthetic data.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn word(rng: &mut Rng) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "tre", "sun", "po", "rax", "de", "vi", "nor", "ul", "sha", "ble", "gon",
        "fi", "ter",
    ];
    (0..2 + rng.below(2))
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect()
}

/// `entries × per_entry` questions: each entry has its own topic words,
/// mixed with words shared by all entries; plus unseen probe questions.
fn synthetic(entries: usize, per_entry: usize) -> (String, Vec<String>) {
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    let common: Vec<String> = (0..300).map(|_| word(&mut rng)).collect();
    let mut toml = String::new();
    let mut probes = Vec::new();
    for e in 0..entries {
        let topic: Vec<String> = (0..12).map(|_| word(&mut rng)).collect();
        let question = |rng: &mut Rng| {
            let mut words = Vec::new();
            for _ in 0..3 + rng.below(3) {
                words.push(common[rng.below(common.len())].clone());
            }
            for _ in 0..2 + rng.below(3) {
                let at = rng.below(words.len() + 1);
                words.insert(at, topic[rng.below(topic.len())].clone());
            }
            words.join(" ")
        };
        toml.push_str(&format!("[[faq]]\nid = \"topic_{e}\"\nquestions = [\n"));
        for _ in 0..per_entry {
            toml.push_str(&format!("  \"{}\",\n", question(&mut rng)));
        }
        toml.push_str(&format!("]\nanswer = \"Answer {e}.\"\n\n"));
        for _ in 0..10 {
            probes.push(question(&mut rng));
        }
    }
    (toml, probes)
}

fn build(src: &str, origin: &str) -> (Faq, Duration) {
    let started = Instant::now();
    let faq = Faq::from_toml_str(src, origin).expect("benchmark FAQ is valid");
    (faq, started.elapsed())
}

/// Times every probe once on this thread and prints p50/p99 and rate.
fn summary(name: &str, faq: &Faq, build_time: Duration, probes: &[String]) {
    let mut us: Vec<f64> = Vec::with_capacity(probes.len() * 3);
    for _ in 0..3 {
        for q in probes {
            let t = Instant::now();
            black_box(faq.answer(black_box(q), DEFAULT_MIN_CONFIDENCE));
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let total: f64 = us.iter().sum();
    us.sort_by(f64::total_cmp);
    let pct = |p: f64| us[((p * us.len() as f64) as usize).min(us.len() - 1)];
    let memory = faq.index_memory();
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "faq summary [{name}]: {} entries, {} questions, index built in {:.2} s \
         (question index {:.1} MiB, model {:.1} MiB); \
         match p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs; {:.0} questions/s on one core",
        faq.entries().len(),
        faq.question_count(),
        build_time.as_secs_f64(),
        mib(memory.questions),
        mib(memory.model),
        pct(0.50),
        pct(0.99),
        us.last().copied().unwrap_or(0.0),
        us.len() as f64 / (total / 1e6),
    );
}

fn bench_match(c: &mut Criterion, name: &str, faq: &Faq, probes: &[String]) {
    let mut i = 0;
    c.bench_function(&format!("faq_match/{name}"), |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(faq.answer(black_box(&probes[i]), DEFAULT_MIN_CONFIDENCE))
        })
    });
}

fn benches(c: &mut Criterion) {
    if let Some((src, probes)) = clinc() {
        let (faq, built) = build(&src, "clinc150/faq.toml");
        summary("clinc150 15k", &faq, built, &probes);
        bench_match(c, "clinc150_15k", &faq, &probes);
        let mut group = c.benchmark_group("faq_build");
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(25));
        group.bench_function("clinc150_15k", |b| {
            b.iter(|| black_box(build(&src, "clinc150/faq.toml")))
        });
        group.finish();
    }
    for (per_entry, name) in [(10, "1k"), (100, "10k")] {
        let (src, probes) = synthetic(100, per_entry);
        let (faq, built) = build(&src, "synthetic.toml");
        summary(&format!("synthetic {name}"), &faq, built, &probes);
    }
    let (src, probes) = synthetic(100, 1_000);
    let (faq, built) = build(&src, "synthetic.toml");
    summary("synthetic 100k", &faq, built, &probes);
    bench_match(c, "synthetic_100k", &faq, &probes);
}

criterion_group!(faq, benches);
criterion_main!(faq);
