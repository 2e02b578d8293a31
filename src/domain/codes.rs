//! Official keys and codes: AGS, ARS, Leika, Land key, OZG-ID.

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Amtlicher Gemeindeschlüssel: 8 digits, the first two the Land (NRW: 05).
pub fn check_ags(ags: &str) -> Result<(), String> {
    if ags.len() != 8 || !all_digits(ags) {
        return Err(format!("„{ags}“ ist kein gültiger Amtlicher Gemeindeschlüssel (AGS): er hat genau 8 Ziffern, z. B. 05913000."));
    }
    check_land_key(&ags[..2]).map_err(|_| {
        format!("„{ags}“ ist kein gültiger AGS: die ersten zwei Ziffern müssen ein Land bezeichnen (01–16).")
    })
}

/// An NRW municipality's AGS (starts with 05).
pub fn check_nrw_ags(ags: &str) -> Result<(), String> {
    check_ags(ags)?;
    if !ags.starts_with("05") {
        return Err(format!(
            "„{ags}“ ist kein nordrhein-westfälischer AGS: er beginnt mit 05."
        ));
    }
    Ok(())
}

/// Amtlicher Regionalschlüssel: 12 digits; its first five and last three digits are the
/// AGS (Land, Regierungsbezirk, Kreis + Gemeinde), the four in between the Verband.
pub fn check_ars(ars: &str, ags: &str) -> Result<(), String> {
    if ars.len() != 12 || !all_digits(ars) {
        return Err(format!(
            "„{ars}“ ist kein gültiger Amtlicher Regionalschlüssel (ARS): er hat genau 12 Ziffern."
        ));
    }
    if ags.len() == 8 && (ars[..5] != ags[..5] || ars[9..] != ags[5..]) {
        return Err(format!("Der ARS „{ars}“ passt nicht zum AGS „{ags}“."));
    }
    Ok(())
}

/// Leistungsschlüssel (Leika): 14 digits, `99` for a service catalogue key.
pub fn check_leika(key: &str) -> Result<(), String> {
    if key.len() != 14 || !all_digits(key) {
        return Err(format!("„{key}“ ist kein gültiger Leika-Schlüssel: er hat genau 14 Ziffern, z. B. 99107023000000."));
    }
    if !key.starts_with("99") {
        return Err(format!(
            "„{key}“ ist kein gültiger Leika-Schlüssel: Leistungsschlüssel beginnen mit 99."
        ));
    }
    Ok(())
}

/// The two-digit key of a Land (01 Schleswig-Holstein … 16 Thüringen).
pub fn check_land_key(key: &str) -> Result<(), String> {
    match key.parse::<u8>() {
        Ok(1..=16) if key.len() == 2 => Ok(()),
        _ => Err(format!("„{key}“ ist kein Länderschlüssel (01 bis 16).")),
    }
}

/// The name of the Land with that key.
pub fn land_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "01" => "Schleswig-Holstein",
        "02" => "Hamburg",
        "03" => "Niedersachsen",
        "04" => "Bremen",
        "05" => "Nordrhein-Westfalen",
        "06" => "Hessen",
        "07" => "Rheinland-Pfalz",
        "08" => "Baden-Württemberg",
        "09" => "Bayern",
        "10" => "Saarland",
        "11" => "Berlin",
        "12" => "Brandenburg",
        "13" => "Mecklenburg-Vorpommern",
        "14" => "Sachsen",
        "15" => "Sachsen-Anhalt",
        "16" => "Thüringen",
        _ => return None,
    })
}

/// OZG-ID: the number of an OZG service (e.g. 10092 Wohngeld).
pub fn check_ozg_id(id: &str) -> Result<(), String> {
    if !(1..=6).contains(&id.len()) || !all_digits(id) {
        return Err(format!(
            "„{id}“ ist keine gültige OZG-ID: eine Zahl mit bis zu 6 Ziffern, z. B. 10092."
        ));
    }
    Ok(())
}

/// A plausible e-mail address (one @, a dot in the domain, no spaces).
pub fn check_email(email: &str) -> Result<(), String> {
    if email.trim().is_empty() {
        Err("Bitte geben Sie eine E-Mail-Adresse an.".to_string())
    } else if validator::ValidateEmail::validate_email(&email) {
        Ok(())
    } else {
        Err(format!("„{email}“ ist keine gültige E-Mail-Adresse."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ags_has_eight_digits_and_a_land() {
        assert!(check_ags("05913000").is_ok());
        assert!(check_ags("0591300").is_err());
        assert!(check_ags("0591300X").is_err());
        assert!(check_ags("17000000").is_err());
        assert!(check_nrw_ags("03241001").is_err());
        assert!(check_nrw_ags("05913000").is_ok());
    }

    #[test]
    fn ars_matches_ags() {
        assert!(check_ars("059130000000", "05913000").is_ok());
        assert!(check_ars("053340002002", "05334002").is_ok());
        assert!(check_ars("053340002003", "05334002").is_err());
        assert!(check_ars("05913000000", "05913000").is_err());
    }

    #[test]
    fn leika_keys_have_fourteen_digits_starting_with_99() {
        assert!(check_leika("99107023000000").is_ok());
        assert!(check_leika("9910702300000").is_err());
        assert!(check_leika("10107023000000").is_err());
        assert!(check_leika("99107023O00000").is_err());
    }

    #[test]
    fn land_keys_and_names() {
        assert!(check_land_key("05").is_ok());
        assert!(check_land_key("5").is_err());
        assert!(check_land_key("17").is_err());
        assert_eq!(land_name("03"), Some("Niedersachsen"));
    }
}
