package jujusim

import (
	"context"
	"slices"
)

// Fault makes a hook tool misbehave, for fault-injection tests. Faults
// are part of the model (and of its file), so they apply in-process and
// to the tools executable alike.
type Fault struct {
	// Tool is the hook tool affected ("relation-set").
	Tool string `json:"tool"`
	// Match, when set, must be one of the call's arguments (a relation
	// reference, a key).
	Match string `json:"match,omitempty"`
	// After lets this many matching calls through first ("relation-set
	// fails halfway through the writes").
	After int `json:"after,omitempty"`
	// Kind is FaultFail, FaultGarbage or FaultHang.
	Kind string `json:"kind"`
	// Seen counts the matching calls so far.
	Seen int `json:"seen"`
}

// The kinds of Fault.
const (
	// FaultFail: the tool exits 1 with an error, writing nothing.
	FaultFail = "fail"
	// FaultGarbage: the tool exits 0 with malformed output.
	FaultGarbage = "garbage"
	// FaultHang: the tool never answers (in-process: until the hook's
	// context ends; executable: for an hour, until the charm kills it).
	FaultHang = "hang"
)

// fault returns the fault that applies to this call, counting it.
func (m *Model) fault(tool string, args []string) *Fault {
	for i := range m.Faults {
		f := &m.Faults[i]
		if f.Tool != tool || f.Match != "" && !slices.Contains(args, f.Match) {
			continue
		}
		f.Seen++
		if f.Seen > f.After {
			return f
		}
	}
	return nil
}

// injected answers a call hit by a fault; ok is false when the call must
// proceed normally.
func (m *Model) injected(ctx context.Context, tool string, args []string) (stdout, stderr []byte, code int, ok bool) {
	f := m.fault(tool, args)
	if f == nil {
		return nil, nil, 0, false
	}
	m.Calls = append(m.Calls, Call{Tool: tool, Args: slices.Clone(args), Code: 1, Hook: m.hookName()})
	switch f.Kind {
	case FaultGarbage:
		m.Calls[len(m.Calls)-1].Code = 0
		return []byte("{\"unterminated\": [1, 2,\n\x00garbage"), nil, 0, true
	case FaultHang:
		<-ctx.Done()
		return nil, []byte("ERROR injected hang: " + tool + "\n"), 1, true
	default:
		return nil, []byte("ERROR injected failure: " + tool + "\n"), 1, true
	}
}

func (m *Model) hookName() string {
	if m.Hook != nil {
		return m.Hook.Name
	}
	return ""
}
