// Package template renders the template fields of a provider config (`{{ payload.title }}`)
// in a small sandbox with the Rust SDK's rules for what a template sees and for missing
// values. It is not Go's text/template: that one has other syntax (`{{ .payload.title }}`),
// prints `<no value>` for a missing key and can call methods; a config written for one
// Switchyard SDK must render the same under every SDK.
//
// What this renderer accepts: text with `{{ expression }}` holes, where an expression is a
// dotted path (`payload.service.name`, `payload.items.0`) followed by filters:
// `| json_escape`, `| html_escape`, `| required`, `| default("text")`. There are no loops,
// conditions, calls or includes (the Rust SDK's minijinja accepts those; a template that uses
// them is refused here at compile time with its field's path, never rendered wrongly).
//
// Variables: `event` {id, type, timestamp, deliveryId, attempt}, `subscription` {id, name},
// `payload`, `correlation` {key}, and the flat names eventId, eventType, deliveryId,
// timestamp, subscriptionId, subscriptionName. A missing value renders empty
// (`{{ payload.missing.deeper }}` gives nothing); `| required` makes it an error. null renders
// empty, objects and lists as JSON, strings as they are.
package template

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"
)

// MaxSourceBytes and MaxOutputBytes bound a template and what it renders (as in Rust).
const (
	MaxSourceBytes = 64 << 10
	MaxOutputBytes = 512 << 10
)

// Error is a template problem; Path is the config field's JSON Pointer.
type Error struct {
	Path    string
	Message string
	// Compile is true for a template that does not compile (a config problem), false for a
	// failure while rendering (a permanent delivery failure).
	Compile bool
}

func (e *Error) Error() string { return fmt.Sprintf("template %s: %s", e.Path, e.Message) }

// Diagnostic is the compile error as a config diagnostic.
func (e *Error) Diagnostic() switchyard.Diagnostic {
	return switchyard.Diagnostic{Path: e.Path, Message: e.Message}
}

// Result is the render failure as a delivery result: a config problem for a template that does
// not compile, else a permanent failure naming the field.
func (e *Error) Result() switchyard.Result {
	r := switchyard.PermanentResult(e.Error())
	if e.Compile {
		r.Diagnostics = []switchyard.Diagnostic{e.Diagnostic()}
	}
	return r
}

// Template is one compiled config field.
type Template struct {
	path  string
	parts []part
}

type part struct {
	text    string
	expr    []string // path segments; nil for a text part
	filters []filter
}

type filter struct {
	name, arg string
}

// Compile parses the template of the config field at JSON Pointer path.
func Compile(path, source string) (*Template, error) {
	if len(source) > MaxSourceBytes {
		return nil, &Error{Path: path, Message: fmt.Sprintf("the template is longer than %d bytes", MaxSourceBytes), Compile: true}
	}
	t := &Template{path: path}
	rest := source
	for rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			t.parts = append(t.parts, part{text: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, part{text: rest[:open]})
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			return nil, t.compileErr("a `{{` is not closed by `}}`")
		}
		p, err := parseExpr(strings.TrimSpace(rest[open+2 : open+end]))
		if err != nil {
			return nil, t.compileErr(err.Error())
		}
		t.parts = append(t.parts, p)
		rest = rest[open+end+2:]
	}
	if strings.Contains(source, "{%") {
		return nil, t.compileErr("statements ({% … %}) are not supported by the Go SDK's templates")
	}
	return t, nil
}

func (t *Template) compileErr(msg string) error {
	return &Error{Path: t.path, Message: msg, Compile: true}
}

func parseExpr(text string) (part, error) {
	pieces := strings.Split(text, "|")
	name := strings.TrimSpace(pieces[0])
	if name == "" {
		return part{}, fmt.Errorf("empty expression `{{ %s }}`", text)
	}
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if !validName(s) {
			return part{}, fmt.Errorf("`%s` is not a variable path (names and numbers joined by dots)", name)
		}
	}
	p := part{expr: segs}
	for _, f := range pieces[1:] {
		parsed, err := parseFilter(strings.TrimSpace(f))
		if err != nil {
			return part{}, err
		}
		p.filters = append(p.filters, parsed)
	}
	return p, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func parseFilter(text string) (filter, error) {
	name, arg, hasArg := strings.Cut(text, "(")
	name = strings.TrimSpace(name)
	f := filter{name: name}
	if hasArg {
		lit := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ")"))
		s, err := strconv.Unquote(lit)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(arg), ")") {
			return filter{}, fmt.Errorf("filter `%s` takes one quoted string, as in default(\"none\")", name)
		}
		f.arg = s
	}
	switch name {
	case "json_escape", "html_escape", "required":
		if hasArg {
			return filter{}, fmt.Errorf("filter `%s` takes no argument", name)
		}
	case "default":
		if !hasArg {
			return filter{}, fmt.Errorf("filter `default` needs a value, as in default(\"none\")")
		}
	default:
		return filter{}, fmt.Errorf("unknown filter `%s` (the Go SDK has json_escape, html_escape, required, default)", name)
	}
	return f, nil
}

// Render renders the template for one delivery.
func (t *Template) Render(d *switchyard.Delivery) (string, error) {
	vars := Variables(d)
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
		} else {
			text, err := t.eval(p, vars)
			if err != nil {
				return "", err
			}
			b.WriteString(text)
		}
		if b.Len() > MaxOutputBytes {
			return "", &Error{Path: t.path, Message: fmt.Sprintf("the output is longer than %d bytes", MaxOutputBytes)}
		}
	}
	return b.String(), nil
}

func (t *Template) eval(p part, vars map[string]any) (string, error) {
	value, found := lookup(vars, p.expr)
	for _, f := range p.filters {
		switch f.name {
		case "required":
			if !found || value == nil {
				return "", &Error{Path: t.path, Message: fmt.Sprintf("`%s` is required but missing", strings.Join(p.expr, "."))}
			}
		case "default":
			if !found || value == nil {
				value, found = f.arg, true
			}
		case "json_escape":
			quoted, _ := json.Marshal(textOf(value))
			value = string(quoted[1 : len(quoted)-1])
		case "html_escape":
			value = htmlEscaper.Replace(textOf(value))
		}
	}
	return textOf(value), nil
}

// lookup follows the path; false when any step is missing.
func lookup(vars map[string]any, path []string) (any, bool) {
	var cur any = vars
	for _, seg := range path {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// textOf prints a value: nothing for missing/null, JSON for objects and lists.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		out, _ := json.Marshal(x)
		return string(out)
	}
}

// htmlEscaper escapes as the Rust SDK's html_escape does (html.EscapeString writes &#34;).
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// Variables is what a template sees for one delivery.
func Variables(d *switchyard.Delivery) map[string]any {
	var payload any
	dec := json.NewDecoder(strings.NewReader(string(d.Event.Payload)))
	dec.UseNumber()
	_ = dec.Decode(&payload)
	ts := d.Event.Timestamp.UTC().Format(time.RFC3339)
	vars := map[string]any{
		"event": map[string]any{
			"id": d.Event.EventID, "type": d.Event.Type, "timestamp": ts,
			"deliveryId": d.Event.DeliveryID, "attempt": json.Number(strconv.FormatUint(uint64(d.Event.Attempt), 10)),
		},
		"subscription":     map[string]any{"id": d.Subscription.ID, "name": d.Subscription.Name},
		"payload":          payload,
		"eventId":          d.Event.EventID,
		"eventType":        d.Event.Type,
		"deliveryId":       d.Event.DeliveryID,
		"timestamp":        ts,
		"subscriptionId":   d.Subscription.ID,
		"subscriptionName": d.Subscription.Name,
	}
	if d.Correlation != nil {
		vars["correlation"] = map[string]any{"key": d.Correlation.Key}
	}
	return vars
}
