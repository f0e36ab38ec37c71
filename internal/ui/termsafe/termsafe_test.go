package termsafe

import "testing"

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
		`back\slash \n`:            `back\slash \n`,
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
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}
