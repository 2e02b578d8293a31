//! The data file's service facts as the public catalogue shows them. `efa_services.csv` is
//! research material: some of its facts carry English notes ("closest OZG match,
//! unverified", "documentation host", "as fallback"). Public pages show German; the file's
//! own words stay for staff in the service's `source` notes. A value not listed here is
//! shown as the file has it.

/// The German public text of `field` (`ozg_leistung`, `providing_state`, `operator`,
/// `dvdv_org_category`, `transport`) for the file's `raw` value; `Some(None)` when the
/// file names nothing usable (the fact is then "noch nicht bekannt").
pub fn public(field: &str, raw: &str) -> Option<Option<&'static str>> {
    Some(match (field, raw) {
        ("ozg_leistung", "Beschäftigungsgenehmigung nach Strahlenschutzverordnung (closest OZG match, unverified)") => {
            Some("Beschäftigungsgenehmigung nach Strahlenschutzverordnung (Zuordnung nicht bestätigt)")
        }
        ("providing_state", "Bund (BMFSFJ) ElterngeldDigital; Bremen = Themenfeld-Federführer Familie & Kind (ELFE)") => {
            Some("Bund (BMFSFJ, ElterngeldDigital); Bremen als Themenfeldführer Familie & Kind (ELFE)")
        }
        ("providing_state", "Nordrhein-Westfalen (MWIKE; WSP.NRW offers EfA services to other Länder)") => {
            Some("Nordrhein-Westfalen (MWIKE; das Wirtschafts-Service-Portal.NRW bietet EfA-Dienste anderen Ländern an)")
        }
        ("operator", "d-NRW (WSP support address wsp-support@d-nrw.de); krz hosts WSP backend") => {
            Some("d-NRW; das Backend des Wirtschafts-Service-Portals.NRW betreibt das krz")
        }
        ("operator", "Bauportal.NRW; DataClearing NRW (OSCI intermediaries KRZN, citeq)") => {
            Some("Bauportal.NRW; DataClearing NRW (OSCI-Intermediäre KRZN, citeq)")
        }
        // Dataport hosts the documentation; who runs the service is not known.
        ("operator", "Dataport (documentation host)") => None,
        ("dvdv_org_category", "bab: + AGS (e.g. bab:05111000 Düsseldorf); authority category \"Bauaufsichtsbehörde\"") => {
            Some("bab: + AGS (z. B. bab:05111000 für Düsseldorf); Behördenkategorie „Bauaufsichtsbehörde“")
        }
        ("dvdv_org_category", "feb: (Fahrerlaubnisbehörden), tpg: (technische Prüfgesellschaften), fss: (sonstige Stellen) + AGS(8) + \"00\" ...") => {
            Some("feb: (Fahrerlaubnisbehörden), tpg: (technische Prüfgesellschaften), fss: (sonstige Stellen), jeweils + AGS (8 Stellen) + „00“")
        }
        ("transport", "OSCI/XTA via DVDV; FIT-Connect (Destination-ID); dDatabox (PDF) as fallback") => {
            Some("OSCI/XTA über das DVDV; FIT-Connect (Destination-ID); dDatabox (PDF) als Rückfallebene")
        }
        ("transport", "OSCI; ePayBL as payment platform") => Some("OSCI; ePayBL als Bezahlplattform"),
        ("transport", "XTA server of DataClearing NRW -> DVDV lookup -> OSCI-Transport to Ziel-Intermediär") => {
            Some("XTA-Server von DataClearing NRW, Abfrage im DVDV, OSCI-Transport zum Ziel-Intermediär")
        }
        ("transport", "OSCI via DVDV (EfA-Mindestanforderungen); DVDV-Eintragungskonzept XFahrtenschreiber approved by ITZBund") => {
            Some("OSCI über das DVDV (EfA-Mindestanforderungen); DVDV-Eintragungskonzept XFahrtenschreiber, vom ITZBund freigegeben")
        }
        ("transport", "dDatabox (PDF) or Fachverfahren (XML) addressed by DVDV key") => {
            Some("dDatabox (PDF) oder Fachverfahren (XML), adressiert über den DVDV-Schlüssel")
        }
        _ => return None,
    })
}

/// `raw` as the public catalogue shows it (see [`public`]).
pub fn shown(field: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    match public(field, raw) {
        Some(german) => german.map(str::to_string),
        None => Some(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn research_notes_become_german_or_unknown() {
        assert_eq!(
            super::shown("transport", Some("OSCI; ePayBL as payment platform")).as_deref(),
            Some("OSCI; ePayBL als Bezahlplattform")
        );
        assert_eq!(
            super::shown("operator", Some("Dataport (documentation host)")),
            None
        );
        assert_eq!(
            super::shown("operator", Some("Dataport AöR")).as_deref(),
            Some("Dataport AöR")
        );
        assert_eq!(super::shown("operator", None), None);
    }
}
