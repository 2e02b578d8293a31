//! The German grammar of the registry's generated sentences: the agreement kinds with their
//! gender, article and plural, and counted nouns ("1 Vereinbarung", "2 Vereinbarungen").
//! One source, so no message joins words that do not agree ("eine aktive Einzelabruf").

use super::AgreementKind;

/// Grammatical gender of a noun (the kinds are masculine or feminine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Masculine,
    Feminine,
}

/// The cases the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Nominative,
    Accusative,
    Dative,
}

/// Which article goes before the noun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Article {
    /// der, die, dem, …
    Definite,
    /// ein, eine, einem, …
    Indefinite,
}

impl AgreementKind {
    /// The noun in the singular: "Einzelabruf", "Rahmenvereinbarung".
    pub fn noun(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "Interöffentliche Vereinbarung",
            AgreementKind::Ekv => "Einzelkooperationsvereinbarung",
            AgreementKind::Rv => "Rahmenvereinbarung",
            AgreementKind::Ea => "Einzelabruf",
        }
    }

    /// The noun in the plural: "Einzelabrufe", "Rahmenvereinbarungen".
    pub fn plural(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "Interöffentliche Vereinbarungen",
            AgreementKind::Ekv => "Einzelkooperationsvereinbarungen",
            AgreementKind::Rv => "Rahmenvereinbarungen",
            AgreementKind::Ea => "Einzelabrufe",
        }
    }

    /// The short form: "IÖV", "EKV", "RV", "EA".
    pub fn abbreviation(self) -> &'static str {
        match self {
            AgreementKind::Ioev => "IÖV",
            AgreementKind::Ekv => "EKV",
            AgreementKind::Rv => "RV",
            AgreementKind::Ea => "EA",
        }
    }

    pub fn gender(self) -> Gender {
        match self {
            AgreementKind::Ea => Gender::Masculine,
            _ => Gender::Feminine,
        }
    }

    /// The kind with article, an optional adjective and its abbreviation, declined:
    /// `phrase(Case::Nominative, Article::Indefinite, Some("aktiv"))` is "ein aktiver
    /// Einzelabruf (EA)" or "eine aktive Rahmenvereinbarung (RV)".
    pub fn phrase(self, case: Case, article: Article, adjective: Option<&str>) -> String {
        let noun = self.declined_noun(case);
        let art = article_form(self.gender(), case, article);
        let adj = adjective
            .map(|a| format!("{a}{} ", adjective_ending(self.gender(), case, article)))
            .unwrap_or_default();
        format!("{art} {adj}{noun} ({})", self.abbreviation())
    }

    /// "Neuer Einzelabruf", "Neue Rahmenvereinbarung": a title without article.
    pub fn new_title(self) -> String {
        let ending = match self.gender() {
            Gender::Masculine => "r",
            Gender::Feminine => "",
        };
        format!("Neue{ending} {}", self.noun())
    }

    /// "1 Einzelabruf", "2 Einzelabrufe".
    pub fn counted(self, n: i64) -> String {
        counted(n, self.noun(), self.plural())
    }

    /// The noun as it stands after a declined article: the IÖV's adjective
    /// "Interöffentliche" declines with it ("einer Interöffentlichen Vereinbarung").
    fn declined_noun(self, case: Case) -> String {
        match (self, case) {
            (AgreementKind::Ioev, Case::Dative) => "Interöffentlichen Vereinbarung".into(),
            _ => self.noun().into(),
        }
    }
}

fn article_form(gender: Gender, case: Case, article: Article) -> &'static str {
    use Article::*;
    use Case::*;
    use Gender::*;
    match (article, gender, case) {
        (Definite, Masculine, Nominative) => "der",
        (Definite, Masculine, Accusative) => "den",
        (Definite, Masculine, Dative) => "dem",
        (Definite, Feminine, Nominative | Accusative) => "die",
        (Definite, Feminine, Dative) => "der",
        (Indefinite, Masculine, Nominative) => "ein",
        (Indefinite, Masculine, Accusative) => "einen",
        (Indefinite, Masculine, Dative) => "einem",
        (Indefinite, Feminine, Nominative | Accusative) => "eine",
        (Indefinite, Feminine, Dative) => "einer",
    }
}

/// The ending of an adjective after the article (weak after der/die, mixed after ein/eine).
fn adjective_ending(gender: Gender, case: Case, article: Article) -> &'static str {
    use Article::*;
    use Case::*;
    use Gender::*;
    match (article, gender, case) {
        (_, _, Dative) => "en",
        (Definite, Masculine, Nominative) => "e",
        (Definite, Masculine, Accusative) => "en",
        (Indefinite, Masculine, Nominative) => "er",
        (Indefinite, Masculine, Accusative) => "en",
        (_, Feminine, Nominative | Accusative) => "e",
    }
}

/// A number with the noun that agrees with it: "1 Vereinbarung", "0 Vereinbarungen",
/// "1.250 Vereinbarungen" (thousands grouped with a dot, as in German).
pub fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", number(n), if n == 1 { one } else { many })
}

/// A party's name after "für" (accusative, with its article): "die Stadt Köln", "den
/// Kreis Kleve", "den Hochsauerlandkreis", "die GovConnect GmbH". Municipalities and
/// districts name their kind first or end in "-kreis"; organisations are feminine
/// (die AöR, die GmbH).
pub fn for_party(name: &str) -> String {
    let first = name.split_whitespace().next().unwrap_or("");
    let masculine = first == "Kreis"
        || (!matches!(
            first,
            "Stadt" | "Gemeinde" | "Landeshauptstadt" | "Hansestadt" | "Städteregion"
        ) && name
            .split(|c: char| c.is_whitespace() || c == '-')
            .any(|w| w == "Kreis" || w.ends_with("kreis")));
    format!("{} {name}", if masculine { "den" } else { "die" })
}

/// The sentence's first letter in upper case ("ein Einzelabruf …" → "Ein Einzelabruf …").
pub fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A whole number as German writes it: "1.250", "-3".
pub fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgreementKind::*;

    /// The table the messages rely on: every kind in every case the code uses.
    #[test]
    fn every_kind_declines_with_article_and_adjective() {
        let nom = |k: AgreementKind| k.phrase(Case::Nominative, Article::Indefinite, Some("aktiv"));
        assert_eq!(nom(Ea), "ein aktiver Einzelabruf (EA)");
        assert_eq!(nom(Rv), "eine aktive Rahmenvereinbarung (RV)");
        assert_eq!(nom(Ekv), "eine aktive Einzelkooperationsvereinbarung (EKV)");
        assert_eq!(nom(Ioev), "eine aktive Interöffentliche Vereinbarung (IÖV)");
        let dat = |k: AgreementKind| k.phrase(Case::Dative, Article::Indefinite, None);
        assert_eq!(dat(Ea), "einem Einzelabruf (EA)");
        assert_eq!(dat(Rv), "einer Rahmenvereinbarung (RV)");
        assert_eq!(dat(Ioev), "einer Interöffentlichen Vereinbarung (IÖV)");
        assert_eq!(
            Ea.phrase(Case::Accusative, Article::Definite, Some("neu")),
            "den neuen Einzelabruf (EA)"
        );
        assert_eq!(
            Rv.phrase(Case::Nominative, Article::Definite, None),
            "die Rahmenvereinbarung (RV)"
        );
        assert_eq!(Ea.new_title(), "Neuer Einzelabruf");
        assert_eq!(Rv.new_title(), "Neue Rahmenvereinbarung");
    }

    #[test]
    fn parties_take_their_article_after_fuer() {
        assert_eq!(for_party("Stadt Köln"), "die Stadt Köln");
        assert_eq!(for_party("Kreis Kleve"), "den Kreis Kleve");
        assert_eq!(for_party("Hochsauerlandkreis"), "den Hochsauerlandkreis");
        assert_eq!(for_party("Rhein-Kreis Neuss"), "den Rhein-Kreis Neuss");
        assert_eq!(for_party("Märkischer Kreis"), "den Märkischer Kreis");
        assert_eq!(for_party("Städteregion Aachen"), "die Städteregion Aachen");
        assert_eq!(for_party("Gemeinde Kreuztal"), "die Gemeinde Kreuztal");
        assert_eq!(
            for_party("d-NRW AöR (Kommunalvertreter.NRW)"),
            "die d-NRW AöR (Kommunalvertreter.NRW)"
        );
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(Ea.counted(1), "1 Einzelabruf");
        assert_eq!(Ea.counted(2), "2 Einzelabrufe");
        assert_eq!(Rv.counted(0), "0 Rahmenvereinbarungen");
        assert_eq!(
            counted(1, "Vereinbarung", "Vereinbarungen"),
            "1 Vereinbarung"
        );
        assert_eq!(
            counted(1250, "Vereinbarung", "Vereinbarungen"),
            "1.250 Vereinbarungen"
        );
        assert_eq!(number(1_000_000), "1.000.000");
        assert_eq!(number(999), "999");
        assert_eq!(number(-4200), "-4.200");
    }
}
