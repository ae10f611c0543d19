//! The fictional world of `tools/kbqa`: countries, cities, organisations and people with
//! attributes and functional relations between them, generated from a seed, and one short
//! document per entity. Names are built from syllables, so a pretrained model cannot know
//! any fact from memory.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::Rng as _;
use turnwise_core::seed::Rng;

/// The kind of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A country.
    Country,
    /// A city.
    City,
    /// An organisation.
    Org,
    /// A person.
    Person,
}

/// A relation from one entity to another (each entity has exactly one of each of its
/// kind's relations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// Person → city.
    Birthplace,
    /// Person → organisation.
    Employer,
    /// Person → person.
    Mentor,
    /// Organisation → city.
    Headquarters,
    /// Organisation → person.
    Founder,
    /// City → country.
    Country,
    /// City → person.
    Mayor,
    /// Country → city.
    Capital,
}

/// A terminal attribute of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// Person: year of birth.
    BirthYear,
    /// Person: occupation.
    Occupation,
    /// Organisation or city: year founded.
    Founded,
    /// Organisation: industry.
    Industry,
    /// Country: official language.
    Language,
}

/// One entity with its facts.
#[derive(Debug, Clone)]
pub struct Entity {
    /// Its unique name (the title of its document).
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Relations to other entities (indices into [`World::entities`]).
    pub rels: Vec<(Rel, usize)>,
    /// Attribute values.
    pub attrs: Vec<(Attr, String)>,
    /// Population (cities), shown in the document only.
    pub population: Option<u32>,
}

impl Entity {
    /// The entity related by `r`.
    pub fn rel(&self, r: Rel) -> Option<usize> {
        self.rels.iter().find(|(x, _)| *x == r).map(|(_, i)| *i)
    }

    /// The value of attribute `a`.
    pub fn attr(&self, a: Attr) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(_, v)| v.as_str())
    }
}

/// A generated world and its documents.
#[derive(Debug, Clone)]
pub struct World {
    /// Every entity; entity `i` has document `i`.
    pub entities: Vec<Entity>,
    /// Document texts (the title is the entity's name).
    pub docs: Vec<String>,
}

/// How many entities of each kind a world has (2,720 documents).
pub const SIZES: [(Kind, usize); 4] = [
    (Kind::Country, 20),
    (Kind::City, 200),
    (Kind::Org, 500),
    (Kind::Person, 2000),
];

const ONSETS: &[&str] = &[
    "b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "qu", "r",
    "s", "st", "t", "tr", "v", "z", "th", "sh", "w",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ae", "ia", "ou", "ei", "y"];
const CODAS: &[&str] = &["", "", "n", "r", "l", "s", "th", "m", "k", "x", "nd", "rn"];
const ORG_KINDS: &[&str] = &[
    "Systems",
    "Institute",
    "Works",
    "Bank",
    "Press",
    "Foundry",
    "Laboratories",
    "Trading Company",
    "Orchestra",
    "Shipyards",
];
const INDUSTRIES: &[&str] = &[
    "shipbuilding",
    "textiles",
    "software",
    "mining",
    "publishing",
    "banking",
    "agriculture",
    "pharmaceuticals",
    "aviation",
    "glassmaking",
    "brewing",
    "telecommunications",
];
const OCCUPATIONS: &[&str] = &[
    "geologist",
    "architect",
    "violinist",
    "surgeon",
    "cartographer",
    "engineer",
    "novelist",
    "chemist",
    "sculptor",
    "economist",
    "botanist",
    "lawyer",
    "astronomer",
    "photographer",
    "historian",
];

fn syllable(rng: &mut Rng) -> String {
    format!(
        "{}{}{}",
        ONSETS.choose(rng).unwrap(),
        VOWELS.choose(rng).unwrap(),
        CODAS.choose(rng).unwrap()
    )
}

fn word(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let w: String = (0..n).map(|_| syllable(rng)).collect();
    let mut c = w.chars();
    let first = c.next().unwrap().to_ascii_uppercase();
    std::iter::once(first).chain(c).collect()
}

fn unique(rng: &mut Rng, used: &mut HashSet<String>, f: impl Fn(&mut Rng) -> String) -> String {
    loop {
        let n = f(rng);
        // Names are compared lower-cased and also as single tokens, so that no name is a
        // word of another name (search queries stay unambiguous).
        if n.len() >= 4 && used.insert(n.to_lowercase()) {
            return n;
        }
    }
}

impl World {
    /// Generates the world of `seed`.
    pub fn generate(seed: u64) -> World {
        let mut rng = turnwise_core::seed::rng(seed, crate::seeding::stream_of("kbqa-world"));
        let mut used = HashSet::new();
        let mut tokens = HashSet::new();
        let mut entities = Vec::new();
        let mut first_of = [0usize; 4];
        for (k, (kind, n)) in SIZES.iter().enumerate() {
            first_of[k] = entities.len();
            for _ in 0..*n {
                let name = unique(&mut rng, &mut used, |r| loop {
                    let n = match kind {
                        Kind::Country | Kind::City => word(r, 2, 3),
                        Kind::Org => format!("{} {}", word(r, 2, 2), ORG_KINDS.choose(r).unwrap()),
                        Kind::Person => format!("{} {}", word(r, 1, 2), word(r, 2, 3)),
                    };
                    let first = n.split(' ').next().unwrap().to_lowercase();
                    // A country or city name never doubles as a given name or org stem.
                    if !tokens.contains(&first) || *kind == Kind::Person {
                        return n;
                    }
                });
                if matches!(kind, Kind::Country | Kind::City | Kind::Org) {
                    tokens.insert(name.split(' ').next().unwrap().to_lowercase());
                }
                entities.push(Entity {
                    name,
                    kind: *kind,
                    rels: Vec::new(),
                    attrs: Vec::new(),
                    population: None,
                });
            }
        }
        let range = |k: usize| first_of[k]..first_of[k] + SIZES[k].1;
        let (countries, cities, orgs, people) = (range(0), range(1), range(2), range(3));
        let pick = |rng: &mut Rng, r: &std::ops::Range<usize>| rng.random_range(r.clone());
        for i in countries.clone() {
            let capital = cities.start + (i - countries.start) * SIZES[1].1 / SIZES[0].1;
            let lang = format!("{}ish", word(&mut rng, 1, 2));
            let e = &mut entities[i];
            e.rels.push((Rel::Capital, capital));
            e.attrs.push((Attr::Language, lang));
        }
        for i in cities.clone() {
            // A capital belongs to its own country; other cities to a random one.
            let k = (i - cities.start) * SIZES[0].1 / SIZES[1].1;
            let country = if (i - cities.start) % (SIZES[1].1 / SIZES[0].1) == 0 {
                countries.start + k
            } else {
                pick(&mut rng, &countries)
            };
            let mayor = pick(&mut rng, &people);
            let founded = rng.random_range(800..1900).to_string();
            let pop = rng.random_range(5..3000) * 1000 + rng.random_range(0..1000);
            let e = &mut entities[i];
            e.rels.push((Rel::Country, country));
            e.rels.push((Rel::Mayor, mayor));
            e.attrs.push((Attr::Founded, founded));
            e.population = Some(pop);
        }
        for i in orgs.clone() {
            let hq = pick(&mut rng, &cities);
            let founder = pick(&mut rng, &people);
            let founded = rng.random_range(1850..2016).to_string();
            let industry = INDUSTRIES.choose(&mut rng).unwrap().to_string();
            let e = &mut entities[i];
            e.rels.push((Rel::Headquarters, hq));
            e.rels.push((Rel::Founder, founder));
            e.attrs.push((Attr::Founded, founded));
            e.attrs.push((Attr::Industry, industry));
        }
        for i in people.clone() {
            let birthplace = pick(&mut rng, &cities);
            let employer = pick(&mut rng, &orgs);
            let mentor = loop {
                let m = pick(&mut rng, &people);
                if m != i {
                    break m;
                }
            };
            let born = rng.random_range(1900..1996).to_string();
            let occupation = OCCUPATIONS.choose(&mut rng).unwrap().to_string();
            let e = &mut entities[i];
            e.rels.push((Rel::Birthplace, birthplace));
            e.rels.push((Rel::Employer, employer));
            e.rels.push((Rel::Mentor, mentor));
            e.attrs.push((Attr::BirthYear, born));
            e.attrs.push((Attr::Occupation, occupation));
        }
        let docs = (0..entities.len())
            .map(|i| document(&entities, i, &mut rng))
            .collect();
        World { entities, docs }
    }

    /// The entity whose name is `title` (case and surrounding space ignored).
    pub fn find(&self, title: &str) -> Option<usize> {
        let t = title.trim();
        self.entities
            .iter()
            .position(|e| e.name.eq_ignore_ascii_case(t))
    }
}

/// The document of entity `i`: its facts as short sentences, in a seeded order.
fn document(es: &[Entity], i: usize, rng: &mut Rng) -> String {
    let e = &es[i];
    let n = &e.name;
    let r = |rel: Rel| &es[e.rel(rel).expect("every entity has its kind's relations")].name;
    let a = |attr: Attr| {
        e.attr(attr)
            .expect("every entity has its kind's attributes")
    };
    let mut s: Vec<String> = match e.kind {
        Kind::Country => vec![
            format!(
                "{n} is a country whose official language is {}.",
                a(Attr::Language)
            ),
            format!("The capital of {n} is {}.", r(Rel::Capital)),
        ],
        Kind::City => vec![
            format!(
                "{n} is a city in {}, founded in {}.",
                r(Rel::Country),
                a(Attr::Founded)
            ),
            format!("It has a population of {}.", e.population.unwrap_or(0)),
            format!("The mayor of {n} is {}.", r(Rel::Mayor)),
        ],
        Kind::Org => vec![
            format!(
                "{n} is a {} organisation founded in {}.",
                a(Attr::Industry),
                a(Attr::Founded)
            ),
            format!("{n} was founded by {}.", r(Rel::Founder)),
            format!("Its headquarters are in {}.", r(Rel::Headquarters)),
        ],
        Kind::Person => vec![
            format!(
                "{n} is a {} born in {} in {}.",
                a(Attr::Occupation),
                a(Attr::BirthYear),
                r(Rel::Birthplace)
            ),
            format!("{n} works for {}.", r(Rel::Employer)),
            format!("The mentor of {n} is {}.", r(Rel::Mentor)),
        ],
    };
    // The first sentence names the entity; the rest come in a seeded order.
    let tail = &mut s[1..];
    for k in (1..tail.len()).rev() {
        tail.swap(k, rng.random_range(0..=k));
    }
    s.join(" ")
}
