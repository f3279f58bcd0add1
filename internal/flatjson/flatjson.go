// Package flatjson decodes the flat JSON documents a hook reads most: a
// string, an array of strings, an object of strings (hook-tool output,
// databag values, topologies). It is a fast path for encoding/json, not a
// replacement: each function reports ok=false for anything outside the
// common case it handles (null, other value types, \u escapes, invalid
// UTF-8, bad syntax), and the caller then decodes with encoding/json,
// which gives its usual result or error. Whenever ok is true, the result
// is what encoding/json would have produced.
package flatjson

import (
	"unicode/utf8"
	"unsafe"
)

// String decodes a document holding one JSON string.
func String(doc []byte) (string, bool) {
	i := skipSpace(doc, 0)
	s, i, ok := str(doc, i)
	if !ok || skipSpace(doc, i) != len(doc) {
		return "", false
	}
	return s, true
}

// Strings decodes a document holding one JSON array of strings.
func Strings(doc []byte) ([]string, bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '[' {
		return nil, false
	}
	out := []string{}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == ']' {
		return out, skipSpace(doc, i+1) == len(doc)
	}
	for {
		s, next, ok := str(doc, i)
		if !ok {
			return nil, false
		}
		out = append(out, s)
		var done bool
		if i, done, ok = afterItem(doc, next, ']'); !ok {
			return nil, false
		}
		if done {
			return out, true
		}
	}
}

// StringMap decodes a document holding one JSON object whose values are
// all strings. A key given twice keeps its last value, as in encoding/json.
func StringMap(doc []byte) (map[string]string, bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	out := map[string]string{}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return out, skipSpace(doc, i+1) == len(doc)
	}
	for {
		key, next, ok := str(doc, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(doc, next)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		value, next, ok := str(doc, skipSpace(doc, i+1))
		if !ok {
			return nil, false
		}
		out[key] = value
		var done bool
		if i, done, ok = afterItem(doc, next, '}'); !ok {
			return nil, false
		}
		if done {
			return out, true
		}
	}
}

// afterItem reads what follows an array element or object member ending
// at doc[i]: a comma (the index of the next item is returned) or the
// closing bracket, which must end the document (done).
func afterItem(doc []byte, i int, closing byte) (next int, done, ok bool) {
	i = skipSpace(doc, i)
	switch {
	case i >= len(doc):
		return i, false, false
	case doc[i] == ',':
		return skipSpace(doc, i+1), false, true
	case doc[i] == closing:
		return i, true, skipSpace(doc, i+1) == len(doc)
	}
	return i, false, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// str decodes the JSON string starting at doc[i] and returns it with the
// index just past its closing quote. It handles the one-character escapes
// and valid UTF-8; a \u escape, a control character or invalid UTF-8 is
// not ok.
func str(doc []byte, i int) (string, int, bool) {
	if i >= len(doc) || doc[i] != '"' {
		return "", i, false
	}
	i++
	start := i
	// The common case: no escape, copied in one piece.
	for i < len(doc) && doc[i] != '"' && doc[i] != '\\' && doc[i] >= 0x20 {
		i++
	}
	if i < len(doc) && doc[i] == '"' {
		if !utf8.Valid(doc[start:i]) {
			return "", i, false
		}
		return string(doc[start:i]), i + 1, true
	}
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, doc[start:i]...)
	for i < len(doc) {
		c := doc[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return "", i, false
			}
			// buf is never written again: the string can share it.
			return unsafe.String(unsafe.SliceData(buf), len(buf)), i + 1, true
		case c < 0x20:
			return "", i, false
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(doc) {
			return "", i, false
		}
		switch doc[i+1] {
		case '"', '\\', '/':
			buf = append(buf, doc[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		default: // \u (surrogates, replacement rules) and invalid escapes
			return "", i, false
		}
		i += 2
	}
	return "", i, false
}
