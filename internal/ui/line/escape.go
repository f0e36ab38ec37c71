package line

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// escape makes s safe to print inside one line on a terminal: control
// characters other than tab (newlines, escape sequences that would move the
// cursor or retitle the window), bidirectional overrides that would make a
// line read differently than it is, line separators and invalid UTF-8 are
// written as \n, \r, \x1b, \u202e… so that one message is exactly one line
// and a peer cannot drive the reader's terminal. Backslashes are left
// alone, so ordinary text stays as typed.
func escape(s string) string {
	if !strings.ContainsFunc(s, mustEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
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
