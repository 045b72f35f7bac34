package main

import (
	"testing"

	"rubrica/graph"
)

// TestLoadConfigLimits checks that every limit of graph.Limits is read from its variable,
// and that a limit that is not a positive number is refused.
func TestLoadConfigLimits(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		graph.LimitDocumentBytes: "1", graph.LimitQueryTokens: "2", graph.LimitQueryDepth: "3",
		graph.LimitAliases: "4", graph.LimitRepeatedFields: "5", graph.LimitFragmentSpreads: "6",
		graph.LimitQueryFields: "7", graph.LimitErrors: "8", graph.LimitResponseBytes: "9",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := graph.Limits{MaxDocumentBytes: 1, MaxQueryTokens: 2, MaxQueryDepth: 3, MaxAliases: 4, MaxRepeatedFields: 5,
		MaxFragmentSpreads: 6, MaxQueryFields: 7, MaxErrors: 8, MaxResponseBytes: 9}
	if cfg.Limits != want {
		t.Errorf("limits: got %+v, want %+v", cfg.Limits, want)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := loadConfig(func(k string) string {
			if k == graph.LimitQueryDepth {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s: got no error, want one", graph.LimitQueryDepth, bad)
		}
	}
}
