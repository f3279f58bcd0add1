package tempo

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// TracingEndpoint is the endpoint Tempo provides the tracing interface on.
const TracingEndpoint = "tracing"

// maxReceiversBytes bounds what a tracing requirer may publish; larger
// values are ignored unread.
const maxReceiversBytes = 4096

// RequestedReceivers works out the receivers Tempo serves: those every
// tracing requirer asks for, otlp_http (always: the charms' own traces use
// it) and those enabled by an always_enable_* option. The result is sorted
// and limited to the supported receivers. Garbage published by a requirer is
// ignored and described in the returned warnings.
func RequestedReceivers(relations []coordinator.Relation, opts Options) ([]Receiver, []string) {
	set := map[Receiver]bool{OTLPHTTP: true}
	for r, on := range opts.AlwaysEnable {
		if on && r.Known() {
			set[r] = true
		}
	}
	var warnings []string
	for _, rel := range relations {
		names, warning := relationReceivers(rel)
		if warning != "" {
			warnings = append(warnings, warning)
		}
		for _, r := range names {
			set[r] = true
		}
	}
	out := make([]Receiver, 0, len(set))
	for _, r := range Receivers {
		if set[r] {
			out = append(out, r)
		}
	}
	return out, warnings
}

// relationReceivers reads the receivers one tracing requirer asked for. A
// requirer that published nothing yet is not a problem.
func relationReceivers(rel coordinator.Relation) ([]Receiver, string) {
	raw, ok := rel.AppData["receivers"]
	if !ok || raw == "" {
		return nil, ""
	}
	subject := rel.Ref()
	if rel.RemoteApp != "" {
		subject += " (" + rel.RemoteApp + ")"
	}
	if len(raw) > maxReceiversBytes {
		return nil, fmt.Sprintf("%s: ignoring receivers: value of %d bytes is over the limit of %d", subject, len(raw), maxReceiversBytes)
	}
	var names []string
	if err := json.Unmarshal([]byte(raw), &names); err != nil {
		return nil, fmt.Sprintf("%s: ignoring receivers: not a JSON list of strings", subject)
	}
	var out []Receiver
	var unknown []string
	for _, n := range names {
		r := Receiver(n)
		if r.Known() {
			out = append(out, r)
		} else {
			unknown = append(unknown, fmt.Sprintf("%q", coordinator.Truncate(n, 40)))
		}
	}
	if len(unknown) == 0 {
		return out, ""
	}
	if len(unknown) > 5 {
		unknown = append(unknown[:5], "...")
	}
	return out, fmt.Sprintf("%s: ignoring unknown receivers %s", subject, strings.Join(unknown, ", "))
}
