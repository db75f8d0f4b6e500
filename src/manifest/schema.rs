//! The JSON Schema (draft 2020-12) of the manifest, printed by `dcs-reconcile schema` for
//! editors with a YAML language server (`# yaml-language-server: $schema=dcs.schema.json`).
//!
//! It is written by hand next to the parser and kept true to it by the test suite
//! (`tests/schema.rs`): every key of the schema is fed to `validate`, every key the parser
//! names in its "expected …" errors is in the schema, the examples validate, and manifests
//! with an unknown key or a wrong type are refused by both. The parser stays the authority:
//! a few of its checks (duplicate entries and regions, entry regions that are not listed,
//! regular expressions that select everything, glob syntax, endpoint URLs) are not expressible here, so a file the schema accepts can still be
//! refused by `validate`, never the other way round for the shapes the schema describes.
//!
//! Text values (names, ids, tag keys and values, …) are read from the scalar's source text,
//! so an unquoted number or boolean is accepted as text (`name: 123` is the name `123`).

/// The schema, as JSON text.
pub const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:dcs-reconcile:manifest",
  "title": "dcs-reconcile manifest (dcs.yaml)",
  "description": "The Redis instances of a Huawei Cloud DCS project that should exist; every other managed instance is deleted by `dcs-reconcile apply`. See docs/manifest.md.",
  "type": "object",
  "additionalProperties": false,
  "required": ["instances"],
  "anyOf": [
    {
      "description": "A manifest for one region: no `regions`, and no entry with `region`.",
      "properties": {
        "regions": false,
        "instances": {"items": {"properties": {"region": false}}}
      }
    },
    {
      "description": "A manifest for several regions: `regions`, and none of the keys it replaces.",
      "required": ["regions"],
      "properties": {"region": false, "project_id": false, "endpoint": false, "ces_endpoint": false}
    }
  ],
  "properties": {
    "project_id": {
      "$ref": "#/$defs/text",
      "description": "The project id; else --project-id, HUAWEICLOUD_SDK_PROJECT_ID, or looked up in IAM by region."
    },
    "region": {
      "$ref": "#/$defs/text",
      "description": "The region, e.g. cn-north-4; gives the endpoint https://dcs.<region>.myhuaweicloud.com."
    },
    "endpoint": {
      "$ref": "#/$defs/text",
      "description": "The DCS endpoint, overriding the region's: https, or http to a loopback host (the emulator); no path."
    },
    "ces_endpoint": {
      "$ref": "#/$defs/text",
      "description": "The Cloud Eye endpoint for the idle guards, overriding the region's; checked like endpoint."
    },
    "regions": {
      "description": "Several regions, each a target with the same rules, instead of region, project_id, endpoint and ces_endpoint.",
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["region"],
        "properties": {
          "region": {"$ref": "#/$defs/text", "description": "The region, e.g. cn-north-4 (listed once)."},
          "project_id": {"$ref": "#/$defs/text", "description": "Its project id; else looked up in IAM by region."},
          "endpoint": {"$ref": "#/$defs/text", "description": "Its DCS endpoint, overriding the region's, as the top-level endpoint."},
          "ces_endpoint": {"$ref": "#/$defs/text", "description": "Its Cloud Eye endpoint, as the top-level ces_endpoint."}
        }
      }
    },
    "instances": {
      "description": "The instances that should exist, by name, by id or both. An empty list is [] (see guards.allow_empty).",
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "minProperties": 1,
        "properties": {
          "name": {"$ref": "#/$defs/text", "description": "Keeps every live instance of exactly this name."},
          "id": {"$ref": "#/$defs/text", "description": "Keeps this instance only (ids compare without regard to case)."},
          "region": {"$ref": "#/$defs/text", "description": "Only in this region of `regions` (without it, in every region)."}
        }
      }
    },
    "scope": {
      "description": "Only instances matched by every selector given are managed; the rest is out of scope and never deleted.",
      "type": "object",
      "additionalProperties": false,
      "minProperties": 1,
      "properties": {
        "name_prefix": {"$ref": "#/$defs/text", "description": "Names starting with this text."},
        "name_regex": {"$ref": "#/$defs/loose_text", "description": "Names matching this regular expression (it may not match the empty string)."},
        "enterprise_project_id": {"$ref": "#/$defs/text", "description": "Instances of this enterprise project."},
        "tags": {"$ref": "#/$defs/tags", "description": "Instances carrying all of these tags."}
      }
    },
    "protect": {
      "description": "Rules for instances that are never deleted, declared or not; each rule has exactly one of name, id or tag.",
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
          "name": {"$ref": "#/$defs/text", "description": "A glob such as 'prod-*'."},
          "id": {"$ref": "#/$defs/text", "description": "An instance id."},
          "tag": {"$ref": "#/$defs/tags", "description": "Instances carrying all of these tags."}
        }
      }
    },
    "guards": {
      "description": "Limits on what one run may delete.",
      "type": "object",
      "additionalProperties": false,
      "dependentRequired": {
        "idle_max_ops": ["idle_for"],
        "idle_max_connections": ["idle_for"]
      },
      "properties": {
        "max_delete": {
          "description": "At most this many deletions (a count, or a percentage of the managed instances such as \"20%\"); more is refused.",
          "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": "^\\s*[0-9]+\\s*$"},
            {"type": "string", "pattern": "^\\s*0*(100|[0-9]{1,2})\\s*%\\s*$"}
          ]
        },
        "min_age": {"$ref": "#/$defs/duration", "description": "Younger instances are skipped, e.g. 2h."},
        "allow_empty": {"type": "boolean", "description": "Allow `instances: []` to delete every managed instance."},
        "idle_for": {"$ref": "#/$defs/duration", "description": "Cloud Eye window over which an instance must have been idle to be deleted (at most 180d), e.g. 7d."},
        "idle_max_ops": {"type": "number", "minimum": 0, "description": "Idle means at most this many operations per second over idle_for."},
        "idle_max_connections": {"type": "integer", "minimum": 0, "description": "Idle means at most this many new connections over idle_for."}
      }
    },
    "deletion": {
      "description": "How instances are deleted.",
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "recycle_bin": {"type": "boolean", "description": "Send deleted instances to the recycle bin (kept 7 days)."},
        "require_recoverable": {"type": "boolean", "description": "Skip instances that cannot go to the recycle bin; needs recycle_bin: true."},
        "grace": {"$ref": "#/$defs/duration", "description": "Tag instances first and delete them only after this long (at least 1h), e.g. 24h."}
      }
    }
  },
  "$defs": {
    "text": {
      "description": "Text as written: not empty, no leading or trailing spaces, no invisible characters; unquoted numbers and booleans are read as their text.",
      "type": ["string", "number", "boolean"],
      "minLength": 1,
      "pattern": "^\\S(.*\\S)?$"
    },
    "loose_text": {
      "description": "Text as written, spaces and the empty string included; unquoted numbers and booleans are read as their text.",
      "type": ["string", "number", "boolean"]
    },
    "duration": {
      "description": "A duration with a unit, such as 30m, 2h, 7d or \"1h 30m\".",
      "type": "string",
      "pattern": "^\\s*[0-9]+\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$"
    },
    "tags": {
      "description": "Tag keys and values, e.g. {owner: ci}.",
      "type": "object",
      "minProperties": 1,
      "propertyNames": {"minLength": 1, "pattern": "^\\S(.*\\S)?$"},
      "additionalProperties": {"$ref": "#/$defs/loose_text"}
    }
  }
}
"##;
