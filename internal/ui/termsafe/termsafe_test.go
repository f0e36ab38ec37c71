package termsafe

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcödé, 🦊":   "plain text, ünïcödé, 🦊",
		"tab\tstays":               "tab\tstays",
		"two\nlines\r\n":           `two\nlines\r\n`,
		"\x1b[31mred\x1b[0m":       `\x1b[31mred\x1b[0m`,
		"bell\x07 del\x7f nul\x00": `bell\x07 del\x7f nul\x00`,
		"c1 \u0085 \u009b":         `c1 \u0085 \u009b`,
		"bidi \u202eevil\u202c":    `bidi \u202eevil\u202c`,
		"sep \u2028 \u2029":        `sep \u2028 \u2029`,
		"bad \xff\xfe utf8":        `bad \xff\xfe utf8`,
		`back\slash \n`:            `back\\slash \\n`,
		"\ufffd is fine":           "\ufffd is fine",
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                    "plain",
		"two\nlines":               "two\nlines",
		"crlf\r\nlines\r\n":        "crlf\nlines\n",
		"lone\rcr":                 `lone\rcr`,
		"tab\tstays":               "tab\tstays",
		"\x1b[2J\x1b]0;pwned\x07":  `\x1b[2J\x1b]0;pwned\x07`,
		"bidi \u202eevil\u202c\n!": "bidi \\u202eevil\\u202c\n!",
		"bad \xff utf8\n":          "bad \\xff utf8\n",
		`C:\dir` + "\n":            "C:\\\\dir\n",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// A reader must be able to tell what was sent from what was escaped: a
// real newline and the two characters \n typed by a peer print
// differently, and so on for every escape.
func TestEscapingIsLossless(t *testing.T) {
	for _, pair := range [][2]string{
		{"a\nb", `a\nb`},
		{"\x1b[2J", `\x1b[2J`},
		{"\u202e", `\u202e`},
		{"\xff", `\xff`},
		{`\`, `\\`},
	} {
		if Line(pair[0]) == Line(pair[1]) {
			t.Errorf("Line(%q) and Line(%q) both print %q", pair[0], pair[1], Line(pair[0]))
		}
		if Text(pair[0]) == Text(pair[1]) {
			t.Errorf("Text(%q) and Text(%q) both print %q", pair[0], pair[1], Text(pair[0]))
		}
	}
}

// FuzzLine checks that Line's output is one line of printable text that
// reads back as exactly the input.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"plain", "a\nb", `a\nb`, "\x1b]0;x\x07", "\u202e", "\xff\xfe", `\\`, "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Line(s)
		if strings.ContainsFunc(got, mustEscape) || strings.Contains(got, "\n") || !utf8.ValidString(got) {
			t.Fatalf("Line(%q) = %q: not one line of printable UTF-8", s, got)
		}
		if back := unescape(t, got); back != s {
			t.Fatalf("Line(%q) = %q, which reads back as %q", s, got, back)
		}
	})
}

// unescape reads Line's output back, as a reader would.
func unescape(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			t.Fatalf("%q ends in a lone backslash", s)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'x', 'u':
			n := 2
			if s[i] == 'u' {
				n = 4
			}
			v, err := strconv.ParseUint(s[i+1:min(i+1+n, len(s))], 16, 32)
			if err != nil {
				t.Fatalf("%q: bad escape at %d: %v", s, i, err)
			}
			if s[i] == 'x' && v >= utf8.RuneSelf {
				b.WriteByte(byte(v)) // a byte of invalid UTF-8
			} else {
				b.WriteRune(rune(v))
			}
			i += n
		default:
			t.Fatalf("%q: unknown escape \\%c", s, s[i])
		}
	}
	return b.String()
}
