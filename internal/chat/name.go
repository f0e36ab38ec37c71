package chat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/udpchat/udpchat/internal/wire"
)

// Limits a UI checks before it bothers the node (line mode refuses a longer
// line as it reads it, instead of buffering it whole).
const (
	MaxNameLen = wire.MaxNameLen // bytes of UTF-8 in a display name
	MaxTextLen = wire.MaxTextLen // bytes of UTF-8 in one message
)

// ValidateName says whether name can be a display name: 1 to MaxNameLen bytes
// of UTF-8, with no control characters (a name is printed on every line a
// peer says something) and no colon (plain mode splits name from text at the
// first colon, and scripts split our "NAME: TEXT" output the same way).
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name: give one with --name or /nick")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name %q is %d bytes long; the limit is %d", name, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("name %q contains a control character", name)
	case strings.ContainsRune(name, ':'):
		return fmt.Errorf("name %q contains a colon, which separates name from text in plain mode", name)
	}
	return nil
}

// SanitizeName turns s (a login name, say) into a valid display name by
// dropping what ValidateName refuses and cutting it to MaxNameLen bytes at a
// character boundary. It returns "" if nothing usable is left.
func SanitizeName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == ':' {
			return -1
		}
		return r
	}, s)
	for len(s) > MaxNameLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// ValidateText says whether text can be sent as one message: valid UTF-8 of
// at most MaxTextLen bytes. Longer text is refused, never cut or split, so
// that what arrives is what was typed.
func ValidateText(text string) error {
	if len(text) > MaxTextLen {
		return fmt.Errorf("message of %d bytes is too long: the limit is %d bytes (256 KiB); split it", len(text), MaxTextLen)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("message is not valid UTF-8 text")
	}
	return nil
}
