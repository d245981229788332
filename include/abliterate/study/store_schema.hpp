// The on-disk format of the study store: Optuna's RDB schema at alembic
// revision v3.2.0.a (spec/optuna-compat.md §3.1–§3.3), written down once here
// so that the writer, the validator and the tests agree on every name.
//
// Where the numbers come from:
// - kAlembicRevision is the head revision of Optuna ≥ 3.2 … 5.0 (§3.1). Optuna
//   refuses any other revision ("run `optuna storage upgrade`" / "update
//   optuna"), and so do we.
// - kSchemaVersion 12 is Optuna's frozen legacy `version_info.schema_version`;
//   writing anything else makes Optuna stamp the base revision (§3.1).
// - kLibraryVersion is the Optuna release whose semantics we follow (5.0).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace abliterate::study {

inline constexpr std::string_view kAlembicRevision = "v3.2.0.a";
inline constexpr int kSchemaVersion = 12;
inline constexpr std::string_view kLibraryVersion = "5.0.0";

// The schema as SQLAlchemy emits it for SQLite (§3.2), one statement each, in
// creation order. Run inside one write transaction on an empty database.
inline constexpr std::array<std::string_view, 15> kSchemaDdl = {
    "CREATE TABLE studies (study_id INTEGER NOT NULL, study_name VARCHAR(512) NOT NULL, "
    "PRIMARY KEY (study_id))",
    "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name)",
    "CREATE TABLE version_info (version_info_id INTEGER NOT NULL, schema_version INTEGER, "
    "library_version VARCHAR(256), PRIMARY KEY (version_info_id), CHECK (version_info_id=1))",
    "CREATE TABLE study_directions (study_direction_id INTEGER NOT NULL, direction VARCHAR(8) NOT NULL, "
    "study_id INTEGER NOT NULL, objective INTEGER NOT NULL, PRIMARY KEY (study_direction_id), "
    "UNIQUE (study_id, objective), FOREIGN KEY(study_id) REFERENCES studies (study_id))",
    "CREATE TABLE study_user_attributes (study_user_attribute_id INTEGER NOT NULL, study_id INTEGER, "
    "\"key\" VARCHAR(512), value_json TEXT, PRIMARY KEY (study_user_attribute_id), UNIQUE (study_id, \"key\"), "
    "FOREIGN KEY(study_id) REFERENCES studies (study_id))",
    "CREATE TABLE study_system_attributes (study_system_attribute_id INTEGER NOT NULL, study_id INTEGER, "
    "\"key\" VARCHAR(512), value_json TEXT, PRIMARY KEY (study_system_attribute_id), UNIQUE (study_id, \"key\"), "
    "FOREIGN KEY(study_id) REFERENCES studies (study_id))",
    "CREATE TABLE trials (trial_id INTEGER NOT NULL, number INTEGER, study_id INTEGER, state VARCHAR(8) NOT NULL, "
    "datetime_start DATETIME, datetime_complete DATETIME, PRIMARY KEY (trial_id), "
    "FOREIGN KEY(study_id) REFERENCES studies (study_id))",
    "CREATE INDEX ix_trials_study_id ON trials (study_id)",
    "CREATE TABLE trial_user_attributes (trial_user_attribute_id INTEGER NOT NULL, trial_id INTEGER, "
    "\"key\" VARCHAR(512), value_json TEXT, PRIMARY KEY (trial_user_attribute_id), UNIQUE (trial_id, \"key\"), "
    "FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE trial_system_attributes (trial_system_attribute_id INTEGER NOT NULL, trial_id INTEGER, "
    "\"key\" VARCHAR(512), value_json TEXT, PRIMARY KEY (trial_system_attribute_id), UNIQUE (trial_id, \"key\"), "
    "FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE trial_params (param_id INTEGER NOT NULL, trial_id INTEGER, param_name VARCHAR(512), "
    "param_value FLOAT, distribution_json TEXT, PRIMARY KEY (param_id), UNIQUE (trial_id, param_name), "
    "FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE trial_values (trial_value_id INTEGER NOT NULL, trial_id INTEGER NOT NULL, "
    "objective INTEGER NOT NULL, value FLOAT, value_type VARCHAR(7) NOT NULL, PRIMARY KEY (trial_value_id), "
    "UNIQUE (trial_id, objective), FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE trial_intermediate_values (trial_intermediate_value_id INTEGER NOT NULL, "
    "trial_id INTEGER NOT NULL, step INTEGER NOT NULL, intermediate_value FLOAT, "
    "intermediate_value_type VARCHAR(7) NOT NULL, PRIMARY KEY (trial_intermediate_value_id), "
    "UNIQUE (trial_id, step), FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE trial_heartbeats (trial_heartbeat_id INTEGER NOT NULL, trial_id INTEGER NOT NULL, "
    "heartbeat DATETIME NOT NULL, PRIMARY KEY (trial_heartbeat_id), UNIQUE (trial_id), "
    "FOREIGN KEY(trial_id) REFERENCES trials (trial_id))",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
};

// Every table a store must have; open() refuses a database that lacks one.
inline constexpr std::array<std::string_view, 12> kSchemaTables = {
    "studies",         "version_info",          "study_directions",          "study_user_attributes",
    "study_system_attributes", "trials",        "trial_user_attributes",     "trial_system_attributes",
    "trial_params",    "trial_values",          "trial_intermediate_values", "trial_heartbeats",
};
inline constexpr std::string_view kAlembicTable = "alembic_version";

// study_directions.direction, stored as the member name (§3.3). NOT_SET is
// Optuna's placeholder and never written by us.
enum class Direction { MINIMIZE, MAXIMIZE };

const char* to_string(Direction d);
// Throws FormatError on any other spelling (NOT_SET included).
Direction direction_from_string(const std::string& s);

// trial_values.value_type (§3.3). A non-finite value is stored as NULL plus its
// type because SQLite cannot store NaN and Optuna reads ±inf back this way.
inline constexpr std::string_view kValueTypeFinite = "FINITE";
inline constexpr std::string_view kValueTypeInfPos = "INF_POS";
inline constexpr std::string_view kValueTypeInfNeg = "INF_NEG";

// The keys of the study and trial attrs (fail_reason among them) are in
// attribute_names.hpp.

}  // namespace abliterate::study
