package parcascrape

import "testing"

// The reference strings are Python 3's json.dumps output for the same values.
func TestDumpsMatchesPython(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{map[string]string{"a": "é😀\u2028<>&\"\\\n\x01\x7f"}, `{"a": "\u00e9\ud83d\ude00\u2028<>&\"\\\n\u0001\u007f"}`},
		{[]any{1, "a,b:c", map[string]any{}, []any{}, nil, true}, `[1, "a,b:c", {}, [], null, true]`},
		{map[string]any{"k": []string{"x", "y"}, "j": map[string]int{"z": 1}}, `{"j": {"z": 1}, "k": ["x", "y"]}`},
		{"\b\f\t\r", `"\b\f\t\r"`},
	} {
		got, err := dumps(c.in)
		if err != nil || got != c.want {
			t.Errorf("dumps(%#v) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}
