-- Registry core: parties, EfA catalogue, agreements, audit log.
-- Keep this file and its SQLite twin in step: same tables, same columns, same constraints.
-- Ids are UUIDs as text; timestamps are UTC; money is in euro cents.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    legal_form TEXT,
    is_intermediary BOOLEAN NOT NULL DEFAULT FALSE,
    is_provider BOOLEAN NOT NULL DEFAULT FALSE,
    is_self BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON array of {"land_key": "01", "state": "Schleswig-Holstein"}
    states TEXT NOT NULL DEFAULT '[]',
    address TEXT,
    note TEXT,
    lock_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX organisations_name ON organisations (name);
-- There is exactly one Kommunalvertreter: d-NRW itself.
CREATE UNIQUE INDEX organisations_single_self ON organisations (is_self) WHERE is_self;

CREATE TABLE municipalities (
    id TEXT PRIMARY KEY NOT NULL,
    ags TEXT NOT NULL CHECK (length(ags) = 8),
    ars TEXT NOT NULL CHECK (length(ars) = 12),
    name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('gemeinde', 'stadt', 'kreisfreie_stadt', 'kreis')),
    kreis_ags TEXT,
    kreis_name TEXT,
    regierungsbezirk TEXT NOT NULL,
    population BIGINT,
    postcode TEXT,
    address TEXT,
    traeger_since DATE,
    capital_contribution_cents BIGINT,
    lock_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX municipalities_ags ON municipalities (ags);
CREATE UNIQUE INDEX municipalities_ars ON municipalities (ars);
CREATE INDEX municipalities_search_name ON municipalities (search_name);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT REFERENCES organisations (id),
    municipality_id TEXT REFERENCES municipalities (id),
    name TEXT NOT NULL,
    function TEXT,
    email TEXT,
    phone TEXT,
    created_at TIMESTAMP NOT NULL,
    CHECK ((organisation_id IS NULL) <> (municipality_id IS NULL))
);
CREATE INDEX contacts_organisation ON contacts (organisation_id);
CREATE INDEX contacts_municipality ON contacts (municipality_id);

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    ozg_id TEXT,
    ozg_name TEXT,
    -- JSON array of 14-digit Leika keys
    leika_keys TEXT NOT NULL DEFAULT '[]',
    providing_state TEXT,
    providing_land_key TEXT,
    operator_id TEXT REFERENCES organisations (id),
    operator_note TEXT,
    availability TEXT NOT NULL CHECK (availability IN ('available', 'coming_soon', 'withdrawn')),
    data_standard TEXT,
    dvdv_category TEXT,
    transport TEXT,
    -- JSON array of {"key", "label", "kind", "required"}
    parameters TEXT NOT NULL DEFAULT '[]',
    release TEXT NOT NULL DEFAULT '1',
    description TEXT,
    source TEXT,
    lock_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX services_name ON services (name);
CREATE INDEX services_availability ON services (availability);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ioev', 'ekv', 'rv', 'ea')),
    reference TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'awaiting_signatures', 'signed', 'in_force', 'terminated', 'expired', 'cancelled')),
    counterparty_id TEXT REFERENCES organisations (id),
    municipality_id TEXT REFERENCES municipalities (id),
    service_id TEXT REFERENCES services (id),
    external_party_name TEXT,
    external_party_ags TEXT,
    ioev_id TEXT REFERENCES agreements (id),
    rv_id TEXT REFERENCES agreements (id),
    ekv_id TEXT REFERENCES agreements (id),
    -- Set while the agreement is active (not terminated, expired or cancelled):
    -- the unique index makes "at most one active agreement of this kind for these parties"
    -- a database fact on both backends.
    active_key TEXT,
    current_version INTEGER NOT NULL DEFAULT 1,
    notice_period_months INTEGER,
    submitted_at TIMESTAMP,
    submitted_by TEXT,
    signed_on DATE,
    signed_by TEXT,
    effective_from DATE,
    activated_by TEXT,
    notice_given_on DATE,
    ends_on DATE,
    terminated_by TEXT,
    termination_reason TEXT,
    lock_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (kind NOT IN ('ekv', 'ea') OR service_id IS NOT NULL),
    CHECK (kind NOT IN ('ioev', 'ekv') OR counterparty_id IS NOT NULL),
    CHECK (kind <> 'rv' OR municipality_id IS NOT NULL),
    CHECK (kind <> 'ea' OR municipality_id IS NOT NULL OR (counterparty_id IS NOT NULL AND external_party_ags IS NOT NULL))
);
CREATE UNIQUE INDEX agreements_reference ON agreements (reference);
CREATE UNIQUE INDEX agreements_active_key ON agreements (active_key);
CREATE INDEX agreements_kind_status ON agreements (kind, status);
-- Lists of one municipality's or one service's agreements, newest first, read in order.
CREATE INDEX agreements_municipality ON agreements (municipality_id, kind, created_at, reference);
CREATE INDEX agreements_service_recent ON agreements (service_id, kind, created_at, reference);
-- Covers "one service across all municipalities" (counts by status without touching rows).
CREATE INDEX agreements_service ON agreements (service_id, kind, status, direction);
CREATE INDEX agreements_counterparty ON agreements (counterparty_id, kind);
CREATE INDEX agreements_rv ON agreements (rv_id);
CREATE INDEX agreements_ekv ON agreements (ekv_id);
CREATE INDEX agreements_ioev ON agreements (ioev_id);

-- Versions of an agreement's terms (AVV, parameters, costs). A signed version is never
-- changed; an amendment adds a version.
CREATE TABLE agreement_versions (
    id TEXT PRIMARY KEY NOT NULL,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version_no INTEGER NOT NULL,
    terms TEXT NOT NULL,
    change_note TEXT,
    status TEXT NOT NULL CHECK (status IN ('draft', 'signed', 'in_force', 'superseded', 'cancelled')),
    signed_on DATE,
    effective_from DATE,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX agreement_versions_no ON agreement_versions (agreement_id, version_no);

CREATE TABLE reference_counters (
    prefix TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_value BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (prefix, year)
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    note TEXT
);
CREATE INDEX audit_events_entity ON audit_events (entity_id, seq);
CREATE INDEX audit_events_seq ON audit_events (seq);

-- The audit log is append-only, enforced by the database itself.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
