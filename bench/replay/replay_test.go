package replay

import (
	"errors"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	calls := []Call{
		{Tool: "relation-set", Args: []string{"-r", "tempo-cluster:3", "--app", "--file", "-"}, Stdin: []byte("worker_config: \"a\\nb\"\n\x00\xff")},
		{Tool: "open-port", Args: []string{"3200/tcp"}, Stdin: []byte{}},
		{Tool: "status-set", Args: []string{"waiting", ""}, Stdin: []byte{}},
	}
	got, err := Decode(Encode(calls))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, calls) {
		t.Fatalf("round trip:\n got %q\nwant %q", got, calls)
	}
	if got, err := Decode(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
}

func TestTruncated(t *testing.T) {
	b := Encode([]Call{{Tool: "state-set", Args: []string{"a=b"}, Stdin: []byte("xyz")}})
	for n := 1; n < len(b); n++ {
		if _, err := Decode(b[:n]); !errors.Is(err, errTruncated) {
			t.Fatalf("%d of %d bytes: err %v, want truncated", n, len(b), err)
		}
	}
	// A length that claims more than is left.
	if _, err := Decode([]byte{0, 0xff, 0xff, 0x03}); !errors.Is(err, errTruncated) {
		t.Fatalf("oversized length: %v", err)
	}
}
