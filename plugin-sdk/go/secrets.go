package switchyard

import (
	"encoding/json"
	"sort"
	"strings"
)

// redacted replaces a secret in texts the plugin returns.
const redacted = "[REDACTED]"

// minSecretLen: shorter values are not scrubbed (they would blank out ordinary words).
const minSecretLen = 4

// scrubber replaces the values of a call's x-secret fields.
type scrubber []string

// secretsOf collects the string values at x-secret fields of `schema` in `config`, following
// properties, items and the branches of oneOf/anyOf/allOf.
func secretsOf(schema string, config json.RawMessage) scrubber {
	var s, c any
	if json.Unmarshal([]byte(schema), &s) != nil || json.Unmarshal(config, &c) != nil {
		return nil
	}
	var out scrubber
	walkSecrets(s, c, &out)
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func walkSecrets(schema, value any, out *scrubber) {
	node, ok := schema.(map[string]any)
	if !ok || value == nil {
		return
	}
	if secret, _ := node["x-secret"].(bool); secret {
		if text, ok := value.(string); ok && len(text) >= minSecretLen {
			*out = append(*out, text)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		if obj, ok := value.(map[string]any); ok {
			for key, sub := range props {
				walkSecrets(sub, obj[key], out)
			}
		}
	}
	if items, ok := node["items"]; ok {
		if list, ok := value.([]any); ok {
			for _, v := range list {
				walkSecrets(items, v, out)
			}
		}
	}
	for _, key := range []string{"oneOf", "anyOf", "allOf"} {
		branches, _ := node[key].([]any)
		for _, b := range branches {
			walkSecrets(b, value, out)
		}
	}
}

func (s scrubber) with(more scrubber) scrubber { return append(append(scrubber{}, s...), more...) }

// scrub replaces every secret in text.
func (s scrubber) scrub(text string) string {
	for _, secret := range s {
		text = strings.ReplaceAll(text, secret, redacted)
	}
	return text
}

func (s scrubber) result(r Result) Result {
	r.Error = s.scrub(r.Error)
	r.State = s.scrub(r.State)
	r.ResponseExcerpt = s.scrub(r.ResponseExcerpt)
	r.ExternalID = s.scrub(r.ExternalID)
	r.Diagnostics = s.diagnostics(r.Diagnostics)
	return r
}

func (s scrubber) diagnostics(ds []Diagnostic) []Diagnostic {
	out := make([]Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = Diagnostic{Path: d.Path, Message: s.scrub(d.Message)}
	}
	return out
}
