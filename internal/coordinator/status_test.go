package coordinator_test

import (
	"testing"

	c "github.com/tempo-coordinator/coordinator/internal/coordinator"
)

func TestHighest(t *testing.T) {
	cases := []struct {
		name       string
		candidates []c.Status
		fallback   string
		want       c.Status
	}{
		{"none gives fallback", nil, "ready", c.Status{c.Active, "ready"}},
		{"empty fallback", nil, "", c.Status{c.Active, ""}},
		{"first of equals wins", []c.Status{{c.Blocked, "[consistency] x"}, {c.Blocked, "[s3] y"}}, "", c.Status{c.Blocked, "[consistency] x"}},
		{"most severe wins whatever its place", []c.Status{{c.Active, "a"}, {c.Waiting, "w"}, {c.Maintenance, "m"}, {c.Blocked, "b"}, {c.Waiting, "w2"}}, "", c.Status{c.Blocked, "b"}},
		{"waiting over active", []c.Status{{c.Active, "a"}, {c.Waiting, "w"}}, "f", c.Status{c.Waiting, "w"}},
		{"maintenance over waiting", []c.Status{{c.Waiting, "w"}, {c.Maintenance, "m"}}, "", c.Status{c.Maintenance, "m"}},
		{"first active wins over fallback", []c.Status{{c.Active, "a"}, {c.Active, "b"}}, "f", c.Status{c.Active, "a"}},
		{"active with empty message is kept", []c.Status{{c.Active, ""}}, "f", c.Status{c.Active, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Highest(tc.candidates, tc.fallback); got != tc.want {
				t.Errorf("Highest = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		name       string
		candidates []c.Status
		fallback   string
		want       c.Status
	}{
		{"none gives fallback", nil, "UI ready", c.Status{c.Active, "UI ready"}},
		{"blocked tie first wins", []c.Status{{c.Blocked, "[consistency] Missing any worker relation."}, {c.Blocked, "[s3] Missing S3 integration."}, {c.Active, "hint"}}, "",
			c.Status{c.Blocked, "[consistency] Missing any worker relation."}},
		{"non-active ignores active hints", []c.Status{{c.Active, "hint"}, {c.Waiting, "[nginx] w"}}, "", c.Status{c.Waiting, "[nginx] w"}},
		{"active messages joined in order", []c.Status{{c.Active, "Degraded: x"}, {c.Active, "metrics-generator disabled"}}, "fb",
			c.Status{c.Active, "Degraded: x; metrics-generator disabled"}},
		{"empty active messages skipped", []c.Status{{c.Active, ""}, {c.Active, "b"}, {c.Active, ""}}, "fb", c.Status{c.Active, "b"}},
		{"only empty actives give fallback", []c.Status{{c.Active, ""}}, "fb", c.Status{c.Active, "fb"}},
		{"fallback not joined to hints", []c.Status{{c.Active, "hint"}}, "fb", c.Status{c.Active, "hint"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Summarize(tc.candidates, tc.fallback); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLevelNames(t *testing.T) {
	for l, want := range map[c.Level]string{c.Active: "active", c.Waiting: "waiting", c.Maintenance: "maintenance", c.Blocked: "blocked"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", l, got, want)
		}
	}
	if !(c.Active < c.Waiting && c.Waiting < c.Maintenance && c.Maintenance < c.Blocked) {
		t.Error("levels are not ordered by severity")
	}
	// An empty Status is no status at all, not Active.
	if got := (c.Status{}).Level.String(); got != "unknown" {
		t.Errorf("the zero Level is %q, want unknown", got)
	}
}
