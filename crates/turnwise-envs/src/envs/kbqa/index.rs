//! BM25 search over the world's documents with the `bm25` crate (English tokenizer with
//! stemming and stop words, k1 = 1.2, b = 0.75). Ties are broken by document order, so a
//! query always returns the same list.

use bm25::{Embedder, EmbedderBuilder, Language, Scorer};

use super::world::World;

/// A BM25 index over `title. text` of every document.
pub struct Index {
    embedder: Embedder,
    scorer: Scorer<u32>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Document (entity) index.
    pub doc: usize,
    /// BM25 score.
    pub score: f32,
}

impl Index {
    /// Indexes every document of `world`.
    pub fn build(world: &World) -> Index {
        let texts: Vec<String> = world
            .entities
            .iter()
            .zip(&world.docs)
            .map(|(e, d)| format!("{}. {d}", e.name))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedder = EmbedderBuilder::<u32>::with_fit_to_corpus(Language::English, &refs).build();
        let mut scorer = Scorer::<u32>::new();
        for (i, t) in refs.iter().enumerate() {
            scorer.upsert(&(i as u32), embedder.embed(t));
        }
        Index { embedder, scorer }
    }

    /// The `k` best documents for `query` (score > 0), best first.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        let q = self.embedder.embed(query);
        let mut hits: Vec<Hit> = self
            .scorer
            .matches(&q)
            .into_iter()
            .map(|m| Hit {
                doc: m.id as usize,
                score: m.score,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        hits.truncate(k);
        hits
    }
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The sentence of `doc` sharing the most words with `query` (the first on ties).
pub fn snippet<'a>(doc: &'a str, query: &str) -> &'a str {
    let q: Vec<String> = words(query).collect();
    let mut best = (0usize, doc.split_inclusive(". ").next().unwrap_or(doc));
    for s in doc.split_inclusive(". ") {
        let n = words(s).filter(|w| q.contains(w)).count();
        if n > best.0 {
            best = (n, s);
        }
    }
    best.1.trim()
}
