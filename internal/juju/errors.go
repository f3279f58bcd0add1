package juju

import (
	"errors"
	"fmt"
	"strings"
)

// ToolError is a hook tool that exited non-zero. Juju prints "ERROR <msg>"
// on stderr and exits 2 for usage errors, 1 for runtime errors.
type ToolError struct {
	Tool string
	// Args are the tool's arguments. They never hold secret values: the
	// client passes data through stdin or files.
	Args   []string
	Code   int
	Stderr string
}

// Error formats the failure with the command line and Juju's message.
func (e *ToolError) Error() string {
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(e.Stderr), "ERROR "))
	if msg == "" {
		msg = "no error message"
	}
	return fmt.Sprintf("%s %s: %s (exit %d)", e.Tool, strings.Join(e.Args, " "), msg, e.Code)
}

func toolErr(err error) (*ToolError, bool) {
	var te *ToolError
	ok := errors.As(err, &te)
	return te, ok
}

func stderrHas(err error, needles ...string) bool {
	te, ok := toolErr(err)
	if !ok {
		return false
	}
	for _, n := range needles {
		if strings.Contains(te.Stderr, n) {
			return true
		}
	}
	return false
}

// IsRelationNotFound reports a relation id unknown to Juju (the relation is gone).
func IsRelationNotFound(err error) bool { return stderrHas(err, "relation not found") }

// IsNotLeader reports a leader-only operation attempted by a non-leader.
func IsNotLeader(err error) bool {
	return stderrHas(err, "not the leader", "cannot write relation settings")
}

// IsNotFound reports a missing secret or other object (but not a missing
// relation: see IsRelationNotFound).
func IsNotFound(err error) bool {
	return !IsRelationNotFound(err) && stderrHas(err, "not found")
}
