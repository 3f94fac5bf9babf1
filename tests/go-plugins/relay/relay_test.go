package relay

import "testing"

func TestParseConfigPointsAtTheWrongField(t *testing.T) {
	_, diags := parseConfig(`{"url": 5, "extra": "x"}`)
	paths := map[string]bool{}
	for _, d := range diags {
		paths[d.GetJsonPath()] = true
	}
	if !paths["/url"] || !paths["/extra"] || len(diags) != 2 {
		t.Fatalf("diagnostics %v", diags)
	}
	cfg, diags := parseConfig(`{"url": "http://127.0.0.1:1/x", "token": "t"}`)
	if len(diags) != 0 || cfg.URL != "http://127.0.0.1:1/x" || cfg.Token != "t" {
		t.Fatalf("%v %v", cfg, diags)
	}
}
