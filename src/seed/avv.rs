//! The AVV (Art. 28 DSGVO) the seeded and generated agreements carry for an online
//! application service, in our own words.

use crate::domain::agreement::SubProcessor;
use crate::domain::Avv;

/// An AVV for an online application service in our own words.
pub fn avv_for(service: &str, data_types: &[&str], data_subjects: &[&str]) -> Avv {
    Avv {
        subject: format!(
            "Betrieb des Online-Dienstes „{service}“ nach dem Einer-für-Alle-Prinzip: Entgegennahme, Prüfung auf Vollständigkeit und verschlüsselte Weiterleitung von Anträgen an die zuständige Behörde."
        ),
        duration: "Für die Laufzeit der Vereinbarung; die Löschpflichten nach Ende der Verarbeitung bleiben bestehen.".into(),
        nature_and_purpose: "Erheben, Speichern, Übermitteln und Löschen von Antragsdaten, damit Bürgerinnen und Bürger die Leistung online beantragen können und die zuständige Behörde den Antrag elektronisch erhält.".into(),
        data_types: data_types.iter().map(|s| s.to_string()).collect(),
        data_subjects: data_subjects.iter().map(|s| s.to_string()).collect(),
        technical_measures: vec![
            "Transportverschlüsselung (TLS) zwischen Browser und Online-Dienst".into(),
            "Ende-zu-Ende-verschlüsselte Übermittlung an die Behörde über OSCI und DVDV".into(),
            "Betrieb in einem nach BSI IT-Grundschutz zertifizierten Rechenzentrum".into(),
            "Rollen- und Berechtigungskonzept, Protokollierung administrativer Zugriffe".into(),
            "Löschung der Antragsdaten im Online-Dienst nach erfolgreicher Zustellung".into(),
        ],
        sub_processors: Vec::<SubProcessor>::new(),
    }
}
