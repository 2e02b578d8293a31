//! The one schema for both backends. Keep in step with `migrations/{sqlite,postgres}`.

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        legal_form -> Nullable<Text>,
        is_intermediary -> Bool,
        is_provider -> Bool,
        is_self -> Bool,
        states -> Text,
        address -> Nullable<Text>,
        note -> Nullable<Text>,
        lock_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    municipalities (id) {
        id -> Text,
        ags -> Text,
        ars -> Text,
        name -> Text,
        search_name -> Text,
        kind -> Text,
        kreis_ags -> Nullable<Text>,
        kreis_name -> Nullable<Text>,
        regierungsbezirk -> Text,
        population -> Nullable<BigInt>,
        postcode -> Nullable<Text>,
        address -> Nullable<Text>,
        lock_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        organisation_id -> Nullable<Text>,
        municipality_id -> Nullable<Text>,
        name -> Text,
        function -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        created_at -> Timestamp,
        may_sign -> Bool,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        name -> Text,
        ozg_id -> Nullable<Text>,
        ozg_name -> Nullable<Text>,
        leika_keys -> Text,
        providing_state -> Nullable<Text>,
        providing_land_key -> Nullable<Text>,
        operator_id -> Nullable<Text>,
        operator_note -> Nullable<Text>,
        availability -> Text,
        data_standard -> Nullable<Text>,
        dvdv_category -> Nullable<Text>,
        transport -> Nullable<Text>,
        parameters -> Text,
        release -> Text,
        description -> Nullable<Text>,
        source -> Nullable<Text>,
        lock_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        golive_days -> Integer,
        data_protection -> Text,
    }
}

diesel::table! {
    agreements (id) {
        id -> Text,
        kind -> Text,
        reference -> Text,
        direction -> Text,
        status -> Text,
        counterparty_id -> Nullable<Text>,
        municipality_id -> Nullable<Text>,
        service_id -> Nullable<Text>,
        external_party_name -> Nullable<Text>,
        external_party_ags -> Nullable<Text>,
        ioev_id -> Nullable<Text>,
        rv_id -> Nullable<Text>,
        ekv_id -> Nullable<Text>,
        active_key -> Nullable<Text>,
        current_version -> Integer,
        notice_period_months -> Nullable<Integer>,
        submitted_at -> Nullable<Timestamp>,
        submitted_by -> Nullable<Text>,
        signed_on -> Nullable<Date>,
        signed_by -> Nullable<Text>,
        effective_from -> Nullable<Date>,
        activated_by -> Nullable<Text>,
        notice_given_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        terminated_by -> Nullable<Text>,
        termination_reason -> Nullable<Text>,
        lock_version -> Integer,
        created_at -> Timestamp,
        created_by -> Text,
        updated_at -> Timestamp,
        live_on -> Nullable<Date>,
        non_member_reason -> Nullable<Text>,
    }
}

diesel::table! {
    memberships (municipality_id) {
        municipality_id -> Text,
        is_member -> Bool,
        council_decision_on -> Nullable<Date>,
        accession_declared_on -> Nullable<Date>,
        capital_cents -> Nullable<BigInt>,
        capital_paid_on -> Nullable<Date>,
        left_on -> Nullable<Date>,
        capital_refunded_on -> Nullable<Date>,
        note -> Nullable<Text>,
        recorded_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    agreement_versions (id) {
        id -> Text,
        agreement_id -> Text,
        version_no -> Integer,
        terms -> Text,
        change_note -> Nullable<Text>,
        status -> Text,
        signed_on -> Nullable<Date>,
        effective_from -> Nullable<Date>,
        created_at -> Timestamp,
        created_by -> Text,
        text -> Nullable<Text>,
        text_sha256 -> Nullable<Text>,
        text_templates -> Nullable<Text>,
        dnrw_signed -> Bool,
        partner_signed -> Bool,
    }
}

diesel::table! {
    reference_counters (prefix, year) {
        prefix -> Text,
        year -> Integer,
        last_value -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    signatures (id) {
        id -> Text,
        agreement_id -> Text,
        version_no -> Integer,
        party -> Text,
        position -> Integer,
        contact_id -> Nullable<Text>,
        signer_name -> Text,
        signer_function -> Nullable<Text>,
        organisation_name -> Text,
        signed_at -> Timestamp,
        actor -> Text,
        auth_method -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        user_id -> Nullable<Text>,
        declaration -> Nullable<Text>,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        agreement_id -> Text,
        version_no -> Integer,
        sha256 -> Text,
        text_sha256 -> Text,
        templates -> Text,
        size_bytes -> BigInt,
        seal_subject -> Text,
        sealed_at -> Timestamp,
        pdf -> Binary,
    }
}

diesel::table! {
    qes_signatures (id) {
        id -> Text,
        agreement_id -> Text,
        document_id -> Text,
        party -> Text,
        signer_name -> Text,
        signer_subject -> Text,
        issuer -> Text,
        serial -> Text,
        cert_not_before -> Timestamp,
        cert_not_after -> Timestamp,
        cert_sha256 -> Text,
        qualified -> Bool,
        chain -> Text,
        signing_time -> Nullable<Text>,
        sha256 -> Text,
        size_bytes -> BigInt,
        pdf -> Binary,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        municipality_id -> Nullable<Text>,
        organisation_id -> Nullable<Text>,
        may_sign -> Bool,
        password_hash -> Text,
        must_change_password -> Bool,
        disabled -> Bool,
        lock_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        calendar_token_hash -> Nullable<Text>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    data_versions (name) {
        name -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    pending_uploads (id) {
        id -> Text,
        user_id -> Text,
        session_key -> Text,
        field -> Text,
        file_name -> Text,
        created_at -> Timestamp,
        content -> Binary,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        agreement_id -> Text,
        kind -> Text,
        file_name -> Text,
        content_type -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        details -> Text,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        created_by -> Text,
        content -> Binary,
    }
}

diesel::table! {
    golive_tasks (id) {
        id -> Text,
        agreement_id -> Text,
        kind -> Text,
        position -> Integer,
        owner_municipality_id -> Nullable<Text>,
        owner_organisation_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        due_on -> Date,
        status -> Text,
        blocked_reason -> Nullable<Text>,
        evidence -> Text,
        completed_on -> Nullable<Date>,
        completed_by -> Nullable<Text>,
        lock_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    reminders (occasion) {
        occasion -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(contacts -> organisations (organisation_id));
diesel::joinable!(contacts -> municipalities (municipality_id));
diesel::joinable!(services -> organisations (operator_id));
diesel::joinable!(agreement_versions -> agreements (agreement_id));
diesel::joinable!(signatures -> agreements (agreement_id));
diesel::joinable!(signatures -> contacts (contact_id));
diesel::joinable!(signatures -> users (user_id));
diesel::joinable!(documents -> agreements (agreement_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(invitations -> users (user_id));
diesel::joinable!(pending_uploads -> users (user_id));
diesel::joinable!(attachments -> agreements (agreement_id));
diesel::joinable!(golive_tasks -> agreements (agreement_id));
diesel::joinable!(agreements -> municipalities (municipality_id));
diesel::joinable!(golive_tasks -> contacts (contact_id));
diesel::joinable!(memberships -> municipalities (municipality_id));
diesel::joinable!(qes_signatures -> agreements (agreement_id));
diesel::joinable!(qes_signatures -> documents (document_id));

diesel::table! {
    test_seal (id) {
        id -> Integer,
        pkcs12 -> Binary,
        ca_pem -> Text,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    municipalities,
    memberships,
    contacts,
    services,
    agreements,
    agreement_versions,
    reference_counters,
    audit_events,
    signatures,
    documents,
    qes_signatures,
    users,
    api_tokens,
    invitations,
    pending_uploads,
    data_versions,
    login_failures,
    login_throttle,
    attachments,
    golive_tasks,
    outbox,
    reminders,
);
