//! `GET /api/v1/openapi.json`: an OpenAPI 3 description of this API. A test checks that
//! every mounted `/api/v1` route is described here and every described path is mounted.

use rocket::serde::json::Json;
use rocket::{get, routes, Route};
use serde_json::{json, Value};

pub fn routes() -> Vec<Route> {
    routes![openapi]
}

fn error_responses(codes: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        let text = match *code {
            "400" => "Malformed request (e.g. invalid JSON, a body that is not UTF-8)",
            "413" => "The body is larger than its limit (JSON: 1 MiB)",
            "401" => "Missing or invalid bearer token",
            "403" => "Not allowed for the caller's role, or no staff token configured on this instance",
            "404" => "Unknown id",
            "409" => "Conflict: stale lock_version, duplicate, forbidden transition, dependants",
            "422" => "Invalid input (wrong form, control characters, too long, a query parameter given twice) or a rule of the Nachnutzungsmodell refuses it",
            _ => "Error",
        };
        map.insert(code.to_string(), json!({ "description": text, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }));
    }
    Value::Object(map)
}

fn op(
    summary: &str,
    public: bool,
    params: &[&str],
    body: Option<&str>,
    ok: &str,
    schema: &str,
    errors: &[&str],
) -> Value {
    let mut responses = error_responses(errors);
    responses[ok] = json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| {
            let (name, place) = match p.strip_prefix("path:") {
                Some(n) => (n, "path"),
                None => (*p, "query"),
            };
            json!({ "name": name, "in": place, "required": place == "path", "schema": { "type": if matches!(name, "page" | "per_page" | "no") { "integer" } else { "string" } } })
        })
        .collect();
    let mut o = json!({ "summary": summary, "parameters": parameters, "responses": responses });
    if !public {
        o["security"] = json!([{ "staffToken": [] }]);
    }
    if let Some(b) = body {
        o["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{b}") } } } });
    }
    o
}

/// The statuses every operation of a kind can answer, whatever its handler does: added
/// to each operation in one place, so the document lists every status the API returns.
/// - with a bearer token: 401 (missing or invalid), 403 (not for this role, or no staff
///   token configured);
/// - with a path id: 404 (unknown, malformed, or another tenant's);
/// - with query parameters: 422 (a value of the wrong form, a parameter given twice);
/// - with a body: 400 (not readable, broken JSON), 413 (over its limit), 422 (wrong
///   shape, text that cannot be stored: control characters, too long).
fn complete_responses(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let mut codes: Vec<&str> = Vec::new();
            if op.get("security").is_some() {
                codes.extend(["401", "403"]);
            }
            if path.contains('{') {
                codes.push("404");
            }
            let has_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if has_query {
                codes.push("422");
            }
            if op.get("requestBody").is_some() {
                codes.extend(["400", "413", "422"]);
            }
            let responses = &mut op["responses"];
            for code in codes {
                if responses.get(code).is_none() {
                    responses[code] = error_responses(&[code])[code].clone();
                }
            }
        }
    }
}

/// The document.
pub fn document() -> Value {
    let mut doc = spec();
    complete_responses(&mut doc);
    doc
}

fn spec() -> Value {
    let read = ["401", "403", "404", "422"];
    let write = ["400", "401", "403", "404", "409", "422"];
    let obj = json!({ "type": "object", "additionalProperties": true });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Nachnutzungsregister API",
            "version": "1",
            "description": "Registry of d-NRW AöR (Kommunalvertreter.NRW): parties, EfA services and the four agreements (IÖV, EKV, RV, EA). Errors are {\"error\": code, \"message\": German text}."
        },
        "components": {
            "securitySchemes": { "staffToken": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "message"], "properties": {
                    "error": { "type": "string" }, "message": { "type": "string" },
                    "fields": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } } } },
                "Catalog": obj, "Page": { "type": "object", "properties": { "items": { "type": "array", "items": obj }, "page": { "type": "integer" }, "per_page": { "type": "integer" }, "total": { "type": "integer" } } },
                "List": { "type": "array", "items": obj },
                "Municipality": obj, "MunicipalityPatch": obj,
                "MembershipInput": { "type": "object", "required": ["lock_version", "status"], "additionalProperties": false, "properties": {
                    "lock_version": { "type": "integer" }, "status": { "type": "string", "enum": ["traeger", "kein_traeger", "nicht_erfasst"] },
                    "council_decision_on": { "type": "string", "format": "date" }, "accession_declared_on": { "type": "string", "format": "date" },
                    "capital_cents": { "type": "integer", "minimum": 0 }, "capital_paid_on": { "type": "string", "format": "date" },
                    "left_on": { "type": "string", "format": "date" }, "capital_refunded_on": { "type": "string", "format": "date" },
                    "note": { "type": "string" } } }, "Contact": obj, "ContactInput": obj,
                "Organisation": obj, "OrganisationInput": obj, "Service": obj, "ServiceInput": obj, "ServiceStatus": obj,
                "Agreement": obj, "ContractText": { "type": "object", "properties": {
                    "agreement_id": { "type": "string" }, "reference": { "type": "string" }, "version_no": { "type": "integer" },
                    "templates": { "type": "array", "items": { "type": "string" } }, "text": { "type": "string" }, "sha256": { "type": "string" } } },
                "NewAgreement": { "type": "object", "required": ["kind"], "properties": {
                    "kind": { "type": "string", "enum": ["ioev", "ekv", "rv", "ea"] },
                    "counterparty_id": { "type": "string", "format": "uuid" }, "municipality_id": { "type": "string", "format": "uuid" },
                    "service_id": { "type": "string", "format": "uuid" }, "direction": { "type": "string", "enum": ["inbound", "outbound"] },
                    "external_party_name": { "type": "string" }, "external_party_ags": { "type": "string", "pattern": "^[0-9]{8}$" },
                    "notice_period_months": { "type": "integer" }, "ends_on": { "type": "string", "format": "date" },
                    "avv": obj, "parameters": obj, "costs": { "type": "string" }, "notes": { "type": "string" },
                    "non_member_reason": { "type": "string" } } },
                "AgreementEdit": obj, "Amendment": obj, "AmendmentStep": obj,
                "Transition": { "type": "object", "required": ["action"], "properties": {
                    "action": { "type": "string", "enum": ["submit", "activate", "terminate", "expire", "cancel"] },
                    "lock_version": { "type": "integer" },
                    "effective_from": { "type": "string", "format": "date" }, "notice_given_on": { "type": "string", "format": "date" },
                    "ends_on": { "type": "string", "format": "date" }, "reason": { "type": "string" }, "cascade": { "type": "boolean" } } },
                "OpenApi": obj, "QesSignature": obj, "SigningState": obj, "Verification": obj, "Me": obj, "IssuedToken": obj, "CreatedUser": obj,
                "TokenInput": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } },
                "NewUser": { "type": "object", "required": ["email", "name", "role"], "properties": {
                    "email": { "type": "string" }, "name": { "type": "string" },
                    "role": { "type": "string", "enum": ["admin", "clerk", "municipality", "intermediary"] },
                    "municipality_id": { "type": "string" }, "municipality_ags": { "type": "string" },
                    "organisation_id": { "type": "string" }, "may_sign": { "type": "boolean" }, "password": { "type": "string" },
                    "invite": { "type": "boolean" } } },
                "Rollout": obj, "Task": obj, "Plan": obj, "Certificate": obj,
                "TaskStep": { "type": "object", "required": ["action"], "properties": {
                    "action": { "type": "string", "enum": ["start", "complete", "block", "reopen"] },
                    "evidence": obj, "reason": { "type": "string" }, "lock_version": { "type": "integer" } } },
                "TaskPatch": { "type": "object", "required": ["lock_version"], "properties": {
                    "lock_version": { "type": "integer" }, "due_on": { "type": "string", "format": "date" },
                    "contact_id": { "type": "string", "format": "uuid", "nullable": true } } },
                "DeclineInput": { "type": "object", "required": ["reason"], "additionalProperties": false, "properties": {
                    "reason": { "type": "string", "minLength": 1 } } },
                "SignInput": { "type": "object", "properties": {
                    "contact_id": { "type": "string", "format": "uuid" }, "version_no": { "type": "integer" } } }
            }
        },
        "paths": {
            "/api/v1/catalog": { "get": op("Public catalogue of offered services", true, &[], None, "200", "Catalog", &[]) },
            "/api/v1/openapi.json": { "get": op("This document", true, &[], None, "200", "OpenApi", &[]) },
            "/api/v1/municipalities": { "get": op("NRW municipalities and Kreise", false, &["ags", "q", "kind", "regierungsbezirk", "traeger", "page", "per_page"], None, "200", "Page", &read) },
            "/api/v1/municipalities/{id}": {
                "get": op("One municipality with contacts", false, &["path:id"], None, "200", "Municipality", &read),
                "patch": op("Address, population (lock_version required)", false, &["path:id"], Some("MunicipalityPatch"), "200", "Municipality", &write) },
            "/api/v1/municipalities/{id}/membership": {
                "put": op("Record the Trägerschaft at d-NRW (traeger, kein_traeger) or remove the record (nicht_erfasst); the municipality's lock_version required", false, &["path:id"], Some("MembershipInput"), "200", "Municipality", &write) },
            "/api/v1/municipalities/{id}/contacts": { "post": op("Add a contact person", false, &["path:id"], Some("ContactInput"), "201", "Contact", &write) },
            "/api/v1/organisations/{id}/contacts": { "post": op("Add a contact person", false, &["path:id"], Some("ContactInput"), "201", "Contact", &write) },
            "/api/v1/intermediaries": {
                "get": op("Intermediaries of the Länder", false, &[], None, "200", "List", &read),
                "post": op("Record an intermediary", false, &[], Some("OrganisationInput"), "201", "Organisation", &write) },
            "/api/v1/intermediaries/{id}": {
                "get": op("One intermediary", false, &["path:id"], None, "200", "Organisation", &read),
                "patch": op("Change an intermediary (lock_version required)", false, &["path:id"], Some("OrganisationInput"), "200", "Organisation", &write) },
            "/api/v1/providers": {
                "get": op("Providers and operators", false, &[], None, "200", "List", &read),
                "post": op("Record a provider", false, &[], Some("OrganisationInput"), "201", "Organisation", &write) },
            "/api/v1/providers/{id}": {
                "get": op("One provider", false, &["path:id"], None, "200", "Organisation", &read),
                "patch": op("Change a provider (lock_version required)", false, &["path:id"], Some("OrganisationInput"), "200", "Organisation", &write) },
            "/api/v1/services": {
                "get": op("All services, withdrawn included", false, &[], None, "200", "List", &read),
                "post": op("Add a service", false, &[], Some("ServiceInput"), "201", "Service", &write) },
            "/api/v1/services/{id}": {
                "get": op("One service", false, &["path:id"], None, "200", "Service", &read),
                "patch": op("Change a service (lock_version required)", false, &["path:id"], Some("ServiceInput"), "200", "Service", &write) },
            "/api/v1/services/{id}/status": { "get": op("Einzelabrufe of one service across all municipalities, by status", false, &["path:id"], None, "200", "ServiceStatus", &read) },
            "/api/v1/agreements": {
                "get": op("Agreements", false, &["kind", "status", "municipality_id", "service_id", "counterparty_id", "page", "per_page"], None, "200", "Page", &read),
                "post": op("Create an agreement: staff a draft of any kind; a municipality user its own RV or EA, submitted at once; the rules of the model apply", false, &[], Some("NewAgreement"), "201", "Agreement", &write) },
            "/api/v1/agreements/{id}": {
                "get": op("One agreement with links, versions and history", false, &["path:id"], None, "200", "Agreement", &read),
                "patch": op("Edit a draft (lock_version required)", false, &["path:id"], Some("AgreementEdit"), "200", "Agreement", &write) },
            "/api/v1/agreements/{id}/text": { "get": op("Contract text of the current version, with template versions and SHA-256", false, &["path:id"], None, "200", "ContractText", &read) },
            "/api/v1/agreements/{id}/preview.pdf": { "get": {
                "summary": "The contract as an unsealed PDF preview (ENTWURF on every page)",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "PDF", "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } } } } } } },
            "/api/v1/agreements/{id}/transitions": { "post": op("Lifecycle step (signing is POST …/signatures)", false, &["path:id"], Some("Transition"), "200", "Agreement", &write) },
            "/api/v1/agreements/{id}/signatures": {
                "get": op("Required signatories and the signatures given", false, &["path:id", "version"], None, "200", "SigningState", &read),
                "post": op("Sign as yourself (authorised user) or record a contact's signature (staff); the last signature signs and seals", false, &["path:id"], Some("SignInput"), "201", "SigningState", &write) },
            "/api/v1/agreements/{id}/declines": {
                "post": op("Decline to sign, with a reason (a signatory whose side has not signed): the agreement becomes a draft again", false, &["path:id"], Some("DeclineInput"), "200", "Agreement", &write) },
            "/api/v1/agreements/{id}/documents": { "get": op("Sealed documents of an agreement (without bytes)", false, &["path:id"], None, "200", "List", &read) },
            "/api/v1/agreements/{id}/document.pdf": { "get": {
                "summary": "The sealed PDF (PAdES B-B) of the current version, or of ?version=n",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                               { "name": "version", "in": "query", "required": false, "schema": { "type": "integer" } }],
                "responses": { "200": { "description": "PDF", "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } } } },
                               "404": { "description": "Not sealed yet", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/agreements/{id}/qes": {
                "get": op("Qualified electronic signatures uploaded for an agreement (written form)", false, &["path:id"], None, "200", "List", &read),
                "post": {
                "summary": "Upload the issued PDF with a party's own qualified electronic signature added (the body); checked against the issued document, then recorded",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                               { "name": "party", "in": "query", "required": false, "schema": { "type": "string", "enum": ["dnrw", "partner"] } }],
                "requestBody": { "required": true, "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": { "201": { "description": "Recorded", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/QesSignature" } } } },
                               "409": { "description": "Recorded already, or no document issued yet", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/agreements/{id}/qes/{qes}/document.pdf": { "get": {
                "summary": "The uploaded file of a qualified electronic signature",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                               { "name": "qes", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "PDF", "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } } } } } } },
            "/api/v1/verify": { "post": {
                "summary": "Check a PDF: seal valid, issued by this registry, which agreement (public; upload the PDF as the body)",
                "requestBody": { "required": true, "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Verification" } } } },
                               "413": { "description": "Larger than 20 MiB", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                               "422": { "description": "Not a PDF", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/me": { "get": op("Who the caller is (user, role, authentication)", false, &[], None, "200", "Me", &read) },
            "/api/v1/tokens": {
                "get": op("The caller's personal API tokens (without secrets); 409 for the bootstrap token", false, &[], None, "200", "List", &["401", "403", "409"]),
                "post": op("Issue a personal API token; the secret is in this answer only", false, &[], Some("TokenInput"), "201", "IssuedToken", &write) },
            "/api/v1/tokens/{id}": { "delete": {
                "summary": "Revoke one of the caller's tokens",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "204": { "description": "Revoked" },
                               "404": { "description": "Not the caller's or already revoked", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                               "409": { "description": "The bootstrap token has no tokens of its own", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/users": {
                "get": op("Users (admins)", false, &[], None, "200", "List", &read),
                "post": op("Create a user (admins); the initial password is in this answer only, or with invite: true the user is mailed a one-time link to set it", false, &[], Some("NewUser"), "201", "CreatedUser", &write) },
            "/api/v1/kommunalvertreter": { "get": op("d-NRW itself, with its contacts", false, &[], None, "200", "Organisation", &read) },
            "/api/v1/agreements/{id}/amendments": { "post": op("Amend a signed agreement (new version)", false, &["path:id"], Some("Amendment"), "201", "Agreement", &write) },
            "/api/v1/agreements/{id}/amendments/{no}/transitions": { "post": op("Activate or cancel an amendment (signing is POST …/signatures)", false, &["path:id", "path:no"], Some("AmendmentStep"), "200", "Agreement", &write) },
            "/api/v1/tasks": { "get": op("Go-live tasks of Einzelabrufe in force the caller may see, due first", false, &["status", "overdue", "pending", "agreement_id", "municipality_id", "service_id", "page", "per_page"], None, "200", "Page", &read) },
            "/api/v1/tasks/{id}": {
                "get": op("One go-live task with what the caller may do and suggested evidence", false, &["path:id"], None, "200", "Task", &read),
                "patch": op("Due date and responsible contact (staff; lock_version required)", false, &["path:id"], Some("TaskPatch"), "200", "Task", &write) },
            "/api/v1/tasks/{id}/transitions": { "post": op("start, complete (with evidence), block (with reason), reopen (staff); the EA is live when all are done", false, &["path:id"], Some("TaskStep"), "200", "Task", &write) },
            "/api/v1/agreements/{id}/tasks": { "get": op("The go-live plan of an Einzelabruf and its go-live date", false, &["path:id"], None, "200", "Plan", &read) },
            "/api/v1/agreements/{id}/certificate": { "post": {
                "summary": "Hand in or renew the DVDV encryption certificate of an Einzelabruf (body: PEM or DER, at most 64 KiB)",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/pkix-cert": { "schema": { "type": "string", "format": "binary" } }, "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": { "201": { "description": "Recorded", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Certificate" } } } },
                               "422": { "description": "Not a usable certificate, or not a running Einzelabruf", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/rollout": { "get": {
                "summary": "Roll-out matrix municipality × service (nothing, requested, in_force, live, terminated) with counts; staff all, a municipality its own row, an intermediary its services aggregated; ?format=csv for a spreadsheet",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "regierungsbezirk", "in": "query", "required": false, "schema": { "type": "string" } },
                               { "name": "kreis", "in": "query", "required": false, "schema": { "type": "string" } },
                               { "name": "service_id", "in": "query", "required": false, "schema": { "type": "string" } },
                               { "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["json", "csv"] } }],
                "responses": { "200": { "description": "OK", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Rollout" } },
                    "text/csv": { "schema": { "type": "string" } } } },
                               "422": { "description": "Invalid filter", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/municipalities/{id}/vsm.csv": { "get": {
                "summary": "The VSM data of a municipality's live services (Leika key, ARS, zuständige Stelle, service URL) as CSV; staff, or the municipality's own users",
                "security": [{ "staffToken": [] }],
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "CSV", "content": { "text/csv": { "schema": { "type": "string" } } } },
                               "404": { "description": "Unknown, or another municipality", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } } } },
            "/api/v1/audit": { "get": op("Audit log", false, &["entity_id", "page", "per_page"], None, "200", "Page", &read) }
        }
    })
}

#[get("/api/v1/openapi.json")]
fn openapi() -> Json<Value> {
    Json(document())
}
