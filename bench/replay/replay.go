// Package replay carries hook-tool calls from the benchmark to the read
// floor (bench/cmd/readfloor), which makes them again after its reads:
// the writes of a charm's first hook, byte for byte, with no logic behind
// them. The format is length-prefixed (uvarint) so that decoding it is
// a few slice operations and adds nothing measurable to the floor.
package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Env names the variable that gives the read floor the file of calls to
// make after its reads.
const Env = "READFLOOR_REPLAY"

// Call is one hook-tool call: the tool's name, its arguments and what it
// reads on stdin (nil when it reads nothing).
type Call struct {
	Tool  string
	Args  []string
	Stdin []byte
}

// Encode writes calls in the replay format.
func Encode(calls []Call) []byte {
	var b []byte
	field := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, c := range calls {
		b = binary.AppendUvarint(b, uint64(len(c.Args)))
		field([]byte(c.Tool))
		for _, a := range c.Args {
			field([]byte(a))
		}
		field(c.Stdin)
	}
	return b
}

// errTruncated is returned for data that ends inside a call.
var errTruncated = errors.New("truncated replay data")

// Decode reads calls written by Encode.
func Decode(b []byte) ([]Call, error) {
	var calls []Call
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errTruncated
		}
		s := b[k : k+int(n)]
		b = b[k+int(n):]
		return s, nil
	}
	for len(b) > 0 {
		nargs, k := binary.Uvarint(b)
		if k <= 0 || nargs > uint64(len(b)) {
			return nil, fmt.Errorf("cannot decode call %d: %w", len(calls), errTruncated)
		}
		b = b[k:]
		tool, err := next()
		if err != nil {
			return nil, fmt.Errorf("cannot decode call %d: %w", len(calls), err)
		}
		c := Call{Tool: string(tool), Args: make([]string, 0, nargs)}
		for range nargs {
			a, err := next()
			if err != nil {
				return nil, fmt.Errorf("cannot decode call %d: %w", len(calls), err)
			}
			c.Args = append(c.Args, string(a))
		}
		if c.Stdin, err = next(); err != nil {
			return nil, fmt.Errorf("cannot decode call %d: %w", len(calls), err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}
