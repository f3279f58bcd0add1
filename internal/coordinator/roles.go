package coordinator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// RoleTable describes the roles of a product's workers as data.
type RoleTable struct {
	// Atomic lists every atomic role, in the order used for display.
	Atomic []string
	// Required roles must all be present for the cluster to be consistent.
	Required []string
	// Optional roles may be missing; the cluster is then degraded.
	Optional []string
	// Meta maps a meta role (such as "all") to the atomic roles it stands for.
	Meta map[string][]string
}

// Validate checks that every required, optional and meta role refers to
// atomic roles, and that no name is both atomic and meta.
func (t RoleTable) Validate() error {
	known := make(map[string]bool, len(t.Atomic))
	for _, r := range t.Atomic {
		if r == "" || known[r] || strings.TrimSpace(r) != r || strings.Contains(r, ",") {
			return fmt.Errorf("invalid role table: atomic role %q is empty, repeated or not a plain name", r)
		}
		known[r] = true
	}
	listed := map[string]bool{}
	for _, r := range slices.Concat(t.Required, t.Optional) {
		if !known[r] {
			return fmt.Errorf("invalid role table: %q is not an atomic role", r)
		}
		if listed[r] {
			return fmt.Errorf("invalid role table: %q is listed twice as required or optional", r)
		}
		listed[r] = true
	}
	for _, meta := range slices.Sorted(maps.Keys(t.Meta)) {
		roles := t.Meta[meta]
		if known[meta] {
			return fmt.Errorf("invalid role table: meta role %q is also atomic", meta)
		}
		if strings.TrimSpace(meta) != meta || meta == "" || strings.Contains(meta, ",") || len(roles) == 0 {
			return fmt.Errorf("invalid role table: meta role %q is not a plain name with at least one role", meta)
		}
		for _, r := range roles {
			if !known[r] {
				return fmt.Errorf("invalid role table: meta role %q expands to unknown role %q", meta, r)
			}
		}
	}
	return nil
}

// Expand turns a worker's role string ("querier", "all",
// "querier,query-frontend") into its sorted, de-duplicated atomic roles.
// Meta roles are replaced by their expansion.
func (t RoleTable) Expand(role string) ([]string, error) {
	if strings.TrimSpace(role) == "" {
		return nil, fmt.Errorf("empty role")
	}
	var out []string
	for part := range strings.SplitSeq(role, ",") {
		name := strings.TrimSpace(part)
		switch {
		case slices.Contains(t.Atomic, name):
			out = append(out, name)
		case t.Meta[name] != nil:
			out = append(out, t.Meta[name]...)
		default:
			return nil, fmt.Errorf("unknown role %q", Truncate(name, 40))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Missing returns the required and the optional roles absent from present,
// each in table order.
func (t RoleTable) Missing(present map[string]int) (required, optional []string) {
	for _, r := range t.Required {
		if present[r] == 0 {
			required = append(required, r)
		}
	}
	for _, r := range t.Optional {
		if present[r] == 0 {
			optional = append(optional, r)
		}
	}
	return required, optional
}
