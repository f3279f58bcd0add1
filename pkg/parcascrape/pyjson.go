package parcascrape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// dumps encodes v as Python's json.dumps does with its default arguments:
// ", " and ": " separators, every non-ASCII character escaped as \uXXXX
// (ensure_ascii), no HTML escaping, no trailing newline. The Python library
// writes its databags this way, so a Go provider publishes the same bytes.
func dumps(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("cannot encode JSON: %w", err)
	}
	compact := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(compact)+len(compact)/8)
	inString := false
	for i := 0; i < len(compact); {
		c := compact[i]
		switch {
		case inString && c == '\\':
			// An escape sequence is copied whole: \" must not end the string.
			out = append(out, c, compact[i+1])
			i += 2
			continue
		case c == '"':
			inString = !inString
		case inString && c == 0x7f:
			// Python escapes DEL too: only ' ' to '~' stay as they are.
			out = append(out, `\u007f`...)
			i++
			continue
		case inString && c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(compact[i:])
			if r > 0xffff {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			i += size
			continue
		case !inString && (c == ',' || c == ':'):
			out = append(out, c, ' ')
			i++
			continue
		}
		out = append(out, c)
		i++
	}
	return string(out), nil
}
