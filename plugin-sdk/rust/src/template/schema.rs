//! Schemas of template fields: a string carrying `x-editor-types` from the host's vocabulary
//! (the coordinator refuses names outside it): `json` for a template producing a JSON body,
//! `markdown` for a message text, `raw` for one line of plain text. Use the helpers with
//! `#[schemars(schema_with = "switchyard_plugin_sdk::template::json_template_schema")]`.

/// The schema of a template field with the given `x-editor-types`.
#[must_use]
pub fn template_schema(editor_types: &[&str]) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "x-editor-types": editor_types,
    })
}

/// For `#[schemars(schema_with = "…::json_template_schema")]`: a template producing JSON.
#[must_use]
pub fn json_template_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    template_schema(&["json"])
}

/// For `#[schemars(schema_with = "…::markdown_template_schema")]`: a message text.
#[must_use]
pub fn markdown_template_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    template_schema(&["markdown"])
}

/// For `#[schemars(schema_with = "…::text_template_schema")]`: one line of plain text.
#[must_use]
pub fn text_template_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    template_schema(&["raw"])
}
