// Package termsafe makes text from peers safe to print on a terminal: a peer
// must not be able to move the reader's cursor, retitle the window, make a
// line read differently than it is (bidirectional overrides), or, where one
// message must be one line, break the line.
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line makes s safe to print inside one line: control characters other
// than tab (newlines, escape sequences), bidirectional controls, line
// separators and invalid UTF-8 are written as \n, \r, \x1b, \u202e… so that
// one message is exactly one line and a peer cannot drive the reader's
// terminal. A backslash is written as \\, so that what a peer typed and
// what was escaped read differently: a real newline prints as \n, the two
// characters \n typed by a peer as \\n.
func Line(s string) string { return escape(s, false) }

// Text is Line for text shown over several lines: it keeps newlines (a
// "\r\n" becomes "\n") and escapes everything else Line does.
func Text(s string) string { return escape(s, true) }

func escape(s string, keepNewlines bool) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || mustEscape(r) && !(keepNewlines && r == '\n') }) &&
		utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepNewlines && r == '\n':
			b.WriteByte('\n')
		case keepNewlines && r == '\r' && strings.HasPrefix(s[i+size:], "\n"):
			// the \n that follows ends the line
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case mustEscape(r) && r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case mustEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func mustEscape(r rune) bool {
	return r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
		r == '\u2028' || r == '\u2029')
}
