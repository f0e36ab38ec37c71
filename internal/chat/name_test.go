package chat

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"alice":                           true,
		"Zoë 🦊":                           true,
		strings.Repeat("é", MaxNameLen/2): true,
		"":                                false,
		strings.Repeat("x", MaxNameLen+1): false,
		"a\nb":                            false,
		"a\x1b[31m":                       false,
		"a:b":                             false,
		"\xff":                            false,
	} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                               "alice",
		"dom:ain\\user\n":                     "domain\\user",
		"\xff\x01":                            "",
		strings.Repeat("é", MaxNameLen):       strings.Repeat("é", MaxNameLen/2),
		"x" + strings.Repeat("é", MaxNameLen): "x" + strings.Repeat("é", MaxNameLen/2-1),
	} {
		got := SanitizeName(in)
		if got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
		if got != "" {
			if err := ValidateName(got); err != nil {
				t.Errorf("SanitizeName(%q) = %q, which is invalid: %v", in, got, err)
			}
		}
	}
}
